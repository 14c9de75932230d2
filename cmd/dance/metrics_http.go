package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/internal/httplimit"
)

// serveMetrics is the --metrics listener of the servers: it listens on
// addr and serves reg on /metrics, and health on GET /healthz unless
// health is nil, under httpLimits, until the returned server is closed.
// It says where on stdout. An error is the listen's, prefixed "--metrics".
func serveMetrics(env *cli.Env, addr string, reg prometheus.Gatherer, health http.Handler, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if health != nil {
		mux.Handle("GET /healthz", health)
	}
	srv := httpLimits.Server(mux)
	srv.ErrorLog = httplimit.ErrorLog(log, "metrics")
	go srv.Serve(httpLimits.Listener(ln, log.With("component", "metrics")))
	if health != nil {
		fmt.Fprintf(env.Stdout, "metrics on http://%s/metrics, health on http://%s/healthz\n", ln.Addr(), ln.Addr())
	} else {
		fmt.Fprintf(env.Stdout, "metrics on http://%s/metrics\n", ln.Addr())
	}
	return srv, nil
}
