package server

import (
	"context"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// NOTIFY timing. RFC 1996 §3.6 has the primary retransmit an unanswered
// NOTIFY, with the interval and the number of retransmissions operational
// parameters ("reasonable defaults are a 60 second interval ... and a
// maximum of 5 retransmissions (for UDP)"; additive or exponential back-off
// is allowed). A secondary that restarts or drops a packet is reached again
// within seconds, not after its SOA refresh (soaRefresh, 1 hour): the
// first retry comes notifyFirstRetry after an unanswered attempt, each
// following one twice as late, up to notifyMaxRetry, and after
// notifyAttempts attempts the secondary is left to its SOA refresh.
const (
	// notifyTimeout is how long one attempt waits for the response.
	notifyTimeout = 2 * time.Second
	// notifyFirstRetry is the wait after the first unanswered attempt.
	notifyFirstRetry = 4 * time.Second
	// notifyMaxRetry caps the wait between attempts: RFC 1996 §3.6's 60 s.
	notifyMaxRetry = 60 * time.Second
	// notifyAttempts is the first NOTIFY and its 5 retransmissions (RFC
	// 1996 §3.6): with the waits 4, 8, 16, 32 and 60 s, the last is sent
	// two minutes after the first.
	notifyAttempts = 6
)

// notifyBackoff is the wait after the attempt-th (from 1) unanswered
// NOTIFY to a secondary: notifyFirstRetry, doubling, at most
// notifyMaxRetry.
func notifyBackoff(attempt int) time.Duration {
	d := notifyFirstRetry
	for i := 1; i < attempt && d < notifyMaxRetry; i++ {
		d *= 2
	}
	return min(d, notifyMaxRetry)
}

// changed wakes the notifier after a change of the zone, by any writer. It
// never blocks: the zone's writers (updates, the admin API) do not wait
// for secondaries.
func (s *Server) changed() {
	select {
	case s.changedc <- struct{}{}:
	default: // a notification is already pending; it will carry this change
	}
}

// notifier sends NOTIFY to every configured secondary after each change.
// Each secondary has its own loop, so one that does not answer delays no
// other; a change made while a secondary's retries are pending starts them
// over with the new serial (the older one needs no NOTIFY of its own). It
// returns when ctx ends, with every loop stopped.
func (s *Server) notifier(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wakes := make([]chan struct{}, len(s.cfg.Notify))
	for i, target := range s.cfg.Notify {
		wakes[i] = make(chan struct{}, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.notifyLoop(ctx, target, wakes[i])
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.changedc:
		}
		for _, w := range wakes {
			select {
			case w <- struct{}{}:
			default: // already woken; the attempt to come sends the newest serial
			}
		}
	}
}

// notifyLoop notifies target each time wake fires, retrying an
// unanswered NOTIFY with back-off (notifyBackoff) until it is answered,
// notifyAttempts were made, a newer change starts the retries over, or ctx
// ends.
func (s *Server) notifyLoop(ctx context.Context, target string, wake <-chan struct{}) {
	after := s.cfg.notifyAfter
	if after == nil {
		after = time.After
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	attempts:
		for attempt := 1; ; attempt++ {
			if s.notifyOnce(ctx, target, attempt) {
				break
			}
			if ctx.Err() != nil {
				return
			}
			if attempt >= notifyAttempts {
				s.metrics.count(outcomeNotifyFailed)
				s.log.Warn("notify: secondary did not answer; it will see the change at its SOA refresh", "secondary", target, "attempts", attempt)
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-wake:
				// A newer serial: its NOTIFY replaces the pending
				// retries, from the first attempt.
				attempt = 0
				continue attempts
			case <-after(notifyBackoff(attempt)):
			}
		}
	}
}

// notifyOnce sends one NOTIFY with the zone's current SOA and reports
// whether the secondary acknowledged it.
func (s *Server) notifyOnce(ctx context.Context, target string, attempt int) bool {
	timeout := s.cfg.notifyTimeout
	if timeout == 0 {
		timeout = notifyTimeout
	}
	c := &dns.Client{Net: "udp", Timeout: timeout}
	m := new(dns.Msg)
	m.SetNotify(s.cfg.Zone.Origin())
	m.Authoritative = true
	m.Answer = s.cfg.Zone.Get(s.cfg.Zone.Origin(), dns.TypeSOA)
	r, _, err := c.ExchangeContext(ctx, m, target)
	if err == nil && r.Rcode == dns.RcodeSuccess {
		s.metrics.count(outcomeNotifySent)
		s.log.Debug("notify acknowledged", "secondary", target, "attempt", attempt)
		return true
	}
	if ctx.Err() == nil {
		rcode := ""
		if r != nil {
			rcode = dns.RcodeToString[r.Rcode]
		}
		s.log.Warn("notify not acknowledged", "secondary", target, "attempt", attempt, "rcode", rcode, "err", err)
	}
	return false
}
