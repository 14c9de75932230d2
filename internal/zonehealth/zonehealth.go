// Package zonehealth keeps the outcome of a server's DNS check — do the
// zones whose names it authenticates validate as Secure from its resolver
// settings (resolver.CheckZones)? — serves it as /healthz, and runs the
// check again in the background while it fails. The proxy (its
// allow-list) and the zone server (its DANE administrators) use it.
package zonehealth

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

// Sort splits checks into the zones that could not be checked for now
// (unreachable: retrying may help) and those the configuration cannot
// validate (bad: it must change). Zones that validated are left out.
func Sort(checks []resolver.ZoneCheck) (unreachable, bad []resolver.ZoneCheck) {
	for _, z := range checks {
		switch z.Problem {
		case resolver.ProblemNone:
		case resolver.ProblemUnreachable:
			unreachable = append(unreachable, z)
		default:
			bad = append(bad, z)
		}
	}
	return unreachable, bad
}

// Reasons joins the reasons of checks, for an error message.
func Reasons(checks []resolver.ZoneCheck) string {
	parts := make([]string, len(checks))
	for i, c := range checks {
		parts[i] = c.Err().Error()
	}
	return strings.Join(parts, "; ")
}

// BadZones is implemented by the errors that carry the zones a
// configuration cannot validate.
type BadZones interface {
	error
	BadZones() []resolver.ZoneCheck
}

// Check runs one DNS check: the zones that did not answer, and an error
// (a BadZones for the zones that do not validate).
type Check func(ctx context.Context) (unreachable []resolver.ZoneCheck, err error)

// Health is the outcome of the last check. The zero value is healthy,
// logs nothing and retries after a minute at most.
type Health struct {
	// Retry is the first wait before a failed check is repeated; it
	// doubles up to MaxRetry.
	Retry, MaxRetry time.Duration
	// Logger receives each check's outcome; nil discards it.
	Logger *slog.Logger
	// Subject starts every log line and reason ("proxy", "admin
	// identities"); Whose names who is refused while a zone fails ("its
	// clients", "its administrators").
	Subject, Whose string

	mu     sync.Mutex
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

// Err returns why the server is not healthy, or nil.
func (h *Health) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Set records err as the outcome, for a server that has not checked yet.
func (h *Health) Set(err error) { h.set(err) }

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
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.Err(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "unhealthy: %v\n", err)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Watch records the outcome of a check and, while it does not pass, runs
// check again in the background, waiting longer each time, until it
// passes or Watch or Stop is called again. A previous watch is stopped
// first.
func (h *Health) Watch(check Check, unreachable []resolver.ZoneCheck, err error) {
	h.Stop()
	if h.report(unreachable, err) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.mu.Lock()
	h.cancel, h.done = cancel, done
	h.mu.Unlock()
	wait, most := h.Retry, h.MaxRetry
	if most <= 0 {
		most = time.Minute
	}
	if wait <= 0 {
		wait = min(10*time.Second, most)
	}
	go func() {
		defer close(done)
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			u, err := check(ctx)
			if ctx.Err() != nil || h.report(u, err) {
				return
			}
			wait = max(min(2*wait, most), wait)
		}
	}()
}

// report records and logs a check's outcome; it returns whether every
// zone validated.
func (h *Health) report(unreachable []resolver.ZoneCheck, err error) bool {
	log := h.log()
	var parts []string
	for _, z := range unreachable {
		parts = append(parts, z.Err().Error())
		log.Error(h.Subject+": DNS check: the resolver did not answer for a zone; "+h.Whose+" in it are refused until it does; checking again later",
			"zone", strings.TrimSuffix(z.Zone, "."), "reason", z.Reason.String())
	}
	var bz BadZones
	if errors.As(err, &bz) {
		for _, z := range bz.BadZones() {
			parts = append(parts, z.Err().Error())
			log.Error(h.Subject+": DNS check: the zone does not validate; "+h.Whose+" in it are refused",
				"zone", strings.TrimSuffix(z.Zone, "."), "problem", z.Problem.String(), "reason", z.Reason.String())
		}
	} else if err != nil {
		parts = append(parts, err.Error())
	}
	if len(parts) == 0 {
		if h.Err() != nil {
			log.Info(h.Subject + ": DNS check: the zones validate again")
		}
		h.set(nil)
		return true
	}
	h.set(errors.New(h.Subject + ": " + strings.Join(parts, "; ")))
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
