package secondary

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ExpirePolicy is what a Secondary does with its file when the copy
// expires: when the SOA expire time (RFC 1035 §3.3.13) has passed since
// the last successful refresh, the data must no longer be treated as
// authoritative (RFC 1034 §4.3.5).
type ExpirePolicy string

// Expire policies.
const (
	// ExpireKeep leaves the file: the server loading it goes on
	// answering with the last copy. The state is logged, on Status and
	// on Health.
	ExpireKeep ExpirePolicy = "keep"
	// ExpireRemove deletes the file (one unlink, atomic for a reader), so
	// a server loading it has no stale data to load. The copy is kept in
	// memory, and written again at the next successful refresh.
	ExpireRemove ExpirePolicy = "remove"
)

// ParseExpirePolicy reads "keep" or "remove"; "" is ExpireKeep.
func ParseExpirePolicy(s string) (ExpirePolicy, error) {
	switch ExpirePolicy(s) {
	case "", ExpireKeep:
		return ExpireKeep, nil
	case ExpireRemove:
		return ExpireRemove, nil
	}
	return "", fmt.Errorf("secondary: expire policy %q: want %s or %s", s, ExpireKeep, ExpireRemove)
}

// Status is the state of a Secondary's copy.
type Status struct {
	// Serial is the serial of the copy held; HasCopy is false without one.
	Serial  uint32
	HasCopy bool
	// LastSuccess is the last successful refresh: a transfer, or a check
	// that found the serial current. Run counts from its start for a copy
	// read from the file.
	LastSuccess time.Time
	// LastErr is the failure of the last refresh, nil after a success.
	LastErr error
	// Expired is true when the SOA expire time passed since LastSuccess;
	// Removed when the file was deleted for it (ExpireRemove).
	Expired bool
	Removed bool
}

// state is what Status reports; guarded by its own mutex, as a refresh
// holds Secondary.mu for a whole transfer.
type state struct {
	mu          sync.Mutex
	lastSuccess time.Time
	lastErr     error
	expired     bool
	removed     bool
	expire      time.Duration // of the copy held; 0 without one
	// warnedExpire is the expire last warned about as too short.
	warned       bool
	warnedExpire time.Duration
	serial       uint32
	hasCopy      bool
}

// metrics are the gauges of Config.Registerer.
type metrics struct {
	expired     prometheus.Gauge
	lastSuccess prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, zone string) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	lbl := prometheus.Labels{"zone": zone}
	m := &metrics{
		expired: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dance", Subsystem: "secondary", Name: "expired",
			Help: "1 when the SOA expire time has passed since the last successful refresh of the zone's copy, else 0.", ConstLabels: lbl}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dance", Subsystem: "secondary", Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last successful refresh (a transfer, or a check that found the serial current).", ConstLabels: lbl}),
	}
	for _, c := range []prometheus.Collector{m.expired, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("secondary: metrics: %w", err)
		}
	}
	return m, nil
}

// Status returns the state of the copy.
func (s *Secondary) Status() Status {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return Status{Serial: s.st.serial, HasCopy: s.st.hasCopy, LastSuccess: s.st.lastSuccess, LastErr: s.st.lastErr,
		Expired: s.st.expired, Removed: s.st.removed}
}

// Health answers GET with 200 "ok", or 503 and the reason while the copy
// is expired.
func (s *Secondary) Health() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		st := s.Status()
		if !st.Expired {
			fmt.Fprintln(w, "ok")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, expiredReason(s.origin, s.cfg.Primary, st))
	})
}

func expiredReason(zone, primary string, st Status) string {
	msg := fmt.Sprintf("zone %s expired: no successful refresh from %s since %s (SOA expire passed)", zone, primary, st.LastSuccess.UTC().Format(time.RFC3339))
	if st.LastErr != nil {
		msg += "; last error: " + st.LastErr.Error()
	}
	if st.Removed {
		msg += "; file removed"
	}
	return msg
}

// setCopy records the serial and expire timer of the copy held; the
// caller holds s.mu.
func (s *Secondary) setCopy() {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.hasCopy = s.soa != nil
	if s.soa == nil {
		return
	}
	s.st.serial, s.st.expire = s.soa.Serial, time.Duration(s.soa.Expire)*time.Second
	// An expire shorter than a refresh and a retry expires a copy whose
	// primary answers every refresh (RFC 1912 §2.2 advises weeks).
	refresh := clampRefresh(time.Duration(s.soa.Refresh) * time.Second)
	retry := clampRefresh(time.Duration(s.soa.Retry) * time.Second)
	if s.st.expire < refresh+retry && (!s.st.warned || s.st.warnedExpire != s.st.expire) {
		s.st.warned, s.st.warnedExpire = true, s.st.expire
		s.log.Warn("the zone's SOA expire is shorter than its refresh and retry timers: the copy will expire between refreshes",
			"zone", s.origin, "expire", s.st.expire, "refresh", refresh, "retry", retry)
	}
}

// startClock starts counting toward expiry from now for a copy read from
// the file, whose last refresh is not known.
func (s *Secondary) startClock(now time.Time) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.st.lastSuccess.IsZero() {
		s.st.lastSuccess = now
		s.setLastSuccessMetric(now)
	}
}

func (s *Secondary) setLastSuccessMetric(t time.Time) {
	if s.metrics != nil {
		s.metrics.lastSuccess.Set(float64(t.UnixNano()) / 1e9)
	}
}

// refreshed records a refresh's outcome; the caller holds s.mu. A success
// clears an expired state, writing the file again if it was removed.
func (s *Secondary) refreshed(now time.Time, err error) error {
	s.st.mu.Lock()
	removed, wasExpired := s.st.removed, s.st.expired
	if err != nil {
		s.st.lastErr = err
		s.st.mu.Unlock()
		return err
	}
	s.st.mu.Unlock()
	if removed {
		if werr := s.write(); werr != nil {
			s.st.mu.Lock()
			s.st.lastErr = werr
			s.st.mu.Unlock()
			return werr
		}
	}
	s.st.mu.Lock()
	s.st.lastSuccess, s.st.lastErr, s.st.expired, s.st.removed = now, nil, false, false
	s.setLastSuccessMetric(now)
	s.st.mu.Unlock()
	if s.metrics != nil {
		s.metrics.expired.Set(0)
	}
	if wasExpired {
		s.log.Info("zone no longer expired", "zone", s.origin, "primary", s.cfg.Primary, "serial", s.soa.Serial, "file_rewritten", removed)
	}
	return nil
}

// untilExpiry is the time left before the copy expires: ok is false when
// there is nothing to expire (no copy, no refresh counted yet, or
// already expired).
func (s *Secondary) untilExpiry(now time.Time) (time.Duration, bool) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if !s.st.hasCopy || s.st.expired || s.st.lastSuccess.IsZero() {
		return 0, false
	}
	return s.st.lastSuccess.Add(s.st.expire).Sub(now), true
}

// checkExpiry marks the copy expired once its time has come: it logs the
// error once, sets the metric and applies the policy.
func (s *Secondary) checkExpiry(now time.Time) {
	s.mu.Lock() // no refresh writes the file meanwhile
	defer s.mu.Unlock()
	if d, ok := s.untilExpiry(now); !ok || d > 0 {
		return
	}
	s.st.mu.Lock()
	s.st.expired = true
	st := Status{Serial: s.st.serial, LastSuccess: s.st.lastSuccess, LastErr: s.st.lastErr}
	s.st.mu.Unlock()
	if s.metrics != nil {
		s.metrics.expired.Set(1)
	}
	var lastErr any = "none"
	if st.LastErr != nil {
		lastErr = st.LastErr.Error()
	}
	s.log.Error("zone expired: no successful refresh within the SOA expire time", "zone", s.origin, "primary", s.cfg.Primary,
		"serial", st.Serial, "last_success", st.LastSuccess.UTC().Format(time.RFC3339), "last_err", lastErr, "on_expire", string(s.cfg.OnExpire))
	if s.cfg.OnExpire != ExpireRemove {
		return
	}
	err := os.Remove(s.cfg.File)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Error("removing the expired zone's file failed", "zone", s.origin, "file", s.cfg.File, "err", err)
		return
	}
	s.st.mu.Lock()
	s.st.removed = true
	s.st.mu.Unlock()
	s.log.Warn("expired zone's file removed", "zone", s.origin, "file", s.cfg.File)
}
