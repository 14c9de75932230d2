package quickstart

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/httplimit"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/admin"
	"github.com/dnsbound/dance/zone/serve"
	"github.com/miekg/dns"
)

// Defaults for the zero values of Config.
const (
	// DefaultZone is under .test (RFC 6761 §6.2): it can never clash with
	// a real zone.
	DefaultZone = "quickstart.dance.test"
	// DefaultTTL is the TTL of the identity records: short, so that the
	// revocation step takes seconds rather than the production default's
	// minutes.
	DefaultTTL = 5 * time.Second
	// MaxTTL bounds Config.TTL: the revocation step waits it out.
	MaxTTL = 5 * time.Minute
)

const (
	// attemptTimeout bounds one client connection through the proxy.
	attemptTimeout = 15 * time.Second
	// revokeSlack is added, with the TTL once more, to the TTL to give the
	// revocation step a generous deadline: caches drop the record one TTL
	// after they fetched it at the latest.
	revokeSlack = 15 * time.Second
	// pollInterval is how often the revoked device tries again.
	pollInterval = 250 * time.Millisecond
	// stopTimeout bounds the shutdown of each server.
	stopTimeout = 5 * time.Second
)

// Config configures a run. The zero value is ready to use but for Out.
type Config struct {
	// Dir is where the zone, keys and certificates are written, kept after
	// the run for the by-hand commands. It must be empty or not exist.
	// "" means a new temporary directory, removed at the end unless Keep.
	Dir string
	// Keep keeps the temporary directory.
	Keep bool
	// Zone is the identity zone; "" means DefaultZone.
	Zone string
	// TTL is the TTL of the identity records, whole seconds from 1 s to
	// MaxTTL; 0 means DefaultTTL.
	TTL time.Duration
	// Out receives the step-by-step report (required).
	Out io.Writer
	// Quiet leaves out details and by-hand commands: one title and one
	// verdict per step.
	Quiet bool
	// Log receives the components' logs (zone server, admin API, proxy,
	// verification core); nil discards them.
	Log io.Writer
	// Program is the name the by-hand commands start with; "" means
	// "dance".
	Program string
}

// ConfigError is a Config that cannot run; nothing was started.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "quickstart: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// StepError says which step did not behave as expected, and why.
type StepError struct {
	Step  int
	Title string
	Err   error
}

func (e *StepError) Error() string {
	title := e.Title
	if title != "" {
		title = strings.ToLower(title[:1]) + title[1:]
	}
	if errors.Is(e.Err, ErrInterrupted) {
		return fmt.Sprintf("interrupted during step %d (%s)", e.Step, title)
	}
	return fmt.Sprintf("step %d (%s) did not behave as expected: %v", e.Step, title, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// ErrInterrupted is wrapped by the StepError of a run whose context ended.
var ErrInterrupted = errors.New("interrupted")

// Result describes a run, for callers that check it.
type Result struct {
	// Dir is the absolute path of the files; Kept says whether they are
	// still there.
	Dir  string
	Kept bool
	// DNS, Admin, Backend and Proxy are the addresses the run listened on
	// (host:port), all closed when Run returns.
	DNS, Admin, Backend, Proxy string
	// Attempts are the client connections through the proxy, in order.
	Attempts []Attempt
	// RawKey is the connection of the raw-key device through the proxy
	// with the dance engine (step 8), listening on DanceProxy; nil and ""
	// if the run stopped before.
	RawKey     *Attempt
	DanceProxy string
}

// Attempt is one client connection through the proxy.
type Attempt struct {
	Step int
	// Identity is the identity's directory name (sensor1, alice, ...).
	Identity string
	Accepted bool
	// Name and Kind are the identity fields the backend received.
	Name, Kind string
	// Reason is the verification core's reason for a refusal (a stable
	// label, verify.Reason), and Detail its explanation.
	Reason, Detail string
}

// names of this run's identities, relative to the zone.
const (
	dev1, dev2, devUnpublished = "sensor1", "sensor2", "sensor3"
	userUID                    = "alice"
	userCADir, proxyDir        = "userca", "proxy"
	zoneDir                    = "zone"
	proxyLabel                 = "proxy"
)

// Check validates cfg without starting anything.
func (cfg Config) Check() error {
	_, err := cfg.normalise()
	return err
}

func (cfg Config) normalise() (Config, error) {
	if cfg.Zone == "" {
		cfg.Zone = DefaultZone
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Program == "" {
		cfg.Program = "dance"
	}
	if cfg.Out == nil {
		return cfg, &ConfigError{errors.New("no output writer")}
	}
	if cfg.TTL < time.Second || cfg.TTL > MaxTTL || cfg.TTL%time.Second != 0 {
		return cfg, &ConfigError{fmt.Errorf("TTL %v: want whole seconds from 1s to %v", cfg.TTL, MaxTTL)}
	}
	z, err := identity.ParseName(strings.TrimSuffix(cfg.Zone, "."))
	if err != nil {
		return cfg, &ConfigError{fmt.Errorf("zone: %w", err)}
	}
	if z.Kind() != identity.KindHost {
		return cfg, &ConfigError{fmt.Errorf("zone %q is a %s name; want a plain domain such as %s", z, z.Kind(), DefaultZone)}
	}
	// The longest name the run makes must fit too.
	if _, err := identity.DeviceName(devUnpublished, z.String()); err != nil {
		return cfg, &ConfigError{fmt.Errorf("zone: %w", err)}
	}
	cfg.Zone = z.String()
	if cfg.Dir != "" {
		ents, err := os.ReadDir(cfg.Dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return cfg, &ConfigError{err}
		}
		if len(ents) > 0 {
			return cfg, &ConfigError{fmt.Errorf("%s is not empty: the quickstart writes a new zone and new identities there", cfg.Dir)}
		}
	}
	return cfg, nil
}

// qs is one run: what the steps share.
type qs struct {
	cfg  Config
	p    *printer
	log  *slog.Logger
	dir  string
	temp bool
	res  *Result

	// step 1
	zoneDir  string
	ds       []*dns.DS // the zone's DS, the resolver's anchor
	adminURL string
	api      *admin.Client
	apiTr    *http.Transport
	// step 2
	anchorsFile string
	resolver    *resolver.Resolver
	// step 3
	records map[string]tlsa.Record // owner name -> record to publish
	// step 5
	obs       *observer
	proxyPool *x509.CertPool
	proxyName string
	proxyDir  string

	// stops are the shutdown functions, run in reverse order.
	stops []stopper
}

type stopper struct {
	what string
	fn   func(context.Context) error
}

// Run runs the quickstart. It returns a *ConfigError when cfg is unusable,
// a *StepError naming the first step that did not behave as expected, or
// nil when every step did. Everything it started is stopped when it
// returns, whatever the outcome, including when ctx ends (the step then
// fails with ErrInterrupted).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.normalise()
	if err != nil {
		return nil, err
	}
	q := &qs{cfg: cfg, p: &printer{w: cfg.Out, quiet: cfg.Quiet, program: cfg.Program}, res: &Result{}, records: map[string]tlsa.Record{}}
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	q.log = slog.New(slog.NewTextHandler(logw, nil))
	if cfg.Dir == "" {
		q.dir, err = os.MkdirTemp("", "dance-quickstart-")
		q.temp = true
	} else {
		err = os.MkdirAll(cfg.Dir, identity.DirMode)
		q.dir = cfg.Dir
	}
	if err != nil {
		return nil, &ConfigError{err}
	}
	if abs, err := filepath.Abs(q.dir); err == nil {
		q.dir = abs
	}
	q.res.Dir = q.dir
	q.res.Kept = !q.temp || cfg.Keep

	fmt.Fprintf(cfg.Out, "dance quickstart: an identity zone, a validating resolver and an authenticating proxy on 127.0.0.1\n")
	where := "kept"
	if !q.res.Kept {
		where = "removed at the end; keep them with --dir DIR"
	}
	fmt.Fprintf(cfg.Out, "files in %s (%s)\n", q.dir, where)

	steps := []struct {
		title string
		fn    func(context.Context, int) error
	}{
		{"Start the identity zone " + cfg.Zone, q.startZone},
		{"Start a validating resolver anchored to the zone's key", q.startResolver},
		{"Provision two devices and a user", q.provision},
		{"Publish their TLSA records through the zone's admin API", q.publish},
		{"Run the proxy (http mode) in front of a backend", q.startProxy},
		{"Connect through the proxy with each identity", q.connectAll},
		{"Revoke " + dev2 + ": remove its record", q.revoke},
		{"Connect a raw-key device (RFC 7250, dane_clientid) through the proxy's own TLS 1.3 engine", q.rawKey},
		{"Signed readings: sensor → gateway → cloud", q.messages},
	}
	var failed *StepError
	for i, s := range steps {
		n := i + 1
		q.p.step(n, s.title)
		err := s.fn(ctx, n)
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			if ctx.Err() != nil {
				err = ErrInterrupted
			}
			q.p.verdict("FAILED: %v", err)
			failed = &StepError{Step: n, Title: s.title, Err: err}
			break
		}
	}
	n := len(steps) + 1
	q.p.step(n, "Shut everything down")
	if err := q.shutdown(); err != nil && failed == nil {
		q.p.verdict("FAILED: %v", err)
		failed = &StepError{Step: n, Title: "Shut everything down", Err: err}
	}
	if failed != nil {
		return q.res, failed
	}
	fmt.Fprintf(cfg.Out, "\nall %d steps behaved as expected.\n", n)
	if !q.res.Kept && !cfg.Quiet {
		fmt.Fprintf(cfg.Out, "run '%s quickstart --dir DIR' to keep the files the commands above use.\n", cfg.Program)
	}
	return q.res, nil
}

func (q *qs) onStop(what string, fn func(context.Context) error) {
	q.stops = append(q.stops, stopper{what, fn})
}

func (q *qs) path(parts ...string) string {
	return filepath.Join(append([]string{q.dir}, parts...)...)
}

func (q *qs) fqdn(label string) string {
	return label + "." + q.cfg.Zone
}

func (q *qs) ttlSeconds() uint32 { return uint32(q.cfg.TTL / time.Second) }

func (q *qs) ttlFlag() string { return strconv.Itoa(int(q.ttlSeconds())) }

// step 1: the zone, its DNS server and its admin API.
func (q *qs) startZone(ctx context.Context, _ int) error {
	q.zoneDir = q.path(zoneDir)
	res, err := zone.Init(q.zoneDir, zone.InitOptions{Origin: q.cfg.Zone, TTL: q.ttlSeconds(), NegativeTTL: q.ttlSeconds()})
	if err != nil {
		return err
	}
	q.anchorsFile = filepath.Join(q.zoneDir, zone.AnchorsFile)
	q.ds = res.DS
	token, err := admin.LoadOrCreateToken(filepath.Join(q.zoneDir, admin.TokenFile))
	if err != nil {
		return err
	}
	// The zone served as 'dance zone serve' serves it (zone/serve): update
	// keys and policy, journal, signature cache, admin API.
	srv, err := serve.New(serve.Config{Dir: q.zoneDir, Listen: "127.0.0.1:0",
		Admin:  &serve.AdminConfig{Listen: "127.0.0.1:0"},
		Logger: q.log.With("component", "zone")})
	if err != nil {
		return err
	}
	q.res.DNS = srv.Addr()
	q.adminURL = srv.AdminURL()
	q.res.Admin = strings.TrimPrefix(q.adminURL, "http://")
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- srv.Run(sctx) }()
	q.onStop("zone server", func(context.Context) error {
		stop()
		return errors.Join(<-served, srv.Close())
	})
	q.apiTr = &http.Transport{Proxy: nil}
	q.api = &admin.Client{BaseURL: q.adminURL, Token: token, HTTP: &http.Client{Transport: q.apiTr, Timeout: 30 * time.Second}}
	info, err := q.api.Info(ctx)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}

	q.p.line("DNSSEC-signed (key tag %d), DNS on %s (UDP and TCP), admin API on %s", res.Key.Tag(), q.res.DNS, q.adminURL)
	q.p.line("identity records have a TTL of %ds: that is how long caches may keep a revoked one", q.ttlSeconds())
	q.p.dance("zone", "init", "--zone", q.cfg.Zone, "--dir", q.zoneDir, "--ttl", q.ttlFlag(), "--negative-ttl", q.ttlFlag())
	q.p.dance("zone", "serve", "--dir", q.zoneDir, "--listen", q.res.DNS, "--admin-listen", q.res.Admin)
	q.p.verdict("ok: zone %s serial %d", strings.TrimSuffix(info.Zone, "."), info.Serial)
	return nil
}

// serveHTTP serves hs (made by httplimit.Limits.Server) on ln, under the
// default connection cap, until shutdown.
func (q *qs) serveHTTP(what string, hs *http.Server, ln net.Listener) {
	hs.ErrorLog = httplimit.ErrorLog(q.log, what)
	capped := httplimit.Defaults().Listener(ln, q.log.With("component", what))
	done := make(chan error, 1)
	go func() { done <- hs.Serve(capped) }()
	q.onStop(what, func(ctx context.Context) error {
		err := hs.Shutdown(ctx)
		if err != nil {
			hs.Close()
		}
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
			return serr
		}
		return err
	})
}

// step 2: a resolver whose anchor is the zone's key, asking the zone's
// server, configured as "dance lookup --anchors" configures it.
func (q *qs) startResolver(ctx context.Context, _ int) error {
	a, err := resolver.LoadAnchors(q.anchorsFile)
	if err != nil {
		return err
	}
	// Caches keep answers at least MinTTL; for a demo TTL below the
	// default floor, lower the floor so the TTL printed is the truth.
	minTTL := min(q.cfg.TTL, resolver.DefaultMinTTL)
	q.resolver, err = resolver.New(resolver.Config{
		Upstreams: []string{q.res.DNS},
		Anchors:   a, // added to the root keys
		MinTTL:    minTTL,
	})
	if err != nil {
		return err
	}
	for _, ds := range q.ds {
		q.p.line("trust anchor: %s DS %d %d %d %s (in %s)", ds.Hdr.Name, ds.KeyTag, ds.Algorithm, ds.DigestType, short(ds.Digest), q.anchorsFile)
	}
	q.p.line("upstream: the zone's own server, %s", q.res.DNS)
	r, err := q.resolver.Lookup(ctx, dns.Fqdn(q.cfg.Zone), dns.TypeDNSKEY)
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("DNSKEY %s: %w", q.cfg.Zone, err)
	}
	q.p.dance("lookup", q.cfg.Zone, "--type", "DNSKEY", "--resolver", q.res.DNS, "--anchors", q.anchorsFile)
	q.p.verdict("ok: DNSKEY %s is %s (%d record(s))", q.cfg.Zone, r.Status, len(r.Records))
	return nil
}

// step 3: keys and certificates, written as "dance id new" and "dance ca
// new" write them.
func (q *qs) provision(_ context.Context, _ int) error {
	zn := identity.MustParseName(q.cfg.Zone)
	for _, d := range []string{dev1, dev2, devUnpublished} {
		n, err := identity.DeviceName(d, q.cfg.Zone)
		if err != nil {
			return err
		}
		rec, err := q.selfSigned(d, n)
		if err != nil {
			return err
		}
		what := "self-signed, TLSA " + rec.String()[:5] + " (DANE-EE: its own key)"
		if d == devUnpublished {
			what = "self-signed, never published"
		} else {
			q.records[n.String()] = rec
		}
		q.p.line("%-40s %-9s %s", n, d+"/", what)
	}

	caKey, err := identity.GenerateKey(identity.DefaultKey, nil)
	if err != nil {
		return err
	}
	caCert, err := identity.NewCA(identity.UserCA, zn, caKey, identity.Options{})
	if err != nil {
		return err
	}
	if err := q.writeIdentity(userCADir, caKey, identity.MarshalCertificate(caCert)); err != nil {
		return err
	}
	caRec, err := tlsa.ForCertificate(caCert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)
	if err != nil {
		return err
	}
	userCAName, err := identity.UserCAName(q.cfg.Zone)
	if err != nil {
		return err
	}
	q.records[userCAName.String()] = caRec
	uKey, err := identity.GenerateKey(identity.DefaultKey, nil)
	if err != nil {
		return err
	}
	uCert, err := identity.IssueUser(identity.User{UID: userUID, Domain: zn}, uKey.Public(), identity.Issuer{Cert: caCert, Key: caKey}, identity.Options{})
	if err != nil {
		return err
	}
	// The chain, leaf first: the DANE-TA record names the CA certificate,
	// so the client must send it along (RFC 7671 §5.2.2).
	chain := append(identity.MarshalCertificate(uCert), identity.MarshalCertificate(caCert)...)
	if err := q.writeIdentity(userUID, uKey, chain); err != nil {
		return err
	}
	q.p.line("%-40s %-9s the domain's user CA, TLSA %s (DANE-TA) at this name", userCAName, userCADir+"/", caRec.String()[:5])
	q.p.line("%-40s %-9s issued by the user CA", userUID+"@"+q.cfg.Zone, userUID+"/")

	// The proxy's own server certificate, trusted by the clients below.
	q.proxyName = q.fqdn(proxyLabel)
	pn, err := identity.ParseName(q.proxyName)
	if err != nil {
		return err
	}
	pKey, err := identity.GenerateKey(identity.DefaultKey, nil)
	if err != nil {
		return err
	}
	pCert, err := identity.SelfSigned(pn, pKey, identity.Options{})
	if err != nil {
		return err
	}
	if err := q.writeIdentity(proxyDir, pKey, identity.MarshalCertificate(pCert)); err != nil {
		return err
	}
	q.proxyDir = q.path(proxyDir)
	q.proxyPool = x509.NewCertPool()
	q.proxyPool.AddCert(pCert)
	q.p.line("%-40s %-9s the proxy's server certificate", q.proxyName, proxyDir+"/")

	q.p.dance("id", "new", "--name", q.fqdn(dev1+"._device"), "--out", q.path(dev1))
	q.p.dance("ca", "new", "--name", q.cfg.Zone, "--user", "--out", q.path(userCADir))
	q.p.dance("id", "new", "--user", userUID, "--domain", q.cfg.Zone, "--ca", q.path(userCADir, danetls.CertFile),
		"--ca-key", q.path(userCADir, danetls.KeyFile), "--out", q.path(userUID))
	q.p.verdict("ok: keys and certificates written in %s", q.dir)
	return nil
}

// writeIdentity writes DIR/name/key.pem and DIR/name/cert.pem with the
// modes "dance id new" uses, key first: a certificate on disk always has
// its key.
// selfSigned writes a new self-signed identity for n in the directory
// label and returns its DANE-EE SPKI SHA-256 (3 1 1) record, unpublished.
func (q *qs) selfSigned(label string, n identity.Name) (tlsa.Record, error) {
	key, err := identity.GenerateKey(identity.DefaultKey, nil)
	if err != nil {
		return tlsa.Record{}, err
	}
	cert, err := identity.SelfSigned(n, key, identity.Options{})
	if err != nil {
		return tlsa.Record{}, err
	}
	if err := q.writeIdentity(label, key, identity.MarshalCertificate(cert)); err != nil {
		return tlsa.Record{}, err
	}
	return tlsa.ForCertificate(cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
}

func (q *qs) writeIdentity(name string, key crypto.Signer, certPEM []byte) error {
	dir := q.path(name)
	if err := os.MkdirAll(dir, identity.DirMode); err != nil {
		return err
	}
	keyPEM, err := identity.MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	if err := identity.WriteFile(filepath.Join(dir, danetls.KeyFile), keyPEM, identity.KeyFileMode, false); err != nil {
		return err
	}
	return identity.WriteFile(filepath.Join(dir, danetls.CertFile), certPEM, identity.PublicFileMode, false)
}
