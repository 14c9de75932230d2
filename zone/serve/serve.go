// Package serve runs an identity zone from its directory with all its
// parts: the DNS server over UDP and TCP (and TLS), RFC 2136 updates under
// the directory's TSIG keys and update policy, the IXFR journal and the
// signature cache kept across restarts, NOTIFY and transfers to
// secondaries (over TLS to secondaries authenticated by DANE too:
// XoTConfig), the abuse limits, and, when asked, the admin HTTP API and a
// Prometheus metrics listener. It is what `dance zone serve` runs.
//
// For most uses:
//
//	s, err := serve.New(serve.Config{Dir: "/var/lib/dance/ids", Listen: "[::]:53"})
//	if err != nil { ... }
//	defer s.Close()          // writes DIR/signatures.cache, releases the store
//	err = s.Run(ctx)         // serves until ctx is done, then stops cleanly
//
// New checks everything it can before anything serves (the update policy
// names only keys of DIR/tsig.key, no update key can write at an
// administrator's name, certificates load, addresses bind, the DANE
// administrators' zones validate with the admin resolver when that is this
// server), so a configuration that cannot work fails at once with the
// reason; with a resolver of their own, Run checks the administrators'
// zones once the DNS listeners serve, and Health reports a resolver that
// does not answer. Reload takes new certificates, trust anchors and keys
// without a restart.
//
// # Security considerations
//
// The zero values are the safe ones: no transfers, no admin API, no
// metrics listener, the response rate limit and the online signing
// ceiling on. The admin API refuses plain HTTP on an address other than
// loopback unless AdminConfig.Insecure says otherwise; its /metrics needs
// the admin credentials, while MetricsListen serves the metrics alone, to
// anyone who can reach it.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/httplimit"
	"github.com/dnsbound/dance/internal/zonehealth"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/admin"
	"github.com/dnsbound/dance/zone/server"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// DefaultListen is the DNS address of a Config that names none: this
// machine only.
const DefaultListen = "127.0.0.1:53"

// shutdownTimeout bounds the stop of each HTTP server (requests in flight
// finish within it, or are cut).
const shutdownTimeout = 5 * time.Second

// HTTPLimits bound what one client can hold of the admin API and the
// metrics listener: timeouts, body size, connections at once. The zero
// value of each field is its default.
type HTTPLimits = httplimit.Limits

// Config configures a Server. Dir is required; every other zero value has
// the meaning its comment gives.
type Config struct {
	// Dir is the zone directory that zone.Init made.
	Dir string
	// Listen is the address of DNS over UDP and TCP (one port for both;
	// port 0 picks a free one); "" means DefaultListen.
	Listen string
	// TLSListen, when set, serves DNS over TLS (RFC 7858) and zone
	// transfers over TLS (RFC 9103) with the certificate chain and key
	// of TLSCertFile and TLSKeyFile (PEM), which it needs.
	TLSListen, TLSCertFile, TLSKeyFile string
	// TransferFrom are the client addresses allowed to transfer the zone;
	// none means no transfers.
	TransferFrom []netip.Prefix
	// TransferKeyFile, when set, is a TSIG key file (BIND syntax) one of
	// whose keys must sign every transfer request.
	TransferKeyFile string
	// TransferTLSOnly refuses transfers that do not come over TLS 1.3;
	// it needs TLSListen.
	TransferTLSOnly bool
	// Notify are the secondaries (HOST:PORT) sent a NOTIFY after every
	// change.
	Notify []string
	// MaxUDPSize caps UDP responses; zero means server.DefaultMaxUDPSize.
	MaxUDPSize int
	// JournalVersions and JournalRecords bound the IXFR journal, kept in
	// DIR/ixfr.journal across restarts; zero means
	// server.DefaultJournalVersions and server.DefaultJournalRecords.
	JournalVersions, JournalRecords int
	// TSIGWindow is how far a signed request's time may be from the
	// server's clock; zero means server.DefaultTSIGWindow.
	TSIGWindow time.Duration
	// IdentitySigValidity overrides the zone's setting of the validity of
	// identity records' signatures while the server runs; zero keeps the
	// setting.
	IdentitySigValidity time.Duration
	// ResignRate is how many signatures per second the background
	// re-signing after a ZSK activation makes; zero means
	// zone.DefaultResignRate.
	ResignRate int
	// RateLimit and SigningLimit limit the answers that need a signature
	// of their own; both are on unless their Off is set (server.RateLimit,
	// server.SigningLimit).
	RateLimit    server.RateLimit
	SigningLimit server.SigningLimit
	// MaxTCPConns caps the connections at once on each of the TCP and TLS
	// listeners; zero means server.DefaultMaxTCPConns.
	MaxTCPConns int
	// XoT, when not nil, serves zone transfers over TLS 1.3 on a
	// listener of its own to the secondaries it authenticates (DANE
	// identities, TSIG keys, or both).
	XoT *XoTConfig
	// Admin, when not nil, runs the admin HTTP API.
	Admin *AdminConfig
	// MetricsListen, when set, serves the Prometheus metrics at /metrics,
	// and Health at /healthz, on an HTTP listener of their own, without
	// credentials. The DNS server's metrics exist whether or not it is set
	// (Server.Registry).
	MetricsListen string
	// HTTPLimits bound the admin API and the metrics listener.
	HTTPLimits HTTPLimits
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
}

// AdminConfig configures the admin HTTP API (package zone/admin).
type AdminConfig struct {
	// Listen is the API's address (required).
	Listen string
	// CertFile and KeyFile, when set, make the API speak HTTPS with this
	// certificate chain and key (PEM). Reload reads them again.
	CertFile, KeyFile string
	// Insecure allows plain HTTP on an address other than loopback.
	Insecure bool
	// Auth says which credentials a request needs; the zero value is
	// admin.AuthToken (the bearer token of DIR/admin.token, made if
	// missing). The DANE modes need Allow and HTTPS.
	Auth admin.AuthMode
	// Allow are the DANE client identities allowed to administer: names,
	// or *.NAME for every name below. The zone refuses updates at these
	// names, and New refuses an update key that could write there.
	Allow []string
	// Resolver configures the lookups of the administrators' TLSA
	// records. No Upstreams (and no Exchange) means this server itself,
	// asked in process: Allow must then name only names of this zone,
	// and the anchors must hold the zone's own keys (AnchorsFile's
	// default does). Its Anchors, and those of AnchorsFile, are added to
	// the IANA root keys (unless Resolver.NoRootAnchors).
	Resolver resolver.Config
	// AnchorsFile holds trust anchors (DS or DNSKEY lines) added to
	// Resolver.Anchors for the DANE modes; "" means DIR/anchors, the
	// zone's own. Reload reads it again.
	AnchorsFile string
	// CheckParentDS checks the parent's DS before a KSK or CSK retire;
	// nil refuses such a retire unless the request says force.
	CheckParentDS zone.ParentDSChecker
	// CheckRetry is the first wait before the zones of Allow are
	// checked again after a check that did not pass (the resolver did
	// not answer); 0 means DefaultAdminCheckRetry. It doubles up to
	// MaxAdminCheckRetry, or CheckRetry when larger.
	CheckRetry time.Duration
}

// Server is a zone directory being served. Make it with New; Run serves,
// Close releases. Its methods may be called from any goroutine.
type Server struct {
	cfg  Config
	log  *slog.Logger
	zone *zone.Zone
	dns  *server.Server
	ls   *server.Listeners
	reg  *prometheus.Registry

	// updateKeys are the names of the update keys in force.
	keysMu     sync.Mutex
	updateKeys []string

	adminLn, metricsLn net.Listener
	adminSrv, metrics  *http.Server
	adminScheme        string
	// adminCert and dotCert are the current certificates of the admin
	// API and of DNS over TLS (Reload).
	adminCert, dotCert atomic.Pointer[tls.Certificate]
	// xotCert is the XoT listener's certificate; xotResolver is what its
	// verification core looks up with (Reload replaces both); xotSelf
	// says that resolver is this server, in process.
	xotCert     atomic.Pointer[tls.Certificate]
	xotResolver *swapResolver
	xotSelf     bool
	xotCore     *verify.Core
	xotTLS      *tls.Config
	// xotNames are the zone names of the XoT allow-list (checked with
	// resolver.CheckZones), xotUnreachable the zones New could not
	// check, xotHealth the outcome of the last check.
	xotNames       []string
	xotUnreachable []resolver.ZoneCheck
	xotHealth      zonehealth.Health
	// adminResolver is what the DANE verification core looks up with;
	// Reload replaces the resolver behind it.
	adminResolver *swapResolver
	// adminNames are the zone names of the admin allow-list (checked
	// with resolver.CheckZones); adminSelf says the resolver is this
	// server, in process; adminUnreachable are the zones New could not
	// check.
	adminNames       []string
	adminSelf        bool
	adminUnreachable []resolver.ZoneCheck
	health           zonehealth.Health

	// reloadMu makes Reloads run one at a time.
	reloadMu sync.Mutex
	// ran is set by Run; a Server runs once.
	ran atomic.Bool
}

// releaseMemory returns freed memory to the system (a variable for tests).
var releaseMemory = debug.FreeOSMemory

// New opens the zone of cfg.Dir and binds every listener; nothing is
// served before Run. Each failure is returned with its reason, and
// nothing is left open. A zone that another running server holds fails
// with a *zone.LockedError.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("serve: no zone directory")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, reg: prometheus.NewRegistry()}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.health.Logger, s.health.Subject, s.health.Whose = s.log, "admin identities", "administrators"
	s.health.Retry, s.health.MaxRetry = DefaultAdminCheckRetry, MaxAdminCheckRetry
	if a := cfg.Admin; a != nil && a.CheckRetry > 0 {
		s.health.Retry, s.health.MaxRetry = a.CheckRetry, max(a.CheckRetry, MaxAdminCheckRetry)
	}
	s.xotHealth.Logger, s.xotHealth.Subject, s.xotHealth.Whose = s.log, "XoT secondaries", "secondaries"
	s.xotHealth.Retry, s.xotHealth.MaxRetry = DefaultAdminCheckRetry, MaxAdminCheckRetry
	if a := cfg.Admin; a != nil && a.CheckRetry > 0 {
		s.xotHealth.Retry, s.xotHealth.MaxRetry = a.CheckRetry, max(a.CheckRetry, MaxAdminCheckRetry)
	}
	// Everything opened so far is closed when a later step fails.
	var (
		closers []func()
		ok      bool
		err     error
	)
	defer func() {
		if !ok {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()
	var allow *verify.AllowList
	zopt := zone.Options{IdentitySigValidity: cfg.IdentitySigValidity, ResignRate: cfg.ResignRate}
	if a := cfg.Admin; a != nil && len(a.Allow) > 0 {
		if allow, err = verify.ParseAllowList(a.Allow); err != nil {
			return nil, fmt.Errorf("serve: admin allow-list: %w", err)
		}
		// The zone refuses updates at the administrators' names, and
		// server.New refuses update keys that could write there.
		zopt.AdminNames = allow.Patterns()
	}
	if s.zone, err = zone.Open(cfg.Dir, zopt); err != nil {
		if errors.Is(err, zone.ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("%w %s: %w", ErrOpenZone, cfg.Dir, err)
	}
	closers = append(closers, func() { s.zone.Close() })
	tk, policies, err := readUpdateKeys(cfg.Dir, s.zone.Origin())
	if err != nil {
		return nil, err
	}
	for _, k := range tk {
		s.updateKeys = append(s.updateKeys, k.Name)
	}
	var xk []*tsigkey.Key
	if cfg.TransferKeyFile != "" {
		if xk, err = tsigkey.ReadFile(cfg.TransferKeyFile); err != nil {
			return nil, fmt.Errorf("serve: transfer keys: %w", err)
		}
	}
	if cfg.XoT != nil {
		if err := s.prepareXoT(); err != nil {
			return nil, err
		}
	}
	if n, err := s.zone.SignaturesLoaded(); err != nil {
		s.log.Warn("signature cache not used; signing again", "file", filepath.Join(cfg.Dir, zone.SigCacheFile), "err", err)
	} else if n > 0 {
		s.log.Info("signatures loaded", "records", n)
	}
	s.dns, err = server.New(server.Config{Zone: s.zone, UpdateKeys: tk, Policies: policies, MaxUDPSize: cfg.MaxUDPSize, Logger: s.log,
		TransferFrom: cfg.TransferFrom, TransferKeys: xk, Notify: cfg.Notify, TransferTLSOnly: cfg.TransferTLSOnly,
		XoTAuth: xotAuth(cfg.XoT), XoTAuthenticate: s.xotAuthenticator(), JournalVersions: cfg.JournalVersions, JournalRecords: cfg.JournalRecords, JournalFile: filepath.Join(cfg.Dir, zone.JournalFile),
		RateLimit: cfg.RateLimit, SigningLimit: cfg.SigningLimit, TSIGWindow: cfg.TSIGWindow, MaxTCPConns: cfg.MaxTCPConns})
	if err != nil {
		return nil, err
	}
	// Opening the zone and reading the journal leave about as much freed
	// heap as the zone holds (the records as read from the store, the
	// signature cache and the journal as read from their files): returned
	// to the system now, once, not at the runtime's slow pace. At a
	// million identities, 0.65 instead of 1.26 GB of anonymous memory
	// 30 s after a start (bench/RESULTS.md, "Resident memory after a
	// restart").
	releaseMemory()
	s.reg.MustRegister(s.dns.Collector())
	var dotCfg *tls.Config
	if cfg.TLSCertFile != "" {
		pair, err := loadCert("DNS over TLS", cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, err
		}
		s.dotCert.Store(pair)
		dotCfg = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.dotCert.Load(), nil
		}}
	}
	if s.ls, err = server.Listen(cfg.Listen); err != nil {
		return nil, &ListenError{What: "DNS", Err: err}
	}
	closers = append(closers, s.ls.Close)
	if dotCfg != nil {
		if s.ls.TLS, err = server.ListenTLS(cfg.TLSListen, dotCfg); err != nil {
			return nil, &ListenError{What: "DNS over TLS", Err: err}
		}
	}
	if cfg.XoT != nil {
		if s.xotResolver != nil {
			if s.xotSelf {
				// All that the check depends on is here: check now.
				if s.xotUnreachable, err = s.checkXoTZones(context.Background(), s.xotResolver.r.Load()); err != nil {
					return nil, err
				}
			} else {
				s.xotHealth.Set(errXoTNotChecked)
			}
		}
		if err := s.listenXoT(); err != nil {
			return nil, err
		}
	}
	if cfg.Admin != nil {
		if err := s.startAdmin(allow); err != nil {
			return nil, err
		}
		closers = append(closers, func() { s.adminLn.Close() })
	}
	if cfg.MetricsListen != "" {
		if s.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, &ListenError{What: "metrics", Err: err}
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
		mux.Handle("GET /healthz", healthHandler{s})
		s.metrics = cfg.HTTPLimits.Server(mux)
		s.metrics.ErrorLog = httplimit.ErrorLog(s.log, "metrics")
	}
	ok = true
	return s, nil
}

// xotAuth is the server's XoT mode for x (any, when there is no XoT
// listener).
func xotAuth(x *XoTConfig) server.XoTAuth {
	if x == nil {
		return server.XoTDANE
	}
	return x.Auth
}

// check refuses settings that cannot work together.
func (cfg *Config) check() error {
	if (cfg.TLSListen == "") != (cfg.TLSCertFile == "") || (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return errors.New("serve: TLSListen, TLSCertFile and TLSKeyFile go together")
	}
	if cfg.TransferTLSOnly && cfg.TLSListen == "" {
		return errors.New("serve: TransferTLSOnly needs TLSListen")
	}
	for _, n := range cfg.Notify {
		if _, _, err := net.SplitHostPort(n); err != nil {
			return fmt.Errorf("serve: notify %q: want HOST:PORT", n)
		}
	}
	if err := cfg.checkXoT(); err != nil {
		return err
	}
	if cfg.JournalVersions < 0 || cfg.JournalRecords < 0 {
		return errors.New("serve: negative journal bound")
	}
	if cfg.IdentitySigValidity != 0 {
		if err := zone.CheckIdentitySigValidity(cfg.IdentitySigValidity); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	a := cfg.Admin
	if a == nil {
		return nil
	}
	if a.Listen == "" {
		return errors.New("serve: admin API without an address")
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		return errors.New("serve: admin CertFile and KeyFile go together")
	}
	if a.Auth.NeedsDANE() {
		if len(a.Allow) == 0 {
			return fmt.Errorf("serve: admin auth %s needs an allow-list: who may administer", a.Auth)
		}
		if a.CertFile == "" {
			return fmt.Errorf("serve: admin auth %s needs HTTPS on the admin API", a.Auth)
		}
		if a.Resolver.Transport == resolver.TLS && len(a.Resolver.Upstreams) == 0 {
			return errors.New("serve: the admin identities' resolver over TLS needs upstreams: the default is this server's plain DNS listener")
		}
	} else if len(a.Allow) > 0 {
		return errors.New("serve: an admin allow-list needs admin auth dane, either or both")
	}
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil {
		return fmt.Errorf("serve: admin address %q: %w", a.Listen, err)
	}
	if ip, err := netip.ParseAddr(host); (err != nil || !ip.IsLoopback()) && a.CertFile == "" && !a.Insecure {
		return &InsecureAdminError{Listen: a.Listen}
	}
	return nil
}

// ErrOpenZone wraps the failure to open the zone of Config.Dir (no zone
// there, or an unreadable one); a zone held by another server is a
// *zone.LockedError instead.
var ErrOpenZone = errors.New("serve: cannot open the zone in")

// ListenError is a listener that could not bind: the address is taken or
// not this machine's. Nothing is wrong with the configuration itself.
type ListenError struct {
	What string // "DNS", "DNS over TLS", "admin API", "metrics"
	Err  error
}

func (e *ListenError) Error() string { return "serve: " + e.What + " listener: " + e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// InsecureAdminError refuses a plain-HTTP admin API on an address other
// than loopback: the token would cross the network in clear.
type InsecureAdminError struct{ Listen string }

func (e *InsecureAdminError) Error() string {
	return fmt.Sprintf("serve: refusing a plain-HTTP admin API on non-loopback address %s", e.Listen)
}

// PolicyKeyError is an update policy (DIR/update-policy) that names a key
// DIR/tsig.key does not hold: a typo there would leave the real key
// unlimited.
type PolicyKeyError struct{ Key string }

func (e *PolicyKeyError) Error() string {
	return fmt.Sprintf("serve: %s names key %s, which is not in %s", zone.PolicyFile, e.Key, zone.TSIGFile)
}

// readUpdateKeys reads DIR/tsig.key and, if present, DIR/update-policy,
// and checks that the policy names only keys of the file.
func readUpdateKeys(dir, origin string) ([]*tsigkey.Key, map[string]zone.Policy, error) {
	tk, err := tsigkey.ReadFile(filepath.Join(dir, zone.TSIGFile))
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(filepath.Join(dir, zone.PolicyFile))
	if errors.Is(err, os.ErrNotExist) {
		return tk, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	policies, err := zone.ParsePolicies(f, origin)
	if err != nil {
		return nil, nil, err
	}
	for k := range policies {
		found := false
		for _, key := range tk {
			found = found || key.Name == k
		}
		if !found {
			return nil, nil, &PolicyKeyError{Key: k}
		}
	}
	return tk, policies, nil
}

// startAdmin makes the admin API's handler, TLS configuration and
// listener.
func (s *Server) startAdmin(allow *verify.AllowList) error {
	a := s.cfg.Admin
	var tok string
	if a.Auth.NeedsToken() {
		var err error
		if tok, err = admin.LoadOrCreateToken(filepath.Join(s.cfg.Dir, admin.TokenFile)); err != nil {
			return err
		}
	}
	s.adminScheme = "http"
	var tlsCfg *tls.Config
	if a.CertFile != "" {
		pair, err := loadCert("admin API", a.CertFile, a.KeyFile)
		if err != nil {
			return err
		}
		s.adminCert.Store(pair)
		s.adminScheme = "https"
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.adminCert.Load(), nil
		}}
	}
	if a.Auth.NeedsDANE() {
		s.adminNames = allow.ZoneNames()
		s.adminSelf = len(a.Resolver.Upstreams) == 0 && a.Resolver.Exchange == nil
		if s.adminSelf {
			if err := s.checkOutside(s.adminNames); err != nil {
				return err
			}
		}
		r, err := s.adminResolverFor()
		if err != nil {
			return err
		}
		if s.adminSelf {
			// All that the check depends on is here: check now.
			if s.adminUnreachable, err = s.checkAdmin(context.Background(), r); err != nil {
				return err
			}
		} else {
			s.health.Set(errNotChecked)
		}
		s.adminResolver = &swapResolver{}
		s.adminResolver.r.Store(r)
		core, err := verify.New(verify.Config{Allow: allow, Resolver: s.adminResolver, Logger: s.log.With("component", "admin-dane"),
			Registerer: coreRegisterer(s.reg, coreAdmin)})
		if err != nil {
			return fmt.Errorf("serve: admin identities: %w", err)
		}
		var opts []danetls.ServerOption
		if a.Auth == admin.AuthEither {
			// The certificate is optional at the TLS layer; the handler
			// then insists on the token. A presented certificate is
			// verified all the same.
			opts = append(opts, danetls.VerifyClientCertIfGiven())
		}
		tlsCfg = danetls.ServerConfig(tlsCfg, core, opts...)
	}
	h := admin.Handler(admin.Config{Zone: s.zone, Token: tok, Auth: a.Auth, Registry: s.reg, Logger: s.log, CheckParentDS: a.CheckParentDS})
	s.adminSrv = s.cfg.HTTPLimits.Server(h)
	s.adminSrv.TLSConfig = tlsCfg
	s.adminSrv.ErrorLog = httplimit.ErrorLog(s.log, "admin-api")
	s.adminSrv.ConnContext = danetls.ConnContext
	ln, err := net.Listen("tcp", a.Listen)
	if err != nil {
		return &ListenError{What: "admin API", Err: err}
	}
	s.adminLn = ln
	// Clients on this machine find the API with --dir alone.
	admin.RecordEndpoint(s.cfg.Dir, ln.Addr(), a.CertFile, s.log)
	return nil
}

// loadCert reads a certificate chain and its key (PEM files).
func loadCert(what, certFile, keyFile string) (*tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("serve: %s certificate: %w", what, err)
	}
	return &pair, nil
}

// Reload reads again what can change without a restart: the certificates
// of the admin API, of DNS over TLS and of XoT, the trust anchors the admin
// API's DANE clients and the XoT secondaries are validated with
// (AdminConfig.AnchorsFile, XoTConfig.AnchorsFile), the update
// keys and policy (DIR/tsig.key, DIR/update-policy, with the checks New
// makes) and the transfer keys (TransferKeyFile). It takes all of them or
// none: when one fails to load or to pass its checks, the server keeps
// what it had and Reload says why. What it took is logged, and returned
// as a list of words ("admin certificate", ...). Connections already open
// keep their certificates.
//
// New anchors are checked against the zones of the admin allow-list as at
// start: anchors that cannot validate them fail the reload (an
// *AdminCheckError); a resolver that does not answer does not, and is
// checked again in the background (Health).
//
// The admin allow-list is read at start only: the zone protects the
// administrators' names from the time it opens, and the update keys are
// checked against them before it serves; a new list would need the zone,
// that check and the verification core changed at one instant while
// updates are applied.
func (s *Server) Reload() ([]string, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	var (
		done    []string
		dotCert *tls.Certificate
		admCert *tls.Certificate
		newRes  *resolver.Resolver
		err     error
	)
	if s.cfg.TLSCertFile != "" {
		if dotCert, err = loadCert("DNS over TLS", s.cfg.TLSCertFile, s.cfg.TLSKeyFile); err != nil {
			return nil, s.reloadFailed(err)
		}
		done = append(done, "DNS-over-TLS certificate")
	}
	var xotCert *tls.Certificate
	var xotRes *resolver.Resolver
	var xotUnreachable []resolver.ZoneCheck
	if x := s.cfg.XoT; x != nil {
		if xotCert, err = loadCert("XoT", x.CertFile, x.KeyFile); err != nil {
			return nil, s.reloadFailed(err)
		}
		done = append(done, "XoT certificate")
		if s.xotResolver != nil {
			if xotRes, err = s.xotResolverFor(); err != nil {
				return nil, s.reloadFailed(err)
			}
			// Anchors that cannot validate the secondaries' zones are
			// refused as at start; a resolver that does not answer is not.
			if xotUnreachable, err = s.checkXoTZones(context.Background(), xotRes); err != nil {
				return nil, s.reloadFailed(err)
			}
			done = append(done, "XoT trust anchors")
		}
	}
	if a := s.cfg.Admin; a != nil && a.CertFile != "" {
		if admCert, err = loadCert("admin API", a.CertFile, a.KeyFile); err != nil {
			return nil, s.reloadFailed(err)
		}
		done = append(done, "admin certificate")
	}
	var unreachable []resolver.ZoneCheck
	if s.adminResolver != nil {
		if newRes, err = s.adminResolverFor(); err != nil {
			return nil, s.reloadFailed(err)
		}
		// Anchors that cannot validate the administrators' zones are
		// refused as at start; a resolver that does not answer is not.
		if unreachable, err = s.checkAdmin(context.Background(), newRes); err != nil {
			return nil, s.reloadFailed(err)
		}
		done = append(done, "admin trust anchors")
	}
	tk, policies, err := readUpdateKeys(s.cfg.Dir, s.zone.Origin())
	if err != nil {
		return nil, s.reloadFailed(err)
	}
	var xk []*tsigkey.Key
	if s.cfg.TransferKeyFile != "" {
		if xk, err = tsigkey.ReadFile(s.cfg.TransferKeyFile); err != nil {
			return nil, s.reloadFailed(fmt.Errorf("serve: transfer keys: %w", err))
		}
	}
	// Last, as it takes the keys at once when they pass its checks.
	if err := s.dns.SetKeys(tk, policies, xk); err != nil {
		return nil, s.reloadFailed(err)
	}
	names := make([]string, len(tk))
	for i, k := range tk {
		names[i] = k.Name
	}
	s.keysMu.Lock()
	s.updateKeys = names
	s.keysMu.Unlock()
	done = append(done, "update keys and policy")
	if s.cfg.TransferKeyFile != "" {
		done = append(done, "transfer keys")
	}
	if dotCert != nil {
		s.dotCert.Store(dotCert)
	}
	if xotCert != nil {
		s.xotCert.Store(xotCert)
	}
	if xotRes != nil {
		s.xotResolver.r.Store(xotRes)
		s.xotHealth.Watch(s.recheckXoT, xotUnreachable, nil)
	}
	if admCert != nil {
		s.adminCert.Store(admCert)
		// The recorded certificate is the clients' pin: it follows.
		admin.RecordEndpoint(s.cfg.Dir, s.adminLn.Addr(), s.cfg.Admin.CertFile, s.log)
	}
	if newRes != nil {
		s.adminResolver.r.Store(newRes)
		s.health.Watch(s.recheckAdmin, unreachable, nil)
	}
	s.log.Info("reloaded", "what", strings.Join(done, ", "))
	return done, nil
}

func (s *Server) reloadFailed(err error) error {
	s.log.Error("reload failed; serving on with the configuration of before", "err", err)
	return err
}

// adminResolverFor makes the resolver of the admin identities, reading
// the anchors file.
func (s *Server) adminResolverFor() (*resolver.Resolver, error) {
	a := s.cfg.Admin
	return s.identityResolver(a.Resolver, s.adminSelf, a.AnchorsFile, "admin", "admin identities'")
}

// identityResolver makes the resolver of the identities a listener
// authenticates: rc, asking this server in process when self, with the
// anchors of file ("": DIR/anchors) added. what and whose name it in
// errors.
func (s *Server) identityResolver(rc resolver.Config, self bool, file, what, whose string) (*resolver.Resolver, error) {
	if self {
		rc.Exchange = s.inProcess
	}
	if file == "" {
		file = filepath.Join(s.cfg.Dir, zone.AnchorsFile)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("serve: %s anchors: %w", what, err)
	}
	anchors, err := resolver.ParseAnchors(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("serve: %s anchors %s: %w", what, file, err)
	}
	rc.Anchors = rc.Anchors.Merge(anchors)
	r, err := resolver.New(rc)
	if err != nil {
		return nil, fmt.Errorf("serve: %s resolver: %w", whose, err)
	}
	return r, nil
}

// recheckAdmin checks the admin zones again with the resolver in force.
func (s *Server) recheckAdmin(ctx context.Context) ([]resolver.ZoneCheck, error) {
	return s.checkAdmin(ctx, s.adminResolver.r.Load())
}

// swapResolver is the admin verification core's resolver, replaced as a
// whole by Reload (new anchors) while lookups go on.
type swapResolver struct {
	r atomic.Pointer[resolver.Resolver]
}

func (w *swapResolver) Lookup(ctx context.Context, name string, qtype uint16) (*resolver.Result, error) {
	return w.r.Load().Lookup(ctx, name, qtype)
}

// Stats keeps the resolver's statistics among the core's metrics.
func (w *swapResolver) Stats() resolver.Stats { return w.r.Load().Stats() }

var _ verify.Resolver = (*swapResolver)(nil)

// Zone is the zone served.
func (s *Server) Zone() *zone.Zone { return s.zone }

// Addr is the DNS address (UDP and TCP).
func (s *Server) Addr() string { return s.ls.Addr() }

// TLSAddr is the DNS-over-TLS address, or "".
func (s *Server) TLSAddr() string {
	if s.ls.TLS == nil {
		return ""
	}
	return s.ls.TLS.Addr().String()
}

// AdminURL is the admin API's base URL (http://ADDR or https://ADDR), or
// "" without one.
func (s *Server) AdminURL() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminScheme + "://" + s.adminLn.Addr().String()
}

// MetricsAddr is the address of the metrics listener, or "".
func (s *Server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}

// UpdateKeys are the names of the keys accepted for updates.
func (s *Server) UpdateKeys() []string {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	return append([]string(nil), s.updateKeys...)
}

// Registry holds every metric of the server: the DNS server's, the admin
// API's and its verification core's. It is what /metrics serves; an
// embedder with a metrics endpoint of its own can gather it.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// The values of the "core" label of the verification cores' metrics
// (dance_verify_*, dance_resolver_*): the admin API's DANE administrators
// and the XoT listener's secondaries each have a core of their own, whose
// metrics share one registry.
const (
	coreAdmin = "admin"
	coreXoT   = "xot"
)

// coreRegisterer registers a verification core's metrics in reg with the
// label core=name.
func coreRegisterer(reg prometheus.Registerer, name string) prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{"core": name}, reg)
}

// Run serves until ctx is done or a listener fails, then stops: the DNS
// listeners first (requests in flight finish; the IXFR journal is
// written), then the admin API and the metrics listener (each within 5
// s). It returns nil after a stop by ctx, or the first failure: an
// *AdminCheckError when the first check of the DANE administrators' zones
// through their resolver (AdminConfig.Resolver with upstreams) finds that
// it cannot validate them. A Server runs once.
func (s *Server) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("serve: Run called twice")
	}
	g, gctx := errgroup.WithContext(ctx)
	dnsDone := make(chan struct{})
	g.Go(func() error {
		defer close(dnsDone)
		return s.dns.Serve(gctx, s.ls)
	})
	serveHTTP := func(what string, hs *http.Server, ln net.Listener, useTLS bool) {
		capped := s.cfg.HTTPLimits.Listener(ln, s.log.With("component", what))
		g.Go(func() error {
			var err error
			if useTLS {
				err = hs.ServeTLS(capped, "", "")
			} else {
				err = hs.Serve(capped)
			}
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("serve: %s: %w", what, err)
		})
		g.Go(func() error {
			// After the DNS server, as before: the admin API may still
			// take a change while the DNS listeners drain.
			<-dnsDone
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				hs.Close()
			}
			return nil
		})
	}
	if s.adminSrv != nil {
		serveHTTP("admin-api", s.adminSrv, s.adminLn, s.adminSrv.TLSConfig != nil)
	}
	if s.metrics != nil {
		serveHTTP("metrics", s.metrics, s.metricsLn, false)
	}
	if s.adminResolver != nil {
		g.Go(func() error {
			u := s.adminUnreachable
			if !s.adminSelf {
				// Now that the DNS listeners serve: the upstream may
				// well ask this server.
				var err error
				if u, err = s.checkAdmin(gctx, s.adminResolver.r.Load()); err != nil {
					if gctx.Err() != nil {
						return nil
					}
					s.log.Error("admin identities: the resolver cannot validate the allow-listed names; stopping", "err", err)
					return err
				}
			}
			s.health.Watch(s.recheckAdmin, u, nil)
			return nil
		})
	}
	if s.xotResolver != nil {
		g.Go(func() error {
			u := s.xotUnreachable
			if !s.xotSelf {
				// Now that the DNS listeners serve: the upstream may
				// well ask this server.
				var err error
				if u, err = s.checkXoTZones(gctx, s.xotResolver.r.Load()); err != nil {
					if gctx.Err() != nil {
						return nil
					}
					s.log.Error("XoT secondaries: the resolver cannot validate the allow-listed names; stopping", "err", err)
					return err
				}
			}
			s.xotHealth.Watch(s.recheckXoT, u, nil)
			return nil
		})
	}
	err := g.Wait()
	s.health.Stop()
	s.xotHealth.Stop()
	if err == nil {
		s.log.Info("stopped", "zone", s.zone.Origin())
	}
	return err
}

// Close releases everything: listeners left open (when Run did not run),
// and the zone, which writes DIR/signatures.cache so that the next start
// does not sign again. Call it after Run returns.
func (s *Server) Close() error {
	s.health.Stop()
	s.xotHealth.Stop()
	s.ls.Close()
	if s.adminLn != nil && !s.ran.Load() {
		s.adminLn.Close()
	}
	if s.metricsLn != nil && !s.ran.Load() {
		s.metricsLn.Close()
	}
	err := s.zone.Close()
	if err != nil {
		s.log.Warn("signatures not saved; the next start signs again", "err", err)
	} else {
		s.log.Info("signatures saved", "file", filepath.Join(s.cfg.Dir, zone.SigCacheFile))
	}
	return err
}
