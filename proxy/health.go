package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

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
	var parts []string
	for _, c := range e.Checks {
		parts = append(parts, c.Err().Error())
	}
	return "proxy: the resolver cannot validate the allow-listed names: " + strings.Join(parts, "; ")
}

// CheckConfig runs c over names and sorts the result: a *ConfigError for
// the zones the configuration cannot validate (fix it, retrying will not
// help), and the zones that could not be checked for now (unreachable).
func CheckConfig(ctx context.Context, c ZoneChecker, names []string) (unreachable []resolver.ZoneCheck, err error) {
	var bad []resolver.ZoneCheck
	for _, z := range c.CheckZones(ctx, names) {
		switch z.Problem {
		case resolver.ProblemNone:
		case resolver.ProblemUnreachable:
			unreachable = append(unreachable, z)
		default:
			bad = append(bad, z)
		}
	}
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

	mu     sync.Mutex
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

// Err returns why the proxy is not healthy, or nil.
func (h *Health) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func (h *Health) set(err error) {
	h.mu.Lock()
	h.err = err
	h.mu.Unlock()
}

func (h *Health) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// ServeHTTP answers 200 "ok" when healthy, else 503 with the reason.
func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.Err(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "unhealthy: %v\n", err)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Watch records the outcome of a check (unreachable and err as
// CheckConfig returned them) and, while it is not healthy, checks the
// zones of names through c again in the background, waiting longer each
// time, until they all validate or Watch or Stop is called again. A
// previous watch is stopped first.
func (h *Health) Watch(c ZoneChecker, names []string, unreachable []resolver.ZoneCheck, err error) {
	h.Stop()
	if h.report(unreachable, err) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.mu.Lock()
	h.cancel, h.done = cancel, done
	h.mu.Unlock()
	go func() {
		defer close(done)
		wait, most := h.Retry, h.MaxRetry
		if wait <= 0 {
			wait = DefaultHealthRetry
		}
		if most <= 0 {
			most = MaxHealthRetry
		}
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			u, err := CheckConfig(ctx, c, names)
			if ctx.Err() != nil {
				return
			}
			if h.report(u, err) {
				return
			}
			wait = max(min(2*wait, most), wait)
		}
	}()
}

// report records and logs a check's outcome; it returns whether all zones
// validated.
func (h *Health) report(unreachable []resolver.ZoneCheck, err error) bool {
	log := h.log()
	var parts []string
	for _, z := range unreachable {
		parts = append(parts, z.Err().Error())
		log.Error("proxy: DNS check: the resolver did not answer for a zone; its clients are refused until it does; checking again later",
			"zone", strings.TrimSuffix(z.Zone, "."), "reason", z.Reason.String())
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		for _, z := range ce.Checks {
			parts = append(parts, z.Err().Error())
			log.Error("proxy: DNS check: the zone does not validate; its clients are refused",
				"zone", strings.TrimSuffix(z.Zone, "."), "problem", z.Problem.String(), "reason", z.Reason.String())
		}
	} else if err != nil {
		parts = append(parts, err.Error())
	}
	if len(parts) == 0 {
		if h.Err() != nil {
			log.Info("proxy: DNS check: the allow-listed zones validate again")
		}
		h.set(nil)
		return true
	}
	h.set(errors.New(strings.Join(parts, "; ")))
	return false
}

// Stop ends the background checks, if any, and waits for them.
func (h *Health) Stop() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.cancel, h.done = nil, nil
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
