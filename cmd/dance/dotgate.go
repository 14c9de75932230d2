package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dnsbound/dance/dotgate"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/internal/httplimit"
	"github.com/dnsbound/dance/verify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func dotGateCommand() *cli.Command {
	var (
		rf                                  resolverFlags
		listen, cert, key, upstream, policy string
		maxConns, maxQueries, maxQuerySize  int
		handshakeTO, idleTO, upstreamTO     time.Duration
		metricsAddr, logLevel               string
	)
	return &cli.Command{
		Name:    "dot-gate",
		Config:  true,
		Summary: "DNS-over-TLS front that admits clients by their DNS names and forwards to a resolver",
		Usage:   "dance dot-gate --listen ADDR --cert FILE --key FILE --upstream ADDR --policy FILE [flags]",
		Description: `Serves DNS over TLS (RFC 7858) on --listen with the gate's own --cert and --key,
and requires a client certificate. The client is authenticated by its DNS name:
the name must be on the --policy, its TLSA records are looked up with DNSSEC
validation and must match. Refused clients get a generic TLS alert; the reason
is logged, one line per refused client.

Queries of an authenticated client go to the --upstream resolver (host:port,
over TCP) under its line of the policy file:

  # IDENTITY                        ZONES (at or below; "." is all)   RATE
  resolver1._device.example.com     example.com corp.internal         rate=100
  alice@example.com                 .

IDENTITY is a device, service or host name, or uid@domain for a user. rate=N
is queries a second for the identity, all its connections together (default
` + fmt.Sprint(dotgate.DefaultRate) + `, 0: no limit). Names outside the zones, and queries over the rate,
get REFUSED at once (not dropped: the client is authenticated, so dropping
protects no one and would hold its connection until it times out). Zone
transfers, classes other than IN: REFUSED; opcodes other than QUERY: NOTIMP.

Limits: --max-conns connections; --handshake-timeout for the handshake and its
DNS lookups; each query must arrive whole within --idle-timeout (RFC 7766
§6.2.3); --max-queries per connection; a length prefix over --max-query-size,
or bytes that are not DNS, close the connection.

Metrics (dance_dotgate_*, dance_verify_*) on --metrics. SIGINT and SIGTERM stop
the gate. Prints the bound address once ready.

` + resolverFlagsHelp,
		Examples: []string{
			"dance dot-gate --listen 127.0.0.1:853 --cert gate.pem --key gate.key --upstream 127.0.0.1:53 --policy clients.policy",
			"kdig @gate.example.com +tls +tls-certfile=dev1/cert.pem +tls-keyfile=dev1/key.pem www.example.com",
		},
		ExitCodes: []string{"0  stopped by a signal", "1  runtime failure (cannot listen)", "2  bad usage or bad input (flags, certificate, policy)"},
		Flags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.StringVar(&listen, "listen", "", "`ADDR`ess to accept clients on, host:port (port 0 picks one; required)")
			fs.StringVar(&cert, "cert", "", "the gate's certificate chain `FILE` (PEM; required)")
			fs.StringVar(&key, "key", "", "the gate's private key `FILE` (PEM; required)")
			fs.StringVar(&upstream, "upstream", "", "the resolver to forward queries to, host:port over TCP (`ADDR`; required)")
			fs.StringVar(&policy, "policy", "", "policy `FILE`: IDENTITY ZONE... [rate=N] a line (required)")
			fs.IntVar(&maxConns, "max-conns", dotgate.DefaultMaxConns, "most client connections open at once (`N`)")
			fs.IntVar(&maxQueries, "max-queries", dotgate.DefaultMaxQueries, "most queries on one connection (`N`); it is closed after")
			fs.IntVar(&maxQuerySize, "max-query-size", dotgate.DefaultMaxQuerySize, "largest query in `OCTETS`")
			fs.DurationVar(&handshakeTO, "handshake-timeout", dotgate.DefaultHandshakeTimeout, "`DURATION` allowed for a TLS handshake, verification included")
			fs.DurationVar(&idleTO, "idle-timeout", dotgate.DefaultIdleTimeout, "`DURATION` within which each query must arrive whole")
			fs.DurationVar(&upstreamTO, "upstream-timeout", dotgate.DefaultUpstreamTimeout, "`DURATION` allowed for the upstream's answer")
			fs.StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics")
			fs.StringVar(&logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn, error")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			switch {
			case listen == "":
				return cli.Usagef("--listen is required")
			case upstream == "":
				return cli.Usagef("--upstream is required")
			case policy == "":
				return cli.WithHint(cli.Usagef("--policy is required"), "a file of IDENTITY ZONE... [rate=N] lines")
			case cert == "" || key == "":
				return cli.Usagef("--cert and --key are required")
			case maxConns < 1 || maxQueries < 1 || maxQuerySize < 12 || maxQuerySize > 65535:
				return cli.Usagef("--max-conns and --max-queries must be positive, --max-query-size from 12 to 65535")
			case handshakeTO <= 0 || idleTO <= 0 || upstreamTO <= 0:
				return cli.Usagef("timeouts must be positive")
			}
			if _, _, err := net.SplitHostPort(upstream); err != nil {
				return cli.Usagef("--upstream %q: want host:port", upstream)
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return cli.Usagef("--log-level: %v", err)
			}
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
			data, err := cli.ReadInput(env, policy)
			if err != nil {
				return cli.Input(err)
			}
			pol, err := dotgate.ParsePolicy(bytes.NewReader(data))
			if err != nil {
				return cli.Input(fmt.Errorf("%s: %w", policy, err))
			}
			al, err := pol.AllowList()
			if err != nil {
				return cli.Input(fmt.Errorf("%s: %w", policy, err))
			}
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return cli.Input(fmt.Errorf("--cert/--key: %w", err))
			}
			r, err := rf.newResolver(env)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			core, err := verify.New(verify.Config{Allow: al, Resolver: r, Logger: log, Registerer: reg})
			if err != nil {
				return cli.Input(err)
			}
			srv, err := dotgate.New(dotgate.Config{
				TLS: &tls.Config{Certificates: []tls.Certificate{pair}}, Verifier: core, Policy: pol, Upstream: upstream,
				MaxConns: maxConns, HandshakeTimeout: handshakeTO, IdleTimeout: idleTO, MaxQueries: maxQueries,
				MaxQuerySize: maxQuerySize, UpstreamTimeout: upstreamTO, Logger: log, Registerer: reg,
			})
			if err != nil {
				return cli.Input(err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return cli.Fail(err)
			}
			if metricsAddr != "" {
				mln, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					ln.Close()
					return cli.Fail(fmt.Errorf("--metrics: %w", err))
				}
				mux := http.NewServeMux()
				mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
				metricsSrv := httpLimits.Server(mux)
				metricsSrv.ErrorLog = httplimit.ErrorLog(log, "metrics")
				go metricsSrv.Serve(httpLimits.Listener(mln, log.With("component", "metrics")))
				defer metricsSrv.Close()
				fmt.Fprintf(env.Stdout, "metrics on http://%s/metrics\n", mln.Addr())
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			fmt.Fprintf(env.Stdout, "dot-gate listening on %s, forwarding to %s, %d identities\n", ln.Addr(), upstream, len(pol.Identities()))
			select {
			case err := <-served:
				srv.Close()
				return cli.Fail(err)
			case <-env.Context().Done():
				srv.Close()
				if err := <-served; err != nil && !errors.Is(err, dotgate.ErrServerClosed) {
					log.Error("dot-gate: serve", "err", err)
				}
				log.Info("dot-gate: stopped")
				return nil
			}
		},
	}
}
