package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/dnsbound/dance/internal/zonehealth"
	"github.com/dnsbound/dance/resolver"
)

// The zones of the XoT allow-list are checked as those of the admin
// allow-list are (admincheck.go): at start and on Reload, a resolver
// configuration that cannot validate them is refused, since every
// secondary would be refused; a resolver that does not answer is logged,
// checked again in the background, and reported by Health. Without
// XoTConfig.Resolver.Upstreams the check runs in New, before anything
// serves; with upstreams, in Run once the DNS listeners serve.

// XoTCheckError reports zones of the XoT allow-list that the secondaries'
// resolver cannot validate, so that every secondary in them would be
// refused. Checks holds those zones. Retrying does not help: change the
// anchors (XoTConfig.AnchorsFile) or the resolver (XoTConfig.Resolver).
type XoTCheckError struct {
	Checks []resolver.ZoneCheck
	// Self says the resolver is this server itself (no
	// Resolver.Upstreams).
	Self bool
}

// BadZones returns Checks.
func (e *XoTCheckError) BadZones() []resolver.ZoneCheck { return e.Checks }

func (e *XoTCheckError) Error() string {
	s := "serve: the XoT secondaries' resolver cannot validate the allow-listed names: " + zonehealth.Reasons(e.Checks)
	if e.Self {
		s += "; they are looked up on this server itself, so the XoT anchors file must hold this zone's own keys (DIR/anchors does), or give the secondaries a resolver"
	}
	return s
}

// checkXoTZones checks the zones of the XoT allow-list with r: an
// *XoTCheckError for the zones r cannot validate, and the zones that could
// not be checked for now.
func (s *Server) checkXoTZones(ctx context.Context, r *resolver.Resolver) (unreachable []resolver.ZoneCheck, err error) {
	ctx, cancel := context.WithTimeout(ctx, adminCheckTimeout)
	defer cancel()
	unreachable, bad := zonehealth.Sort(r.CheckZones(ctx, s.xotNames))
	if len(bad) > 0 {
		return unreachable, &XoTCheckError{Checks: bad, Self: s.xotSelf}
	}
	return unreachable, nil
}

// recheckXoT checks the XoT zones again with the resolver in force.
func (s *Server) recheckXoT(ctx context.Context) ([]resolver.ZoneCheck, error) {
	return s.checkXoTZones(ctx, s.xotResolver.r.Load())
}

// errXoTNotChecked is the XoT health of a server whose XoT zones are
// checked once it serves.
var errXoTNotChecked = errors.New("the zones of the XoT allow-list are not checked yet")

// healthHandler serves Server.Health as GET /healthz: 200 "ok", or 503
// with the reason.
type healthHandler struct{ s *Server }

func (h healthHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.s.Health(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "unhealthy: %v\n", err)
		return
	}
	fmt.Fprintln(w, "ok")
}
