package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/zonehealth"
	"github.com/dnsbound/dance/resolver"
)

// The zones of the admin allow-list are checked the way the proxy checks
// its own (resolver.CheckZones): at start and on Reload, a resolver
// configuration that cannot validate them is refused, since every DANE
// administrator would be refused; a resolver that does not answer is
// logged, checked again in the background, and reported by Health.
//
// Without Resolver.Upstreams the administrators' TLSA records are asked of
// this server itself, in process: only names of this zone can be found
// there, and only anchors that hold this zone's own keys (DIR/anchors, the
// default) validate them, since the parent is not served here. Both are
// known before anything serves, so New checks them at once. With
// upstreams (a recursive resolver that may well ask this very server), the
// first check runs in Run, once the DNS listeners serve.

// Defaults of AdminConfig.CheckRetry.
const (
	// DefaultAdminCheckRetry is the first wait before the zones of the
	// admin allow-list are checked again after a check that did not pass;
	// it doubles up to MaxAdminCheckRetry.
	DefaultAdminCheckRetry = 10 * time.Second
	MaxAdminCheckRetry     = 5 * time.Minute
)

// adminCheckTimeout bounds one check of the allow-list's zones; zones not
// checked by then count as unreachable.
const adminCheckTimeout = 30 * time.Second

// AdminCheckError reports zones of the admin allow-list that the admin
// identities' resolver cannot validate, so that every administrator in
// them would be refused. Checks holds those zones (a Problem other than
// ProblemNone and ProblemUnreachable). Retrying does not help: change the
// anchors (AdminConfig.AnchorsFile) or the resolver (AdminConfig.Resolver).
type AdminCheckError struct {
	Checks []resolver.ZoneCheck
	// Self says the resolver is this server itself (no
	// Resolver.Upstreams).
	Self bool
}

// BadZones returns Checks.
func (e *AdminCheckError) BadZones() []resolver.ZoneCheck { return e.Checks }

func (e *AdminCheckError) Error() string {
	s := "serve: the admin identities' resolver cannot validate the allow-listed names: " + zonehealth.Reasons(e.Checks)
	if e.Self {
		s += "; they are looked up on this server itself, so the admin anchors file must hold this zone's own keys (DIR/anchors does), or give the admin identities a resolver"
	}
	return s
}

// AdminOutsideZoneError is an admin allow-list with names outside the zone
// served while the administrators' records are looked up on this server
// itself (no Resolver.Upstreams): they cannot be found there.
type AdminOutsideZoneError struct {
	Zone  string
	Names []string
}

func (e *AdminOutsideZoneError) Error() string {
	return fmt.Sprintf("serve: the admin allow-list names %s outside the zone %s, and without a resolver of their own the admin identities are looked up on this server, which does not serve them: give the admin identities a resolver (AdminConfig.Resolver.Upstreams) or keep the allow-list inside the zone",
		strings.Join(e.Names, ", "), strings.TrimSuffix(e.Zone, "."))
}

// checkOutside returns an *AdminOutsideZoneError when names are asked of
// this server and some lie outside its zone.
func (s *Server) checkOutside(names []string) error {
	if origin, out := s.outsideZone(names); len(out) > 0 {
		return &AdminOutsideZoneError{Zone: origin, Names: out}
	}
	return nil
}

// outsideZone returns the zone's origin and those of names outside it
// (without their final dot).
func (s *Server) outsideZone(names []string) (origin string, out []string) {
	origin = dns.CanonicalName(s.zone.Origin())
	for _, n := range names {
		if !dns.IsSubDomain(origin, dns.CanonicalName(n)) {
			out = append(out, strings.TrimSuffix(n, "."))
		}
	}
	return origin, out
}

// checkAdmin checks the zones of the admin allow-list with r: an
// *AdminCheckError for the zones r cannot validate, and the zones that
// could not be checked for now.
func (s *Server) checkAdmin(ctx context.Context, r *resolver.Resolver) (unreachable []resolver.ZoneCheck, err error) {
	ctx, cancel := context.WithTimeout(ctx, adminCheckTimeout)
	defer cancel()
	unreachable, bad := zonehealth.Sort(r.CheckZones(ctx, s.adminNames))
	if len(bad) > 0 {
		return unreachable, &AdminCheckError{Checks: bad, Self: s.adminSelf}
	}
	return unreachable, nil
}

// errNotChecked is the health of a server whose admin zones are checked
// once it serves.
var errNotChecked = errors.New("the zones of the admin allow-list are not checked yet")

// Health returns why the server cannot do all it was configured for, or
// nil: today, whether the zones of the admin allow-list (DANE
// administrators) and of the XoT allow-list (DANE-authenticated
// secondaries) validated at their last check. The metrics listener
// serves it as GET /healthz: 200 "ok", or 503 with the reason.
func (s *Server) Health() error {
	return errors.Join(s.health.Err(), s.xotHealth.Err())
}

// inProcess answers the admin identities' queries with this server's DNS
// handler, without the network: what the server's listener would answer.
func (s *Server) inProcess(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
	w := &memWriter{}
	s.dns.ServeDNS(w, q)
	if w.err != nil {
		return nil, w.err
	}
	if w.msg == nil {
		return nil, errors.New("serve: no answer from this server")
	}
	return w.msg, nil
}

// memWriter is a dns.ResponseWriter that keeps the response: a TCP peer
// on loopback, so that no UDP size limit or response rate limit applies.
type memWriter struct {
	msg *dns.Msg
	err error
}

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

func (w *memWriter) LocalAddr() net.Addr       { return memAddr }
func (w *memWriter) RemoteAddr() net.Addr      { return memAddr }
func (w *memWriter) WriteMsg(m *dns.Msg) error { w.msg = m.Copy(); return nil }
func (w *memWriter) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		w.err = err
		return 0, err
	}
	w.msg = m
	return len(b), nil
}
func (w *memWriter) Close() error        { return nil }
func (w *memWriter) TsigStatus() error   { return nil }
func (w *memWriter) TsigTimersOnly(bool) {}
func (w *memWriter) Hijack()             {}

var _ dns.ResponseWriter = (*memWriter)(nil)
