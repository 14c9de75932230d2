package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestRefusalLogsOncePerInterval floods the server with each kind of
// request it refuses before the sender is known, or that anyone can send
// again: a bad TSIG key, unsigned updates, transfers not allowed, a
// captured update outside the time window, a replayed update. Each kind
// gets one log line per interval, the next line counts what was held
// back, and the metric counts every request.
func TestRefusalLogsOncePerInterval(t *testing.T) {
	const flood = 20
	const rr = "s1._device.devices.test. 300 IN TLSA 3 1 1 abcd"
	tests := []struct {
		name   string
		line   string // the log message
		metric string
		// setup runs once; send sends one request of the kind.
		setup func(t *testing.T, ts *testServer) []byte
		send  func(t *testing.T, ts *testServer, wire []byte)
	}{
		{
			name: "bad TSIG key", line: "tsig verification failed", metric: "tsig_failure",
			setup: func(t *testing.T, ts *testServer) []byte {
				m := new(dns.Msg)
				m.SetQuestion(origin, dns.TypeSOA)
				m.SetTsig("forged.key.", dns.HmacSHA256, 300, time.Now().Unix())
				m.Extra[0].(*dns.TSIG).MAC = strings.Repeat("ab", 32)
				m.Extra[0].(*dns.TSIG).MACSize = 32
				b, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
			send: func(t *testing.T, ts *testServer, wire []byte) {
				if m := unpack(t, sendWire(t, "udp", ts.addr, wire)); m.Rcode != dns.RcodeNotAuth {
					t.Fatalf("forged TSIG: %v", m)
				}
			},
		},
		{
			name: "unsigned update", line: "unsigned update refused", metric: "update_refused",
			setup: func(t *testing.T, ts *testServer) []byte {
				m := new(dns.Msg)
				m.SetUpdate(origin)
				r, _ := dns.NewRR(rr)
				m.Insert([]dns.RR{r})
				b, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
			send: func(t *testing.T, ts *testServer, wire []byte) {
				if m := unpack(t, sendWire(t, "udp", ts.addr, wire)); m.Rcode != dns.RcodeRefused {
					t.Fatalf("unsigned update: %v", m)
				}
			},
		},
		{
			name: "transfer not allowed", line: "transfer refused", metric: "xfr_refused",
			setup: func(t *testing.T, ts *testServer) []byte {
				m := new(dns.Msg)
				m.SetAxfr(origin)
				b, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
			send: func(t *testing.T, ts *testServer, wire []byte) {
				if m := unpack(t, sendWire(t, "tcp", ts.addr, wire)); m.Rcode != dns.RcodeRefused {
					t.Fatalf("AXFR: %v", m)
				}
			},
		},
		{
			name: "captured update outside the window", line: "tsig time outside the server's window", metric: "tsig_badtime",
			setup: func(t *testing.T, ts *testServer) []byte {
				wire, _ := signedUpdate(t, ts, true, rr, time.Now().Add(-time.Hour), 36000)
				return wire
			},
			send: func(t *testing.T, ts *testServer, wire []byte) {
				if m := unpack(t, sendWire(t, "udp", ts.addr, wire)); m.Rcode != dns.RcodeNotAuth {
					t.Fatalf("old update: %v", m)
				}
			},
		},
		{
			name: "replayed update", line: "signed update refused: replay", metric: "tsig_replay",
			setup: func(t *testing.T, ts *testServer) []byte {
				wire, _ := signedUpdate(t, ts, true, rr, time.Now(), 300)
				if m := unpack(t, sendWire(t, "udp", ts.addr, wire)); m.Rcode != dns.RcodeSuccess {
					t.Fatalf("update: %v", m)
				}
				return wire
			},
			send: func(t *testing.T, ts *testServer, wire []byte) {
				if m := unpack(t, sendWire(t, "udp", ts.addr, wire)); m.Rcode != dns.RcodeNotAuth {
					t.Fatalf("replay: %v", m)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncLog
			clock := newTestClock()
			ts := startServerWith(t, func(c *Config) {
				c.Logger = logs.logger()
				c.Time = clock.Now
			})
			wire := tt.setup(t, ts)
			before := ts.srv.metrics.get(tt.metric)
			lines := func() []string {
				var out []string
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, fmt.Sprintf("msg=%q", tt.line)) {
						out = append(out, l)
					}
				}
				return out
			}
			for i := 0; i < flood; i++ {
				tt.send(t, ts, wire)
			}
			if got := ts.srv.metrics.get(tt.metric) - before; got != flood {
				t.Errorf("%s counted %d of %d", tt.metric, got, flood)
			}
			if l := lines(); len(l) != 1 || strings.Contains(l[0], "suppressed") {
				t.Fatalf("%d requests in one interval: want 1 line without a count, got:\n%s", flood, strings.Join(l, "\n"))
			}
			clock.Advance(limitLogInterval)
			tt.send(t, ts, wire)
			l := lines()
			if len(l) != 2 || !strings.Contains(l[1], fmt.Sprintf("suppressed=%d", flood-1)) {
				t.Fatalf("after the interval: want a second line with suppressed=%d, got:\n%s", flood-1, strings.Join(l, "\n"))
			}
			if got := ts.srv.metrics.get(tt.metric) - before; got != flood+1 {
				t.Errorf("%s counted %d of %d", tt.metric, got, flood+1)
			}
		})
	}
}
