package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// shapedServer answers q<i>.probe.test according to i: some answers late,
// some never, some wrong. Every query it receives is counted and kept.
type shapedServer struct {
	delay   time.Duration // the every-10th answers' delay
	gate    int64         // ... and how many more queries must arrive before they go
	late    time.Duration // the late answers' delay
	done    chan struct{} // closed when the test ends: stop waiting
	arrived atomic.Int64

	mu   sync.Mutex
	seen []*dns.Msg
}

// The answer each name gets, by i: the first match wins. Per 100 names:
// 10 delayed, and 4 of each other kind.
const (
	kindDelayed   = "delayed"    // i%10 == 0: answered after delay, and not before gate more queries arrived
	kindDropped   = "dropped"    // i%25 == 3: never answered
	kindWrongID   = "wrong-id"   // i%25 == 7: answered with another message ID
	kindWrongName = "wrong-name" // i%25 == 11: answered with another question name
	kindServfail  = "servfail"   // i%25 == 13: answered SERVFAIL
	kindWrongType = "wrong-type" // i%25 == 17: answered with another question type
	kindLate      = "late"       // i%25 == 19: answered after late (past the probe's timeout)
	kindTwice     = "twice"      // i%25 == 23: answered twice
	kindPlain     = "plain"      // the rest: answered at once
)

func kindOf(i int) string {
	if i%10 == 0 {
		return kindDelayed
	}
	switch i % 25 {
	case 3:
		return kindDropped
	case 7:
		return kindWrongID
	case 11:
		return kindWrongName
	case 13:
		return kindServfail
	case 17:
		return kindWrongType
	case 19:
		return kindLate
	case 23:
		return kindTwice
	}
	return kindPlain
}

func (s *shapedServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	arrival := s.arrived.Add(1)
	s.mu.Lock()
	s.seen = append(s.seen, r.Copy())
	s.mu.Unlock()
	if len(r.Question) != 1 {
		return
	}
	label, _, _ := strings.Cut(r.Question[0].Name, ".")
	i, err := strconv.Atoi(strings.TrimPrefix(label, "q"))
	if err != nil {
		return
	}
	m := new(dns.Msg)
	m.SetReply(r)
	wait := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-s.done:
			return false
		}
	}
	switch kindOf(i) {
	case kindDelayed:
		if !wait(s.delay) {
			return
		}
		// A prober that waited for this answer before sending more
		// would never get it.
		for s.arrived.Load() < arrival+s.gate {
			if !wait(5 * time.Millisecond) {
				return
			}
		}
	case kindDropped:
		return
	case kindWrongID:
		// Half the ID space away: not one of the probe's consecutive IDs.
		m.Id ^= 0x8000
	case kindWrongName:
		m.Question[0].Name = "x." + m.Question[0].Name
	case kindServfail:
		m.Rcode = dns.RcodeServerFailure
	case kindWrongType:
		m.Question[0].Qtype = dns.TypeA
	case kindLate:
		if !wait(s.late) {
			return
		}
	case kindTwice:
		w.WriteMsg(m)
	}
	w.WriteMsg(m)
}

// startServer serves h on a UDP port of 127.0.0.1 until the test ends.
func startServer(t *testing.T, h dns.Handler, done chan struct{}) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	served := make(chan error, 1)
	go func() { served <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-served:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(done)
		srv.Shutdown()
		<-served
	})
	return pc.LocalAddr().String()
}

// writeQueries writes q0.probe.test ... q<n-1>.probe.test, type TLSA, with
// a comment line as run.sh's files do not have but dnsperf's may.
func writeQueries(t *testing.T, n int) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("; probe test\n")
	for i := range n {
		fmt.Fprintf(&b, "q%d.probe.test TLSA\n", i)
	}
	path := filepath.Join(t.TempDir(), "q.txt")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCLI runs the command and returns its output line as fields.
func runCLI(t *testing.T, args ...string) map[string]string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := cliMain(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	f := strings.Fields(stdout.String())
	if len(f)%2 != 1 || strings.Count(stdout.String(), "\n") != 1 {
		t.Fatalf("output %q: want one line, a label and name-value pairs", stdout.String())
	}
	out := map[string]string{"label": f[0]}
	for i := 1; i < len(f); i += 2 {
		out[f[i]] = f[i+1]
	}
	return out
}

func count(t *testing.T, out map[string]string, k string) int {
	t.Helper()
	n, err := strconv.Atoi(out[k])
	if err != nil {
		t.Fatalf("%s: %q is not a count", k, out[k])
	}
	return n
}

func millis(t *testing.T, out map[string]string, k string) time.Duration {
	t.Helper()
	v, err := strconv.ParseFloat(out[k], 64)
	if err != nil {
		t.Fatalf("%s: %q is not a number of milliseconds", k, out[k])
	}
	return time.Duration(v * float64(time.Millisecond))
}

// TestProbe runs the probe against a server that answers late, never,
// wrongly or twice by design, and checks what it counted. The counts are
// exact: they depend only on which names get which answers. Of the
// times, only lower bounds are checked (an answer delayed by 300 ms takes
// at least that), and two upper bounds with margins of seconds: the
// delayed answers come within the 3-second timeout, and half of the
// answers, given at once, within 300 ms.
func TestProbe(t *testing.T) {
	const (
		delay   = 300 * time.Millisecond
		timeout = 3 * time.Second
		names   = 100
		rate    = 200
	)
	done := make(chan struct{})
	srv := &shapedServer{delay: delay, gate: 5, late: timeout + 200*time.Millisecond, done: done}
	addr := startServer(t, srv, done)
	out := runCLI(t, "-server", addr, "-queries", writeQueries(t, names),
		"-rate", strconv.Itoa(rate), "-duration", "1s", "-timeout", timeout.String(), "-label", "lat_test")

	// 200 queries: every name twice.
	const sent = 200
	per := map[string]int{}
	for i := range sent {
		per[kindOf(i%names)]++
	}
	want := map[string]int{
		"sent":        sent,
		"answered":    per[kindDelayed] + per[kindServfail] + per[kindTwice] + per[kindPlain],
		"lost":        per[kindDropped] + per[kindWrongID] + per[kindWrongName] + per[kindWrongType] + per[kindLate],
		"mismatched":  per[kindWrongID] + per[kindWrongName] + per[kindWrongType] + per[kindTwice],
		"not_noerror": per[kindServfail],
	}
	if want["answered"] != 160 || want["lost"] != 40 || want["mismatched"] != 32 {
		t.Fatalf("the arrangement changed: %v", want)
	}
	if out["label"] != "lat_test" {
		t.Errorf("label %q, want lat_test", out["label"])
	}
	for k, n := range want {
		if got := count(t, out, k); got != n {
			t.Errorf("%s %d, want %d (%v)", k, got, n, out)
		}
	}
	// Lower bounds: 20 of the 160 answers (12.5%) took at least delay.
	for _, k := range []string{"p99_ms", "p999_ms", "max_ms"} {
		if got := millis(t, out, k); got < delay {
			t.Errorf("%s %v, want at least %v (%v)", k, got, delay, out)
		}
	}
	// An answer after the timeout is lost, not timed, and a lost query
	// is not folded into the percentiles at the timeout.
	if got := millis(t, out, "max_ms"); got >= timeout {
		t.Errorf("max_ms %v: not under the timeout %v", got, timeout)
	}
	if got := millis(t, out, "p50_ms"); got >= delay {
		t.Errorf("p50_ms %v, want under %v: the plain answers are immediate (%v)", got, delay, out)
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.seen) != sent {
		t.Fatalf("server saw %d queries, want %d", len(srv.seen), sent)
	}
	for i, r := range srv.seen {
		// Queries as dnsperf -D sends them.
		opt := r.IsEdns0()
		if !r.RecursionDesired || opt == nil || !opt.Do() || opt.UDPSize() != 4096 {
			t.Fatalf("query %d: want RD, EDNS0 4096 and DO:\n%v", i, r)
		}
	}
}

// TestDrain checks that the probe waits for the last answers: here all
// but the last query are answered at once, so that nothing waits between
// the sends, and the last answer comes 300 ms after the last send.
func TestDrain(t *testing.T) {
	done := make(chan struct{})
	srv := &shapedServer{delay: 300 * time.Millisecond, done: done}
	addr := startServer(t, srv, done)
	q := filepath.Join(t.TempDir(), "q.txt")
	if err := os.WriteFile(q, []byte("q1.probe.test TLSA\nq2.probe.test TLSA\nq4.probe.test TLSA\nq5.probe.test TLSA\nq10.probe.test TLSA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runCLI(t, "-server", addr, "-queries", q, "-rate", "20", "-duration", "250ms")
	for k, n := range map[string]int{"sent": 5, "answered": 5, "lost": 0} {
		if got := count(t, out, k); got != n {
			t.Errorf("%s %d, want %d (%v)", k, got, n, out)
		}
	}
	if got := millis(t, out, "max_ms"); got < 300*time.Millisecond {
		t.Errorf("max_ms %v, want at least 300 ms", got)
	}
}

// TestQueryFlags checks that -do and -bufsize reach the queries.
func TestQueryFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		do      bool
		bufsize uint16
	}{
		{"defaults", nil, true, 4096},
		{"no DO", []string{"-do=false"}, false, 4096},
		{"1232", []string{"-bufsize", "1232"}, true, 1232},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			srv := &shapedServer{done: done}
			addr := startServer(t, srv, done)
			// Names q1 to q2 are answered at once.
			q := filepath.Join(t.TempDir(), "q.txt")
			if err := os.WriteFile(q, []byte("q1.probe.test TLSA\nq2.probe.test TLSA\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out := runCLI(t, append([]string{"-server", addr, "-queries", q, "-rate", "100", "-duration", "50ms"}, tt.args...)...)
			if got := count(t, out, "sent"); got != 5 {
				t.Errorf("sent %d, want 5 (%v)", got, out)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if len(srv.seen) == 0 {
				t.Fatal("no query arrived")
			}
			for _, r := range srv.seen {
				opt := r.IsEdns0()
				if opt == nil || opt.Do() != tt.do || opt.UDPSize() != tt.bufsize {
					t.Fatalf("want EDNS0 %d, DO %v:\n%v", tt.bufsize, tt.do, r)
				}
			}
		})
	}
}

func TestUsage(t *testing.T) {
	q := filepath.Join(t.TempDir(), "q.txt")
	if err := os.WriteFile(q, []byte("a.test A\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{

		{"no server", []string{"-queries", q}, 2, "-server and -queries are required"},
		{"no queries", []string{"-server", "127.0.0.1:53"}, 2, "-server and -queries are required"},
		{"argument", []string{"-server", "127.0.0.1:53", "-queries", q, "extra"}, 2, "unexpected argument"},
		{"zero rate", []string{"-server", "127.0.0.1:53", "-queries", q, "-rate", "0"}, 2, "-rate"},
		{"zero duration", []string{"-server", "127.0.0.1:53", "-queries", q, "-duration", "0s"}, 2, "-duration"},
		{"zero timeout", []string{"-server", "127.0.0.1:53", "-queries", q, "-timeout", "0s"}, 2, "-timeout"},
		// 40,000 a second for 2 seconds: 80,000 queries in flight, more than
		// there are message IDs.
		{"IDs run out", []string{"-server", "127.0.0.1:53", "-queries", q, "-rate", "40000"}, 2, "in flight"},
		{"small bufsize", []string{"-server", "127.0.0.1:53", "-queries", q, "-bufsize", "511"}, 2, "-bufsize"},
		{"no file", []string{"-server", "127.0.0.1:53", "-queries", q + ".missing"}, 2, "no such file"},
		{"bad flag", []string{"-nosuch"}, 2, "unknown flag --nosuch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cliMain(tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tt.code, tt.stderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// TestHelp: --help prints the description, the flags and the exit codes
// on standard output and exits 0.
func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := cliMain([]string{"--help"}, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr.String())
	}
	for _, want := range []string{"nearest", "-rate", "lag_max_ms", "EXIT CODES"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}
