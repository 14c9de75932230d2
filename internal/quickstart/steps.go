package quickstart

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/httplimit"
	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/admin"
	"github.com/dnsbound/dance/zone/change"
	"github.com/miekg/dns"
)

// step 4: the records go in through the admin API, as "dance zone add"
// sends them, and come back out of the validating resolver.
func (q *qs) publish(ctx context.Context, _ int) error {
	userCA, err := identity.UserCAName(q.cfg.Zone)
	if err != nil {
		return err
	}
	owners := []string{q.deviceName(dev1), q.deviceName(dev2), userCA.String()}
	var serial uint32
	for _, o := range owners {
		rec := q.records[o]
		res, err := q.api.Publish(ctx, o, []admin.Record{{Type: "TLSA", Data: rec.String()}}, change.Add)
		if err != nil {
			return fmt.Errorf("admin API: %s: %w", o, err)
		}
		serial = res.Serial
	}
	for _, o := range owners {
		r, err := q.resolver.Lookup(ctx, dns.Fqdn(o), dns.TypeTLSA)
		if err != nil {
			return err
		}
		if err := r.Err(); err != nil {
			return fmt.Errorf("%s TLSA: %w", o, err)
		}
		if len(r.Records) != 1 || !sameTLSA(r.Records[0], q.records[o]) {
			return fmt.Errorf("%s TLSA: the resolver returned %v, want %s", o, r.Records, q.records[o])
		}
		rec := strings.Fields(q.records[o].String())
		q.p.line("%-40s TLSA %s %s %s %s  %s", o, rec[0], rec[1], rec[2], short(rec[3]), r.Status)
	}
	first := owners[0]
	q.p.dance("zone", "add", "--dir", q.zoneDir, "--api", q.adminURL, first, "TLSA", q.records[first].String())
	// The same through RFC 2136 UPDATE, signed with the zone's TSIG key.
	host, port, _ := net.SplitHostPort(q.res.DNS)
	script := fmt.Sprintf(`server %s %s\nzone %s\nupdate add %s %d TLSA %s\nsend\n`, host, port, q.cfg.Zone, first, q.ttlSeconds(), q.records[first])
	q.p.shell("printf " + shellQuote(script) + " | nsupdate -k " + shellQuote(filepath.Join(q.zoneDir, zone.TSIGFile)))
	q.p.dance("lookup", first, "--resolver", q.res.DNS, "--anchors", q.anchorsFile)
	q.p.verdict("ok: %d records published (serial %d), each one secure through the resolver", len(owners), serial)
	return nil
}

func (q *qs) deviceName(label string) string { return label + "._device." + q.cfg.Zone }

// step 5: the backend, the verification core and the proxy.
func (q *qs) startProxy(_ context.Context, _ int) error {
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	q.res.Backend = bln.Addr().String()
	q.serveHTTP("backend", httplimit.Defaults().Server(http.HandlerFunc(echoIdentity)), bln)

	userCA, err := identity.UserCAName(q.cfg.Zone)
	if err != nil {
		return err
	}
	patterns := []string{"*._device." + q.cfg.Zone, userCA.String()}
	allow, err := verify.ParseAllowList(patterns)
	if err != nil {
		return err
	}
	core, err := verify.New(verify.Config{Allow: allow, Resolver: q.resolver, Logger: q.log.With("component", "verify")})
	if err != nil {
		return err
	}
	q.obs = newObserver(core)
	if q.res.Proxy, err = q.serveProxy(proxy.EngineCryptoTLS, q.log.With("component", "proxy")); err != nil {
		return err
	}

	q.p.line("proxy https://%s (certificate %s/cert.pem for %s)", q.res.Proxy, q.proxyDir, q.proxyName)
	q.p.line("backend http://%s (part of this run) answers with the identity fields it receives", q.res.Backend)
	q.p.line("allow-list: %s", strings.Join(patterns, " "))
	args := []string{"proxy", "--listen", q.res.Proxy, "--backend", "http://" + q.res.Backend,
		"--cert", q.path(proxyDir, danetls.CertFile), "--key", q.path(proxyDir, danetls.KeyFile)}
	for _, p := range patterns {
		args = append(args, "--allow", p)
	}
	args = append(args, "--resolver", q.res.DNS, "--anchors", q.anchorsFile)
	if q.cfg.TTL < resolver.DefaultMinTTL {
		// The same cache floor as this run's resolver, so that a
		// revocation by hand takes effect within the TTL printed.
		args = append(args, "--min-cache-ttl", q.cfg.TTL.String())
	}
	q.p.dance("id", "new", "--name", q.proxyName, "--out", q.proxyDir)
	q.p.dance(args...)
	q.p.verdict("ok: proxy listening on %s", q.res.Proxy)
	return nil
}

// echoIdentity is the backend: it knows nothing of DANE and answers with
// the identity fields the proxy set.
func echoIdentity(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s: %s\n", proxy.DefaultNameHeader, r.Header.Get(proxy.DefaultNameHeader))
	fmt.Fprintf(w, "%s: %s\n", proxy.DefaultKindHeader, r.Header.Get(proxy.DefaultKindHeader))
	fmt.Fprintf(w, "Client-Cert: %d bytes\n", len(r.Header.Get("Client-Cert")))
}

// client is one identity that connects through the proxy.
type client struct {
	dir     string // directory name under the run's directory
	claimed string // the name its certificate claims
	subject string // what the backend should see; "" when refused
	kind    string
}

func (q *qs) clients() (accepted []client, refused client) {
	userCA, _ := identity.UserCAName(q.cfg.Zone)
	accepted = []client{
		{dev1, q.deviceName(dev1), q.deviceName(dev1), "device"},
		{dev2, q.deviceName(dev2), q.deviceName(dev2), "device"},
		{userUID, userCA.String(), userUID + "@" + q.cfg.Zone, "user"},
	}
	return accepted, client{devUnpublished, q.deviceName(devUnpublished), "", ""}
}

// step 6: each published identity is accepted and reaches the backend with
// its name; the unpublished one is refused.
func (q *qs) connectAll(ctx context.Context, n int) error {
	accepted, refused := q.clients()
	for _, c := range accepted {
		a, err := q.connect(ctx, n, c)
		if err != nil {
			return err
		}
		if !a.Accepted {
			return fmt.Errorf("%s was refused (%s)", c.subject, a.Reason)
		}
		q.p.line("%-40s accepted; the backend saw %s: %s, %s: %s", c.subject, proxy.DefaultNameHeader, a.Name, proxy.DefaultKindHeader, a.Kind)
		if a.Name != c.subject || a.Kind != c.kind {
			return fmt.Errorf("the backend saw %q (%s) for %s, want %q (%s)", a.Name, a.Kind, c.dir, c.subject, c.kind)
		}
	}
	a, err := q.connect(ctx, n, refused)
	if err != nil {
		return err
	}
	if a.Accepted {
		return fmt.Errorf("%s, never published, was accepted as %q", refused.claimed, a.Name)
	}
	q.p.line("%-40s refused with a TLS alert; the proxy's log says: %s (%s)", refused.claimed, a.Reason, a.Detail)
	if a.Reason != verify.ReasonNoRecord.String() {
		return fmt.Errorf("%s was refused for %s, want %s", refused.claimed, a.Reason, verify.ReasonNoRecord)
	}
	host := q.proxyName + ":" + portOf(q.res.Proxy)
	q.p.dance("connect", "--identity", q.path(dev1), "--ca", q.path(proxyDir, danetls.CertFile), "--server-name", q.proxyName, "https://"+q.res.Proxy+"/")
	q.p.dance("verify", "--chain", q.path(userUID, danetls.CertFile), "--resolver", q.res.DNS, "--anchors", q.anchorsFile)
	q.p.cmd("curl", "--cacert", q.path(proxyDir, danetls.CertFile), "--cert", q.path(userUID, danetls.CertFile), "--key", q.path(userUID, danetls.KeyFile),
		"--resolve", host+":127.0.0.1", "https://"+host+"/")
	q.p.cmd("openssl", "s_client", "-connect", q.res.Proxy, "-servername", q.proxyName, "-CAfile", q.path(proxyDir, danetls.CertFile),
		"-cert", q.path(dev1, danetls.CertFile), "-key", q.path(dev1, danetls.KeyFile))
	q.p.verdict("ok: %d identities accepted with the right names, the unpublished one refused", len(accepted))
	return nil
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// connect makes one HTTPS request through the proxy with c's identity, on
// a new connection (no keep-alive, no session resumption), so that every
// attempt is a new verdict. A refusal is an Attempt; an error is anything
// else (the proxy unreachable, the backend failing).
func (q *qs) connect(ctx context.Context, step int, c client) (Attempt, error) {
	a := Attempt{Step: step, Identity: c.dir}
	cert, err := danetls.LoadIdentity(q.path(c.dir))
	if err != nil {
		return a, err
	}
	tr := &http.Transport{
		Proxy:             nil,
		TLSClientConfig:   danetls.ClientConfig(&tls.Config{RootCAs: q.proxyPool, ServerName: q.proxyName}, cert),
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, "https://"+q.res.Proxy+"/", nil)
	if err != nil {
		return a, err
	}
	q.obs.forget(c.claimed)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if !isRefusal(err) {
			return a, err
		}
		a.Reason = "(no verdict recorded)"
		if v, ok := q.obs.lastVerdict(c.claimed); ok && v.id == nil {
			a.Reason, a.Detail = v.reason.String(), v.detail
		}
		q.res.Attempts = append(q.res.Attempts, a)
		return a, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusForbidden {
		// The handshake was accepted on a cached verdict that expired
		// before the request: the proxy verified the identity again
		// and refused it (a revocation seen at the TTL's edge).
		a.Reason = "(no verdict recorded)"
		if v, ok := q.obs.lastVerdict(c.claimed); ok && v.id == nil {
			a.Reason, a.Detail = v.reason.String(), v.detail
		}
		q.res.Attempts = append(q.res.Attempts, a)
		return a, nil
	}
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("%s: the proxy answered %s", c.dir, resp.Status)
	}
	if err := a.readWhoami(resp.Body); err != nil {
		return a, err
	}
	a.Accepted = true
	q.res.Attempts = append(q.res.Attempts, a)
	return a, nil
}

// readWhoami sets a's Name and Kind from the answer of the whoami backend:
// the header lines the proxy added, as the backend echoes them.
func (a *Attempt) readWhoami(body io.Reader) error {
	sc := bufio.NewScanner(io.LimitReader(body, 4096))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		switch k {
		case proxy.DefaultNameHeader:
			a.Name = v
		case proxy.DefaultKindHeader:
			a.Kind = v
		}
	}
	return sc.Err()
}

// isRefusal reports whether err is the server's TLS alert: in TLS 1.3 the
// client learns that its certificate was refused when it reads.
func isRefusal(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" {
		return true
	}
	return strings.Contains(err.Error(), "remote error: tls:")
}

// step 7: revocation is removing the record (or, where a wildcard covers
// the name, revoking it: printed as the command to use then). Caches may
// keep it for up to its TTL; the device is refused once they drop it.
func (q *qs) revoke(ctx context.Context, n int) error {
	accepted, _ := q.clients()
	c := accepted[1]
	removed := time.Now()
	res, err := q.api.Publish(ctx, c.claimed, nil, change.Remove)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	serial := res.Serial
	q.p.line("%s removed from the zone (serial %d)", c.claimed, serial)
	q.p.dance("zone", "remove", "--dir", q.zoneDir, "--api", q.adminURL, c.claimed)
	q.p.line("no wildcard covers it here, so removing revokes it; where one does (an organisation CA")
	q.p.line("at *._device.ZONE), revoke it instead: the marker it publishes shadows the wildcard")
	q.p.dance("zone", "revoke", "--dir", q.zoneDir, "--api", q.adminURL, c.claimed)
	a, err := q.connect(ctx, n, c)
	if err != nil {
		return err
	}
	if a.Accepted {
		left := "unknown"
		if v, ok := q.obs.lastVerdict(c.claimed); ok && v.id != nil {
			left = fmt.Sprintf("%.1fs", time.Until(v.id.Expires).Seconds())
		}
		q.p.line("right away: still accepted, from caches that hold the record until its TTL runs out (%s left)", left)
		deadline := removed.Add(2*q.cfg.TTL + revokeSlack)
		q.p.partial("   waiting out the TTL (%ds):", q.ttlSeconds())
		// One mark a second, or ten marks in all for a long TTL.
		every := max(1, int(q.ttlSeconds())/10)
		shown := 0
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		for a.Accepted {
			if time.Now().After(deadline) {
				q.p.partial("\n")
				return fmt.Errorf("%s still accepted %s after its record was removed (TTL %ds)", c.claimed, time.Since(removed).Round(time.Second), q.ttlSeconds())
			}
			select {
			case <-ctx.Done():
				q.p.partial("\n")
				return ctx.Err()
			case <-t.C:
			}
			at := time.Since(removed)
			if a, err = q.connect(ctx, n, c); err != nil {
				q.p.partial("\n")
				return err
			}
			// A mark says the device was still accepted at that time.
			if s := int(at/time.Second) / every * every; a.Accepted && s > shown {
				if shown == 0 {
					q.p.partial(" accepted at")
				}
				shown = s
				q.p.partial(" %ds", s)
			}
		}
		if shown > 0 {
			q.p.partial(",")
		}
		q.p.partial(" refused at %.1fs\n", time.Since(removed).Seconds())
	} else {
		q.p.line("right away: refused (no cache held the record)")
	}
	q.p.line("%-40s refused; the proxy's log says: %s (%s)", c.claimed, a.Reason, a.Detail)
	if a.Reason != verify.ReasonNoRecord.String() {
		return fmt.Errorf("%s was refused for %s, want %s", c.claimed, a.Reason, verify.ReasonNoRecord)
	}
	other := accepted[0]
	b, err := q.connect(ctx, n, other)
	if err != nil {
		return err
	}
	if !b.Accepted || b.Name != other.subject {
		return fmt.Errorf("%s, not revoked, was refused (%s)", other.subject, b.Reason)
	}
	q.p.line("%-40s still accepted", other.subject)
	q.p.verdict("ok: %s refused once caches dropped its record; %s unaffected", c.claimed, other.subject)
	return nil
}

// step 8: stop everything, newest first, and check that every port is
// closed.
func (q *qs) shutdown() error {
	var errs []error
	var stopped []string
	for i := len(q.stops) - 1; i >= 0; i-- {
		s := q.stops[i]
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		if err := s.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.what, err))
		}
		cancel()
		stopped = append(stopped, s.what)
	}
	if q.apiTr != nil {
		q.apiTr.CloseIdleConnections()
	}
	if len(stopped) > 0 {
		q.p.line("stopped: %s", strings.Join(stopped, ", "))
	}
	var ports []string
	for _, addr := range []string{q.res.DNS, q.res.Admin, q.res.Backend, q.res.Proxy, q.res.DanceProxy} {
		if addr == "" {
			continue
		}
		ports = append(ports, portOf(addr))
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			errs = append(errs, fmt.Errorf("%s still accepts connections", addr))
		}
	}
	if q.temp && !q.cfg.Keep {
		if err := os.RemoveAll(q.dir); err != nil {
			errs = append(errs, err)
		} else {
			q.p.line("removed %s", q.dir)
		}
	} else {
		q.p.line("files kept in %s", q.dir)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(ports) > 0 {
		q.p.verdict("ok: nothing left running; ports %s closed", strings.Join(ports, ", "))
	} else {
		q.p.verdict("ok: nothing was running")
	}
	return nil
}

// sameTLSA reports whether rr is the TLSA record want.
func sameTLSA(rr dns.RR, want tlsa.Record) bool {
	t, ok := rr.(*dns.TLSA)
	if !ok {
		return false
	}
	got, err := tlsa.FromDNS(t)
	return err == nil && got.Equal(want)
}

// serveProxy runs a proxy (ModeHTTP, with engine) in front of the backend,
// with the proxy's certificate and the verification core, on a port of
// its own; it is stopped with the others. It returns the address.
func (q *qs) serveProxy(engine proxy.Engine, log *slog.Logger) (string, error) {
	pair, err := tls.LoadX509KeyPair(q.path(proxyDir, danetls.CertFile), q.path(proxyDir, danetls.KeyFile))
	if err != nil {
		return "", err
	}
	srv, err := proxy.New(proxy.Config{
		Mode:     proxy.ModeHTTP,
		Engine:   engine,
		Backend:  "http://" + q.res.Backend,
		TLS:      &tls.Config{Certificates: []tls.Certificate{pair}},
		Verifier: q.obs,
		Logger:   log,
	})
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	what := "proxy"
	if engine != proxy.EngineCryptoTLS {
		what += " (engine " + engine.String() + ")"
	}
	q.onStop(what, func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		if serr := <-served; !errors.Is(serr, proxy.ErrServerClosed) {
			return serr
		}
		return err
	})
	return ln.Addr().String(), nil
}
