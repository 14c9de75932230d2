package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/dnsbound/dance/internal/zonehealth"
	"github.com/dnsbound/dance/resolver"
)

// ZoneChecker checks that the zones of names validate as Secure;
// *resolver.Resolver is one.
type ZoneChecker interface {
	CheckZones(ctx context.Context, names []string) []resolver.ZoneCheck
}

var _ ZoneChecker = (*resolver.Resolver)(nil)

// Defaults of Health.
const (
	// DefaultHealthRetry is the first wait before zones that were not
	// Secure are checked again; it doubles up to MaxHealthRetry.
	DefaultHealthRetry = 10 * time.Second
	MaxHealthRetry     = 5 * time.Minute
)

// ConfigError reports zones that the proxy's resolver configuration cannot
// validate: every client in them would be refused. Checks holds those
// zones (Problem other than ProblemNone and ProblemUnreachable).
type ConfigError struct {
	Checks []resolver.ZoneCheck
}

func (e *ConfigError) Error() string {
	return "proxy: the resolver cannot validate the allow-listed names: " + zonehealth.Reasons(e.Checks)
}

// BadZones returns Checks.
func (e *ConfigError) BadZones() []resolver.ZoneCheck { return e.Checks }

// CheckConfig runs c over names and sorts the result: a *ConfigError for
// the zones the configuration cannot validate (fix it, retrying will not
// help), and the zones that could not be checked for now (unreachable).
func CheckConfig(ctx context.Context, c ZoneChecker, names []string) (unreachable []resolver.ZoneCheck, err error) {
	unreachable, bad := zonehealth.Sort(c.CheckZones(ctx, names))
	if len(bad) > 0 {
		return unreachable, &ConfigError{Checks: bad}
	}
	return unreachable, nil
}

// Health says whether the proxy can authenticate its clients: whether the
// zones of the allow-list validated as Secure at the last check. Serve it
// as /healthz: 200 "ok", or 503 with the reason. Watch checks again in the
// background while they do not. The zero value is healthy and discards
// its log.
type Health struct {
	// Retry is the first wait before a check is repeated; 0 means
	// DefaultHealthRetry. It doubles up to MaxRetry; 0 means
	// MaxHealthRetry.
	Retry, MaxRetry time.Duration
	// Logger receives each check's outcome; nil discards it.
	Logger *slog.Logger

	h zonehealth.Health
}

// Err returns why the proxy is not healthy, or nil.
func (h *Health) Err() error { return h.h.Err() }

// ServeHTTP answers 200 "ok" when healthy, else 503 with the reason.
func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

// Watch records the outcome of a check (unreachable and err as
// CheckConfig returned them) and, while it is not healthy, checks the
// zones of names through c again in the background, waiting longer each
// time, until they all validate or Watch or Stop is called again. A
// previous watch is stopped first.
func (h *Health) Watch(c ZoneChecker, names []string, unreachable []resolver.ZoneCheck, err error) {
	h.h.Stop()
	h.h.Retry, h.h.MaxRetry = h.Retry, h.MaxRetry
	if h.h.Retry <= 0 {
		h.h.Retry = DefaultHealthRetry
	}
	if h.h.MaxRetry <= 0 {
		h.h.MaxRetry = MaxHealthRetry
	}
	h.h.Logger, h.h.Subject, h.h.Whose = h.Logger, "proxy", "clients"
	check := func(ctx context.Context) ([]resolver.ZoneCheck, error) { return CheckConfig(ctx, c, names) }
	h.h.Watch(check, unreachable, err)
}

// Stop ends the background checks, if any, and waits for them.
func (h *Health) Stop() { h.h.Stop() }
