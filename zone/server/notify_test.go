package server

import (
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/zone"
)

// fakeSecondary receives NOTIFYs on 127.0.0.1 and answers none of the
// first ignore of them.
type fakeSecondary struct {
	addr   string
	ignore int
	mu     sync.Mutex
	got    []uint32 // the SOA serial of each NOTIFY received
	gotc   chan struct{}
}

func startFakeSecondary(t *testing.T, ignore int) *fakeSecondary {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSecondary{addr: pc.LocalAddr().String(), ignore: ignore, gotc: make(chan struct{}, 100)}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Opcode != dns.OpcodeNotify {
			return
		}
		var serial uint32
		if len(r.Answer) == 1 {
			if soa, ok := r.Answer[0].(*dns.SOA); ok {
				serial = soa.Serial
			}
		}
		f.mu.Lock()
		f.got = append(f.got, serial)
		n := len(f.got)
		f.mu.Unlock()
		f.gotc <- struct{}{}
		if n <= f.ignore {
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return f
}

func (f *fakeSecondary) received() []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// wait waits for the n-th NOTIFY.
func (f *fakeSecondary) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for len(f.received()) < n {
		select {
		case <-f.gotc:
		case <-deadline:
			t.Fatalf("secondary got %d NOTIFYs, want %d", len(f.received()), n)
		}
	}
}

// notifyClock records the waits the notifier asks for between attempts.
// With fire set, each wait ends at once; otherwise never.
type notifyClock struct {
	fire  bool
	mu    sync.Mutex
	waits []time.Duration
	asked chan struct{}
}

func newNotifyClock(fire bool) *notifyClock {
	return &notifyClock{fire: fire, asked: make(chan struct{}, 100)}
}

func (c *notifyClock) after(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	c.asked <- struct{}{}
	ch := make(chan time.Time, 1)
	if c.fire {
		ch <- time.Now()
	}
	return ch
}

// waitAsked waits for the notifier to ask for its next wait.
func (c *notifyClock) waitAsked(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.asked:
	case <-time.After(30 * time.Second):
		t.Fatalf("no retry scheduled %s; waits %v", what, c.recorded())
	}
}

func (c *notifyClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// serveNotifying serves a new zone that notifies sec, with the NOTIFY
// timer replaced by clock; stop ends Serve and returns its error.
func serveNotifying(t *testing.T, sec *fakeSecondary, clock *notifyClock) (z *zone.Zone, stop func() error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "zone")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	_, ls, stop := serveConfig(t, Config{Zone: z, Notify: []string{sec.addr}, notifyTimeout: 200 * time.Millisecond, notifyAfter: clock.after}, nil)
	// Serve watches the zone before its listeners start: once the TCP
	// listener answers, a change is sure to be noticed (and NOTIFYed).
	testwait.For(t, "the server to answer over TCP", func() bool {
		m := new(dns.Msg)
		m.SetQuestion(origin, dns.TypeSOA)
		c := &dns.Client{Net: "tcp", Timeout: time.Second}
		_, _, err := c.Exchange(m, ls.TCP.Addr().String())
		return err == nil
	})
	t.Cleanup(func() { stop() })
	return z, stop
}

// TestNotifyRetryBackoff: a secondary that ignores the first NOTIFYs gets
// the retries spaced by a growing interval (RFC 1996 §3.6), not back to
// back, and the retries stop at its answer.
func TestNotifyRetryBackoff(t *testing.T) {
	const ignored = 3
	sec := startFakeSecondary(t, ignored)
	clock := newNotifyClock(true)
	z, _ := serveNotifying(t, sec, clock)
	addRR(t, z, "d1._device."+origin+" 300 IN TLSA 3 1 1 "+hex64)
	sec.wait(t, ignored+1)
	// The answer to attempt ignored+1 ends the retries.
	waits := clock.recorded()
	if len(waits) != ignored {
		t.Fatalf("waits %v, want %d of them", waits, ignored)
	}
	var total time.Duration
	for i, d := range waits {
		if d != notifyBackoff(i+1) {
			t.Errorf("wait %d is %v, want %v", i+1, d, notifyBackoff(i+1))
		}
		if i > 0 && d <= waits[i-1] {
			t.Errorf("wait %d (%v) does not grow from %v", i+1, d, waits[i-1])
		}
		total += d
	}
	if waits[0] < time.Second {
		t.Errorf("first retry after %v: back to back", waits[0])
	}
	for _, s := range sec.received() {
		if s != z.Serial() {
			t.Errorf("NOTIFY with serial %d, want %d", s, z.Serial())
		}
	}
	// The whole schedule of a silent secondary spans tens of seconds.
	var all time.Duration
	for a := 1; a < notifyAttempts; a++ {
		all += notifyBackoff(a)
	}
	if all < 30*time.Second || notifyBackoff(notifyAttempts) > notifyMaxRetry {
		t.Errorf("retries span %v (cap %v)", all, notifyBackoff(notifyAttempts))
	}
}

// TestNotifyRetryGivesUp: a secondary that never answers gets
// notifyAttempts NOTIFYs, and the failure is counted.
func TestNotifyRetryGivesUp(t *testing.T) {
	sec := startFakeSecondary(t, 1<<30)
	clock := newNotifyClock(true)
	z, stop := serveNotifying(t, sec, clock)
	addRR(t, z, "d1._device."+origin+" 300 IN TLSA 3 1 1 "+hex64)
	sec.wait(t, notifyAttempts)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(sec.received()); n != notifyAttempts {
		t.Fatalf("%d NOTIFYs, want %d", n, notifyAttempts)
	}
	if n := len(clock.recorded()); n != notifyAttempts-1 {
		t.Fatalf("%d waits, want %d", n, notifyAttempts-1)
	}
}

// TestNotifyRetryStopsAtShutdown: retries pending when the server shuts
// down are not sent, and Serve does not wait for them.
func TestNotifyRetryStopsAtShutdown(t *testing.T) {
	sec := startFakeSecondary(t, 1<<30)
	clock := newNotifyClock(false) // the first retry would come much later
	z, stop := serveNotifying(t, sec, clock)
	addRR(t, z, "d1._device."+origin+" 300 IN TLSA 3 1 1 "+hex64)
	sec.wait(t, 1)
	clock.waitAsked(t, "after the first NOTIFY")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Serve has returned, and with it the notifier: nothing more is sent,
	// even after a change.
	addRR(t, z, "d2._device."+origin+" 300 IN TLSA 3 1 1 "+hex64)
	if n := len(sec.received()); n != 1 {
		t.Fatalf("%d NOTIFYs after shutdown, want 1", n)
	}
	if n := len(clock.recorded()); n != 1 {
		t.Fatalf("waits %v after shutdown", clock.recorded())
	}
}

// TestNotifyNewerSerialSupersedes: a change while retries are pending sends
// the new serial at once and starts the back-off over.
func TestNotifyNewerSerialSupersedes(t *testing.T) {
	sec := startFakeSecondary(t, 2)
	clock := newNotifyClock(false)
	z, _ := serveNotifying(t, sec, clock)
	addRR(t, z, "d1._device."+origin+" 300 IN TLSA 3 1 1 "+hex64)
	first := z.Serial()
	sec.wait(t, 1)
	clock.waitAsked(t, "after the first NOTIFY") // waiting notifyBackoff(1), for ever
	addRR(t, z, "d2._device."+origin+" 300 IN TLSA 3 1 1 "+hex64)
	second := z.Serial()
	sec.wait(t, 2) // ignored too: a wait of notifyBackoff(1) again
	clock.waitAsked(t, "after the second change")
	if got := sec.received(); got[0] != first || got[1] != second {
		t.Fatalf("serials notified %v, want %d then %d", got, first, second)
	}
	if w := clock.recorded(); len(w) != 2 || w[0] != notifyBackoff(1) || w[1] != notifyBackoff(1) {
		t.Fatalf("waits %v: the back-off did not start over", w)
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
