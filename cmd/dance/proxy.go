package main

import (
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
	"github.com/prometheus/client_golang/prometheus"
)

// proxyShutdownTimeout is how long a stopping proxy lets established
// connections finish by default.
const proxyShutdownTimeout = 30 * time.Second

func proxyCommand() *cli.Command {
	var (
		rf                                    resolverFlags
		listen, backend, mode, cert, key      string
		allow                                 cli.StringList
		allowFile, nameHeader, kindHeader     string
		tlv                                   string
		sslTLV                                bool
		handshakeTO, headerTO, idleTO, dialTO time.Duration
		drainTO, backendTO                    time.Duration
		bodyTO, sendTO                        time.Duration
		maxBody                               int64
		maxConns                              int
		metricsAddr, logLevel                 string
		accessLog                             bool
		backendCA                             string
		engine                                string
		requireClientID                       bool
		codepoint                             codepointFlag
	)
	return &cli.Command{
		Name:    "proxy",
		Config:  true,
		Summary: "TLS-terminating proxy that authenticates clients by their DNS names",
		Usage:   "dance proxy --listen ADDR --backend URL|ADDR --cert FILE --key FILE --allow PATTERN ... [--mode http|tcp|passthrough] [--engine crypto/tls|dance [--require-clientid] [--clientid-codepoint N]] [flags]",
		Description: `Terminates TLS on --listen with the proxy's own --cert and --key and
requires a client certificate. In mode http (the default) and tcp the client is
authenticated by its DNS name: the certificate's name must be on the allow-list
(--allow, --allow-file), its TLSA records are looked up with DNSSEC validation
and must match. Refused clients get a generic TLS alert; the reason is logged.

  http         forwards HTTP requests to the --backend URL with the identity in
               Dance-Client-Name (the DNS name, or uid@domain for a user) and
               Dance-Client-Kind (device, service, user, host), and the
               certificate in Client-Cert and Client-Cert-Chain (RFC 9440).
  tcp          forwards the bytes to the --backend host:port after a PROXY
               protocol v2 header with the client's addresses and the identity
               in a TLV of type --tlv (0xE0 by default).
  passthrough  accepts any certificate whose private key the client proves it
               holds, and forwards it in Client-Cert: the application
               authenticates (package httpauth). No allow-list, no lookup.

Incoming copies of all these header fields are removed from client requests.

--engine dance terminates TLS with dance's own TLS 1.3 engine instead of Go's
crypto/tls (modes http and tcp; HTTP/1.1 only). It asks clients for the
dane_clientid extension (draft-ietf-dance-tls-clientid-07, extension type
--clientid-codepoint, 0xFFDA unless IANA assigns one) and accepts RFC 7250 raw
public keys. A client that claims its name there is looked up under that name:
a certificate must carry it as a dNSName unless the record is DANE-EE (3); a
raw public key (a device made with 'dance id new --rpk') is authenticated only
by a DANE-EE SPKI (3 1 x) record. Clients that claim no name are served as with
crypto/tls, by the name in their certificate, unless --require-clientid.

Before it listens, the proxy checks that the zones of the allow-list validate
as Secure with the resolver flags below: settings that cannot validate them
(no anchor leads to them, the resolver strips signatures or sets no AD bit
under --trust-ad, the zone is unsigned or bogus) are refused with a hint on
what to change. A resolver that does not answer is not: the proxy starts, logs
the outage as an error, checks again in the background, and GET /healthz on
the --metrics listener answers 503 with the reason until the zones validate
(200 "ok" then).

Logs (stderr): each refused client once at info, with its address and the
reason; refusals served again from the verdict cache, and of names off the
allow-list, at most once a minute per name (the next line counts those left
out), names off the list at most 100 a minute in all; a broken TLS exchange at info;
--access-log adds a line per accepted client. Text the client chose is cut to
a bounded length.

SIGHUP reloads --cert/--key, --allow-file (with the --allow patterns) and
--anchors, checks the zones again, and logs what it reloaded; a reload with any
bad part keeps the whole old configuration and logs why. Verdicts cached
before a reload stand until they expire (at most the records' TTL). SIGHUP
does not read --config again: keep the allow-list in --allow-file to change it
without a restart; other settings take one. SIGINT and
SIGTERM stop accepting and let connections finish for --drain-timeout. Prints
the bound address once ready.

The --metrics server ` + httpLimitsHelp + "\n\n" + resolverFlagsHelp,
		Examples: []string{
			"dance proxy --listen :8443 --backend http://127.0.0.1:8080 --cert srv.pem --key srv.key --allow '*._device.example.com'",
			"dance proxy --mode tcp --listen :636 --backend 127.0.0.1:389 --cert srv.pem --key srv.key --allow-file allowed.txt --tlv 0xE1",
			"dance proxy --mode passthrough --listen :8443 --backend http://10.0.0.7:8080 --cert srv.pem --key srv.key",
			"curl --cert dev1/cert.pem --key dev1/key.pem https://proxy.example.com:8443/",
			"dance proxy --engine dance --listen :8443 --backend http://127.0.0.1:8080 --cert srv.pem --key srv.key --allow '*._device.example.com'",
		},
		ExitCodes: []string{"0  stopped by a signal", "1  runtime failure (cannot listen)", "2  bad usage or bad input (flags, certificate, allow-list)"},
		Flags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.StringVar(&listen, "listen", "", "`ADDR`ess to accept clients on, host:port (port 0 picks one; required)")
			fs.StringVar(&backend, "backend", "", "where to forward: http(s) `URL` (http, passthrough) or host:port (tcp) (required)")
			fs.StringVar(&mode, "mode", "http", "`MODE`: http, tcp or passthrough")
			fs.StringVar(&cert, "cert", "", "the proxy's certificate chain `FILE` (PEM; required)")
			fs.StringVar(&key, "key", "", "the proxy's private key `FILE` (PEM; required)")
			fs.Var(&allow, "allow", "allowed name or subtree `PATTERN` (\"*._device.example.com\"); repeatable")
			fs.StringVar(&allowFile, "allow-file", "", "`FILE` of allow-list patterns, one a line (\"#\" comments); reloaded on SIGHUP, as are --cert, --key and --anchors")
			fs.StringVar(&nameHeader, "name-header", proxy.DefaultNameHeader, "header `FIELD` carrying the authenticated name (http mode)")
			fs.StringVar(&kindHeader, "kind-header", proxy.DefaultKindHeader, "header `FIELD` carrying the kind of identity (http mode)")
			fs.StringVar(&tlv, "tlv", "0xE0", "PROXY v2 TLV `TYPE` carrying the name (tcp mode), 0xE0 to 0xEF")
			fs.BoolVar(&sslTLV, "ssl-tlv", false, "add a PP2_TYPE_SSL TLV (TLS version, cipher) to the PROXY v2 header (tcp mode)")
			fs.DurationVar(&handshakeTO, "handshake-timeout", proxy.DefaultHandshakeTimeout, "`DURATION` allowed for a TLS handshake, verification included")
			fs.DurationVar(&headerTO, "header-timeout", proxy.DefaultHeaderTimeout, "`DURATION` allowed for reading a request's header")
			fs.DurationVar(&idleTO, "idle-timeout", proxy.DefaultIdleTimeout, "`DURATION` after which a connection without traffic is closed")
			fs.DurationVar(&dialTO, "dial-timeout", proxy.DefaultDialTimeout, "`DURATION` allowed for connecting to the backend")
			fs.DurationVar(&backendTO, "backend-timeout", proxy.DefaultBackendTimeout, "`DURATION` allowed for the backend's response header (http, passthrough)")
			fs.DurationVar(&drainTO, "drain-timeout", proxyShutdownTimeout, "`DURATION` connections may take to finish after SIGINT or SIGTERM")
			fs.IntVar(&maxConns, "max-conns", proxy.DefaultMaxConns, "most client connections open at once (`N`)")
			fs.DurationVar(&bodyTO, "body-timeout", proxy.DefaultBodyTimeout, "longest wait for each part of a request body, `DURATION` (http, passthrough)")
			fs.DurationVar(&sendTO, "send-timeout", proxy.DefaultSendTimeout, "longest wait for the client to take each part of a response, `DURATION` (http, passthrough)")
			fs.Int64Var(&maxBody, "max-body-size", 0, "largest request body in `OCTETS` (http, passthrough; 0: no limit, bodies stream to the backend)")
			fs.StringVar(&backendCA, "backend-ca", "", "CA certificates `FILE` (PEM) for an https --backend (default: the system's roots)")
			fs.StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics and the health check on /healthz")
			fs.StringVar(&logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn, error")
			fs.BoolVar(&accessLog, "access-log", false, "log each accepted client at info: address, TLS version, identity")
			fs.StringVar(&engine, "engine", "crypto/tls", "TLS `ENGINE`: crypto/tls, or dance (TLS 1.3 with dane_clientid and raw public keys)")
			fs.BoolVar(&requireClientID, "require-clientid", false, "with --engine dance, refuse clients that claim no name in dane_clientid")
			registerClientIDFlag(fs, &codepoint)
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			m, err := proxy.ParseMode(mode)
			if err != nil {
				return cli.Usagef("--mode: %v", strings.TrimPrefix(err.Error(), "proxy: "))
			}
			switch {
			case listen == "":
				return cli.Usagef("--listen is required")
			case backend == "":
				return cli.Usagef("--backend is required")
			case cert == "" || key == "":
				return cli.Usagef("--cert and --key are required")
			}
			eng, err := proxy.ParseEngine(engine)
			if err != nil {
				return cli.Usagef("--engine: %v", strings.TrimPrefix(err.Error(), "proxy: "))
			}
			if eng != proxy.EngineDance && (requireClientID || codepoint.v != 0) {
				return cli.Usagef("--require-clientid and --clientid-codepoint need --engine dance")
			}
			if eng == proxy.EngineDance && m == proxy.ModePassthrough {
				return cli.Usagef("--engine dance serves modes http and tcp, not passthrough")
			}
			tlvType, err := strconv.ParseUint(tlv, 0, 8)
			if err != nil || tlvType < 0xE0 || tlvType > 0xEF {
				return cli.Usagef("--tlv %q: want a type from 0xE0 to 0xEF", tlv)
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return cli.Usagef("--log-level: %v", err)
			}
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
			srvCert, err := newServerCert(cert, key)
			if err != nil {
				return cli.Input(err)
			}
			var backendTLS *tls.Config
			if backendCA != "" {
				data, err := cli.ReadInput(env, backendCA)
				if err != nil {
					return cli.Input(fmt.Errorf("--backend-ca: %w", err))
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(data) {
					return cli.Input(fmt.Errorf("--backend-ca %s: no PEM certificate", backendCA))
				}
				backendTLS = &tls.Config{RootCAs: pool}
			}
			reg := prometheus.NewRegistry()
			serverTLS := &tls.Config{GetCertificate: srvCert.getCertificate}
			cfg := proxy.Config{
				Mode: m, Backend: backend, BackendTLS: backendTLS, TLS: serverTLS,
				NameHeader: nameHeader, KindHeader: kindHeader, TLVType: byte(tlvType), SSLTLV: sslTLV,
				HandshakeTimeout: handshakeTO, HeaderTimeout: headerTO, IdleTimeout: idleTO, DialTimeout: dialTO,
				BackendTimeout: backendTO, BodyTimeout: bodyTO, SendTimeout: sendTO, MaxBodyBytes: maxBody,
				MaxConns: maxConns, Logger: log, Registerer: reg, AccessLog: accessLog,
				Engine: eng, RequireClientID: requireClientID, ClientIDCodepoint: codepoint.v,
			}
			var core *verify.Core
			res := &swapResolver{}
			health := &proxy.Health{Retry: proxyHealthRetry, MaxRetry: proxyHealthMaxRetry, Logger: log}
			defer health.Stop()
			loadAllow := func() (*verify.AllowList, error) {
				patterns, err := allowPatterns(env, allow, allowFile)
				if err != nil {
					return nil, err
				}
				a, err := verify.ParseAllowList(patterns)
				if err == nil && a.Len() == 0 {
					err = errors.New("the allow-list is empty: every client would be refused")
				}
				return a, err
			}
			// checkZones checks that the resolver validates the zones of
			// the allow-list: a configuration that cannot is an error,
			// an unreachable resolver is for the background checks.
			checkZones := func(r *resolver.Resolver, a *verify.AllowList) ([]resolver.ZoneCheck, error) {
				ctx, cancel := context.WithTimeout(env.Context(), proxyCheckTimeout)
				defer cancel()
				return proxy.CheckConfig(ctx, r, a.ZoneNames())
			}
			if m == proxy.ModePassthrough {
				if len(allow) > 0 || allowFile != "" {
					return cli.WithHint(cli.Usagef("--allow and --allow-file mean nothing in passthrough mode"),
						"the application checks the allow-list (package httpauth)")
				}
			} else {
				if len(allow) == 0 && allowFile == "" {
					return cli.WithHint(cli.Usagef("the allow-list is empty: every client would be refused"),
						"give --allow PATTERN or --allow-file FILE")
				}
				a, err := loadAllow()
				if err != nil {
					return cli.Input(err)
				}
				r, err := rf.newResolver(env)
				if err != nil {
					return err
				}
				res.swap(r)
				core, err = verify.New(verify.Config{Allow: a, Resolver: res, Logger: log, Registerer: reg})
				if err != nil {
					return cli.Input(err)
				}
				cfg.Verifier = core
			}
			srv, err := proxy.New(cfg)
			if err != nil {
				return cli.Input(err)
			}
			if core != nil {
				// The rest of the configuration is sound: now the DNS.
				a := core.AllowList()
				unreachable, err := checkZones(res.cur.Load(), a)
				if err != nil {
					return cli.WithHint(cli.Input(err), zoneHint(err))
				}
				health.Watch(res, a.ZoneNames(), unreachable, nil)
			}
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
			// reload is SIGHUP: the certificate, and outside passthrough
			// the allow-list and the trust anchors, all or nothing.
			reload := func() {
				pair, err := srvCert.load()
				if err != nil {
					log.Error("proxy: certificate not reloaded; the old configuration stays in force", "err", err)
					return
				}
				if core != nil {
					a, err := loadAllow()
					if err != nil {
						log.Error("proxy: allow-list not reloaded; the old configuration stays in force", "err", err)
						return
					}
					r, err := rf.newResolver(env)
					if err != nil {
						log.Error("proxy: trust anchors not reloaded; the old configuration stays in force", "err", err)
						return
					}
					unreachable, err := checkZones(r, a)
					if err != nil {
						log.Error("proxy: configuration not reloaded: the resolver cannot validate the allow-listed names; the old configuration stays in force",
							"err", err, "hint", zoneHint(err))
						return
					}
					res.swap(r)
					core.SetAllowList(a)
					log.Info("proxy: allow-list reloaded", "patterns", a.Len(), "zones", len(a.ZoneNames()))
					log.Info("proxy: trust anchors reloaded", "file", cmp.Or(rf.anchors, "(root keys only)"), "trust_ad", rf.trustAD)
					health.Watch(res, a.ZoneNames(), unreachable, nil)
				}
				srvCert.set(pair, log, "proxy")
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			fmt.Fprintf(env.Stdout, "proxy (%s mode) listening on %s, forwarding to %s\n", m, ln.Addr(), backend)
			for {
				select {
				case err := <-served:
					return cli.Fail(err)
				case <-hup:
					reload()
				case <-env.Context().Done():
					log.Info("proxy: stopping; draining connections", "deadline", drainTO)
					ctx, cancel := context.WithTimeout(context.Background(), drainTO)
					err := srv.Shutdown(ctx)
					cancel()
					if err := <-served; err != nil && !errors.Is(err, proxy.ErrServerClosed) {
						log.Error("proxy: serve", "err", err)
					}
					if err != nil {
						log.Warn("proxy: connections cut at the drain deadline", "err", err)
					}
					log.Info("proxy: stopped")
					return nil
				}
			}
		},
	}
}

// proxyCheckTimeout bounds the check of the allow-listed zones at start and
// on SIGHUP; zones not checked by then count as unreachable.
const proxyCheckTimeout = 30 * time.Second

// proxyHealthRetry is the first wait before zones that did not validate
// are checked again, doubling up to proxyHealthMaxRetry (tests shorten
// them).
var proxyHealthRetry, proxyHealthMaxRetry = proxy.DefaultHealthRetry, proxy.MaxHealthRetry

// swapResolver is the resolver under the verification core: SIGHUP
// replaces it (new trust anchors) without replacing the core, its cache
// or its metrics.
type swapResolver struct {
	mu      sync.Mutex
	retired resolver.Stats // counters of the resolvers replaced
	cur     atomic.Pointer[resolver.Resolver]
}

func (s *swapResolver) swap(r *resolver.Resolver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.cur.Swap(r); old != nil {
		o := old.Stats()
		s.retired.Lookups += o.Lookups
		s.retired.CacheHits += o.CacheHits
		s.retired.Shared += o.Shared
		s.retired.RefusedOverloaded += o.RefusedOverloaded
		s.retired.DeadlineExceeded += o.DeadlineExceeded
		s.retired.UpstreamQueries += o.UpstreamQueries
		s.retired.UpstreamErrors += o.UpstreamErrors
	}
}

func (s *swapResolver) Lookup(ctx context.Context, name string, qtype uint16) (*resolver.Result, error) {
	return s.cur.Load().Lookup(ctx, name, qtype)
}

func (s *swapResolver) CheckZones(ctx context.Context, names []string) []resolver.ZoneCheck {
	return s.cur.Load().CheckZones(ctx, names)
}

// Stats adds up the counters of every resolver used, so that they only
// grow across reloads.
func (s *swapResolver) Stats() resolver.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, c := s.retired, s.cur.Load().Stats()
	t.Lookups += c.Lookups
	t.CacheHits += c.CacheHits
	t.Shared += c.Shared
	t.RefusedOverloaded += c.RefusedOverloaded
	t.DeadlineExceeded += c.DeadlineExceeded
	t.UpstreamQueries += c.UpstreamQueries
	t.UpstreamErrors += c.UpstreamErrors
	return t
}

// zoneHint says which flags to change for the zones of a
// *proxy.ConfigError.
func zoneHint(err error) string {
	var ce *proxy.ConfigError
	if !errors.As(err, &ce) {
		return ""
	}
	return zoneChecksHint(ce.Checks)
}

// zoneChecksHint says what to change for each problem of checks, in
// terms of the resolver flags (--resolver, --anchors, --trust-ad).
func zoneChecksHint(checks []resolver.ZoneCheck) string {
	seen := map[resolver.Problem]bool{}
	var hints []string
	for _, c := range checks {
		if seen[c.Problem] {
			continue
		}
		seen[c.Problem] = true
		switch c.Problem {
		case resolver.ProblemNoAnchor:
			hints = append(hints, "no trust anchor leads to "+strings.TrimSuffix(c.Zone, ".")+" through this resolver: add --anchors FILE with its DS or DNSKEY (a zone directory's DIR/anchors), or --trust-ad with a resolver that validates it")
		case resolver.ProblemInsecure:
			hints = append(hints, strings.TrimSuffix(c.Zone, ".")+" is unsigned or its parent has no DS for it: sign it and publish its DS, or give its key with --anchors FILE")
		case resolver.ProblemNoSignatures:
			hints = append(hints, "the resolver strips DNSSEC signatures: use one that passes them on, or --trust-ad if it validates the zone itself")
		case resolver.ProblemNotValidated:
			hints = append(hints, "the resolver does not validate "+strings.TrimSuffix(c.Zone, ".")+" (no AD bit): give it a trust anchor for the zone, or drop --trust-ad and give --anchors FILE")
		case resolver.ProblemBogus:
			hints = append(hints, "answers for "+strings.TrimSuffix(c.Zone, ".")+" are bogus: check its signatures, its DS at the parent, and that --anchors holds its current keys")
		}
	}
	return strings.Join(hints, "; ")
}
