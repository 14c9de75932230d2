package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dnsbound/dance/dotgate"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/internal/zonehealth"
	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
	"github.com/prometheus/client_golang/prometheus"
)

func dotGateCommand() *cli.Command {
	var (
		rf                                  resolverFlags
		listen, cert, key, upstream, policy string
		maxConns, maxQueries, maxQuerySize  int
		maxInFlight, upstreamConns          int
		upstreamInFlight                    int
		upstreamTLSName, upstreamCA         string
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

Queries of an authenticated client go to the --upstream resolver (host:port;
over TCP, or TLS with --upstream-tls-name) under its line of the policy file:

  # IDENTITY                        ZONES (at or below; "." is all)   RATE
  resolver1._device.example.com     example.com corp.internal         rate=100
  alice@example.com                 .

IDENTITY is a device, service or host name, or uid@domain for a user. rate=N
is queries a second for the identity, all its connections together (default
` + fmt.Sprint(dotgate.DefaultRate) + `, 0: no limit). Names outside the zones, and queries over the rate,
get REFUSED at once (not dropped: the client is authenticated, so dropping
protects no one and would hold its connection until it times out). Zone
transfers, classes other than IN: REFUSED; opcodes other than QUERY: NOTIMP.

A client may send queries without waiting for answers (RFC 7766 §6.2.1.1):
they are answered as the upstream answers, in any order, up to --max-in-flight
at once per connection. The gate keeps --upstream-conns persistent connections
to the upstream, each carrying many queries under IDs of its own, and sends a
query again on another connection when its connection breaks; at most
--upstream-max-in-flight queries wait for the upstream at once, and one without
an answer within --upstream-timeout gets SERVFAIL.

Limits: --max-conns connections; --handshake-timeout for the handshake and its
DNS lookups; a connection with no query in flight and none arriving for
--idle-timeout is closed (RFC 7766 §6.2.3), as is one that takes longer to send
a query begun or to read an answer; clients that send edns-tcp-keepalive are
told the timeout (RFC 7828); --max-queries per connection; a length prefix over
--max-query-size, or bytes that are not DNS, close the connection.

Before it listens, the gate checks that the zones of the policy's identities
validate as Secure with the resolver flags below: settings that cannot validate
them are refused with a hint on what to change; a resolver that does not answer
is not: the gate starts, logs the outage, checks again in the background, and
GET /healthz on the --metrics listener answers 503 with the reason until the
zones validate (200 "ok" then).

Logs (stderr): each refused client at info with its address and the reason; a
name refused again within a minute is not logged again (the next line counts
those left out), names off the policy at most 100 a minute in all.

SIGHUP reloads --policy (identities, zones, rates), --cert/--key and --anchors,
checks the zones again, and logs what it reloaded; a reload with any bad part
keeps the whole old configuration and logs why. The new policy applies from
the next query on open connections too; verdicts cached before a reload stand
until they expire (at most the records' TTL). SIGHUP does not read --config
again. Metrics (dance_dotgate_*, dance_verify_*) on --metrics. SIGINT and
SIGTERM stop the gate. Prints the bound address once ready.

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
			fs.StringVar(&upstream, "upstream", "", "the resolver to forward queries to, host:port over TCP, or TLS with --upstream-tls-name (`ADDR`; required)")
			fs.StringVar(&policy, "policy", "", "policy `FILE`: IDENTITY ZONE... [rate=N] a line (required); reloaded on SIGHUP, as are --cert, --key and --anchors")
			fs.IntVar(&maxConns, "max-conns", dotgate.DefaultMaxConns, "most client connections open at once (`N`)")
			fs.IntVar(&maxQueries, "max-queries", dotgate.DefaultMaxQueries, "most queries on one connection (`N`); it is closed after")
			fs.IntVar(&maxQuerySize, "max-query-size", dotgate.DefaultMaxQuerySize, "largest query in `OCTETS`")
			fs.DurationVar(&handshakeTO, "handshake-timeout", dotgate.DefaultHandshakeTimeout, "`DURATION` allowed for a TLS handshake, verification included")
			fs.DurationVar(&idleTO, "idle-timeout", dotgate.DefaultIdleTimeout, "close a connection with no query in flight and none arriving for this `DURATION` (RFC 7766 §6.2.3); also the time a client has to send a query begun or to take an answer")
			fs.DurationVar(&upstreamTO, "upstream-timeout", dotgate.DefaultUpstreamTimeout, "`DURATION` allowed for the upstream's answer")
			fs.IntVar(&maxInFlight, "max-in-flight", dotgate.DefaultMaxInFlight, "most queries of one connection waiting for their answers (`N`); past it the gate stops reading the connection")
			fs.IntVar(&upstreamConns, "upstream-conns", dotgate.DefaultUpstreamConns, "persistent connections to the upstream (`N`), each carrying many queries")
			fs.IntVar(&upstreamInFlight, "upstream-max-in-flight", dotgate.DefaultUpstreamMaxInFlight, "most queries waiting for the upstream at once, all clients together (`N`)")
			fs.StringVar(&upstreamTLSName, "upstream-tls-name", "", "reach the upstream over TLS (RFC 7858), verifying its certificate for `NAME`")
			fs.StringVar(&upstreamCA, "upstream-ca", "", "CA certificates `FILE` (PEM) for --upstream-tls-name (default: the system's roots)")
			fs.StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics and the health check on /healthz")
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
			case maxInFlight < 1 || upstreamConns < 1 || upstreamInFlight < 1 || upstreamInFlight > dotgate.MaxUpstreamInFlight:
				return cli.Usagef("--max-in-flight and --upstream-conns must be positive, --upstream-max-in-flight from 1 to %d", dotgate.MaxUpstreamInFlight)
			case handshakeTO <= 0 || idleTO <= 0 || upstreamTO <= 0:
				return cli.Usagef("timeouts must be positive")
			case upstreamCA != "" && upstreamTLSName == "":
				return cli.Usagef("--upstream-ca needs --upstream-tls-name")
			}
			if _, _, err := net.SplitHostPort(upstream); err != nil {
				return cli.Usagef("--upstream %q: want host:port", upstream)
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return cli.Usagef("--log-level: %v", err)
			}
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
			loadPolicy := func() (*dotgate.Policy, *verify.AllowList, error) {
				data, err := cli.ReadInput(env, policy)
				if err != nil {
					return nil, nil, err
				}
				pol, err := dotgate.ParsePolicy(bytes.NewReader(data))
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", policy, err)
				}
				al, err := pol.AllowList()
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", policy, err)
				}
				return pol, al, nil
			}
			pol, al, err := loadPolicy()
			if err != nil {
				return cli.Input(err)
			}
			srvCert, err := newServerCert(cert, key)
			if err != nil {
				return cli.Input(err)
			}
			var upTLS *tls.Config
			if upstreamTLSName != "" {
				upTLS = &tls.Config{ServerName: upstreamTLSName, MinVersion: tls.VersionTLS12}
				if upstreamCA != "" {
					data, err := cli.ReadInput(env, upstreamCA)
					if err != nil {
						return cli.Input(fmt.Errorf("--upstream-ca: %w", err))
					}
					pool := x509.NewCertPool()
					if !pool.AppendCertsFromPEM(data) {
						return cli.Input(fmt.Errorf("--upstream-ca %s: no PEM certificate", upstreamCA))
					}
					upTLS.RootCAs = pool
				}
			}
			r, err := rf.newResolver(env)
			if err != nil {
				return err
			}
			res := &swapResolver{}
			res.swap(r)
			reg := prometheus.NewRegistry()
			core, err := verify.New(verify.Config{Allow: al, Resolver: res, Logger: log, Registerer: reg})
			if err != nil {
				return cli.Input(err)
			}
			srv, err := dotgate.New(dotgate.Config{
				TLS:      &tls.Config{GetCertificate: srvCert.getCertificate},
				Verifier: core, Policy: pol, Upstream: upstream, UpstreamTLS: upTLS,
				MaxConns: maxConns, HandshakeTimeout: handshakeTO, IdleTimeout: idleTO, MaxQueries: maxQueries,
				MaxQuerySize: maxQuerySize, MaxInFlight: maxInFlight, UpstreamTimeout: upstreamTO,
				UpstreamConns: upstreamConns, UpstreamMaxInFlight: upstreamInFlight, Logger: log, Registerer: reg,
			})
			if err != nil {
				return cli.Input(err)
			}
			defer srv.Close()
			// The rest of the configuration is sound: now the DNS. Zones
			// the settings cannot validate are an error; a resolver that
			// does not answer is for the background checks and /healthz.
			health := &zonehealth.Health{Retry: dotGateHealthRetry, MaxRetry: dotGateHealthMaxRetry, Logger: log,
				Subject: "dot-gate", Whose: "clients"}
			defer health.Stop()
			unreachable, err := checkDotGateZones(env.Context(), res.cur.Load(), al)
			if err != nil {
				return cli.WithHint(cli.Input(err), zoneChecksHint(err.(*allowZonesError).Checks))
			}
			watch := func(a *verify.AllowList, unreachable []resolver.ZoneCheck) {
				health.Watch(func(ctx context.Context) ([]resolver.ZoneCheck, error) {
					return checkDotGateZones(ctx, res, a)
				}, unreachable, nil)
			}
			watch(al, unreachable)
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return cli.Fail(err)
			}
			if metricsAddr != "" {
				metricsSrv, err := serveMetrics(env, metricsAddr, reg, health, log)
				if err != nil {
					ln.Close()
					return cli.Fail(err)
				}
				defer metricsSrv.Close()
			}
			// reload is SIGHUP: the certificate, the policy and the trust
			// anchors, all or nothing.
			reload := func() {
				pair, err := srvCert.load()
				if err != nil {
					log.Error("dot-gate: certificate not reloaded; the old configuration stays in force", "err", err)
					return
				}
				pol, al, err := loadPolicy()
				if err != nil {
					log.Error("dot-gate: policy not reloaded; the old configuration stays in force", "err", err)
					return
				}
				r, err := rf.newResolver(env)
				if err != nil {
					log.Error("dot-gate: trust anchors not reloaded; the old configuration stays in force", "err", err)
					return
				}
				unreachable, err := checkDotGateZones(env.Context(), r, al)
				if err != nil {
					log.Error("dot-gate: configuration not reloaded: the resolver cannot validate the policy's names; the old configuration stays in force",
						"err", err, "hint", zoneChecksHint(err.(*allowZonesError).Checks))
					return
				}
				res.swap(r)
				// The policy first: a client the new allow-list admits
				// finds its rule.
				srv.SetPolicy(pol)
				core.SetAllowList(al)
				watch(al, unreachable)
				log.Info("dot-gate: policy reloaded", "file", policy, "identities", len(pol.Identities()), "zones", len(al.ZoneNames()))
				log.Info("dot-gate: trust anchors reloaded", "file", cmp.Or(rf.anchors, "(root keys only)"), "trust_ad", rf.trustAD)
				srvCert.set(pair, log, "dot-gate")
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			fmt.Fprintf(env.Stdout, "dot-gate listening on %s, forwarding to %s, %d identities\n", ln.Addr(), upstream, len(pol.Identities()))
			for {
				select {
				case err := <-served:
					return cli.Fail(err)
				case <-hup:
					reload()
				case <-env.Context().Done():
					srv.Close()
					if err := <-served; err != nil && !errors.Is(err, dotgate.ErrServerClosed) {
						log.Error("dot-gate: serve", "err", err)
					}
					log.Info("dot-gate: stopped")
					return nil
				}
			}
		},
	}
}

// dotGateCheckTimeout bounds the check of the policy's zones at start and
// on SIGHUP; zones not checked by then count as unreachable.
const dotGateCheckTimeout = 30 * time.Second

// dotGateHealthRetry is the first wait before zones that did not validate
// are checked again, doubling up to dotGateHealthMaxRetry (tests shorten
// them).
var dotGateHealthRetry, dotGateHealthMaxRetry = proxy.DefaultHealthRetry, proxy.MaxHealthRetry

// allowZonesError reports the allow-list's zones that the resolver
// settings cannot validate: every client in them would be refused. Of names
// what the allow-list is (in the message).
type allowZonesError struct {
	Of     string
	Checks []resolver.ZoneCheck
}

func (e *allowZonesError) Error() string {
	return "the resolver cannot validate the names of " + e.Of + ": " + zonehealth.Reasons(e.Checks)
}

// BadZones returns Checks.
func (e *allowZonesError) BadZones() []resolver.ZoneCheck { return e.Checks }

// checkAllowZones checks, within dotGateCheckTimeout, that c validates the
// zones of the allow-list a (of names it in the error): an
// *allowZonesError for those it cannot, and those it could not check for
// now (unreachable). The dot-gate and the SMTP relay share it.
func checkAllowZones(ctx context.Context, c proxy.ZoneChecker, a *verify.AllowList, of string) ([]resolver.ZoneCheck, error) {
	ctx, cancel := context.WithTimeout(ctx, dotGateCheckTimeout)
	defer cancel()
	unreachable, bad := zonehealth.Sort(c.CheckZones(ctx, a.ZoneNames()))
	if len(bad) > 0 {
		return unreachable, &allowZonesError{Of: of, Checks: bad}
	}
	return unreachable, nil
}

// checkDotGateZones is checkAllowZones for the policy's allow-list.
func checkDotGateZones(ctx context.Context, c proxy.ZoneChecker, a *verify.AllowList) ([]resolver.ZoneCheck, error) {
	return checkAllowZones(ctx, c, a, "the policy")
}
