package tls13

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestTicketAgeSkew: a server that resumes reports how far the client's
// ticket age runs ahead of (or behind) its own; a full handshake reports
// zero. Both clocks stand still and move only as the test says.
func TestTicketAgeSkew(t *testing.T) {
	p := testPKI(t)
	base := time.Now().Truncate(time.Second)
	cases := map[string]struct {
		clientAhead, serverAhead time.Duration
		want                     time.Duration
	}{
		"client ahead":  {clientAhead: 15 * time.Second, serverAhead: 10 * time.Second, want: 5 * time.Second},
		"client behind": {clientAhead: 5 * time.Second, serverAhead: 10 * time.Second, want: -5 * time.Second},
		"same clocks":   {clientAhead: 7 * time.Second, serverAhead: 7 * time.Second, want: 0},
		"milliseconds":  {clientAhead: 2*time.Second + 250*time.Millisecond, serverAhead: 2 * time.Second, want: 250 * time.Millisecond},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var cnow, snow atomic.Int64
			cnow.Store(int64(base.Sub(time.Unix(0, 0))))
			snow.Store(int64(base.Sub(time.Unix(0, 0))))
			scfg := ourServerConfig(p)
			scfg.Time = func() time.Time { return time.Unix(0, snow.Load()) }
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0),
				Time: func() time.Time { return time.Unix(0, cnow.Load()) }}
			for i := range 2 {
				if i == 1 {
					cnow.Add(int64(tc.clientAhead))
					snow.Add(int64(tc.serverAhead))
				}
				addr, res := startOurServer(t, scfg)
				echo(t, dial(t, addr, ccfg), "age")
				r := <-res
				if r.err != nil {
					t.Fatal(r.err)
				}
				want := time.Duration(0)
				if i == 1 {
					want = tc.want
				}
				if r.state.Resumed != (i == 1) || r.state.TicketAgeSkew != want {
					t.Fatalf("connection %d: resumed %v, skew %v; want %v", i, r.state.Resumed, r.state.TicketAgeSkew, want)
				}
			}
		})
	}
}
