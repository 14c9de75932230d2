package dotgate

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/testwait"
)

// kdig runs kdig over TLS against the gate, with the client's certificate
// when c is not nil, and returns its output.
func kdig(t *testing.T, addr string, c *client, name, qtype string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"@" + host, "-p", port, "+tls", "+retry=0", "+time=20", name, qtype}
	if c != nil {
		args = append(args, "+tls-certfile="+c.certFile(), "+tls-keyfile="+c.keyFile())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "kdig", args...).CombinedOutput()
	return string(out)
}

// TestKdig: kdig +tls with a client certificate through the gate to a real
// Unbound. An allowed identity gets answers within its zones and REFUSED
// outside them; a client without a certificate, with an unpublished key,
// revoked, or not on the policy is refused at TLS.
func TestKdig(t *testing.T) {
	if _, err := exec.LookPath("kdig"); err != nil {
		t.Fatal("kdig is not installed (Debian package knot-dnsutils, in scripts/debian-packages)")
	}
	e := startGate(t, realUnbound(t), nil)
	all, narrow := e.clients[nameAll], e.clients[nameNarrow]
	revoked, off := e.clients[nameRevoked], e.clients[nameOff]
	stranger := e.stranger
	cases := []struct {
		name   string
		client *client
		qname  string
		want   []string // substrings of kdig's output
		refuse bool     // refused at TLS: no answer at all
	}{
		{"allowed, any zone", &all, "www.example.test.", []string{"status: NOERROR", "192.0.2.10"}, false},
		{"allowed, its zone", &narrow, "www.insecure.example.test.", []string{"status: NOERROR", "192.0.2.20"}, false},
		{"allowed, outside its zones", &narrow, "www.example.test.", []string{"status: REFUSED"}, false},
		{"no certificate", nil, "www.example.test.", nil, true},
		{"unpublished key", &stranger, "www.example.test.", nil, true},
		{"revoked", &revoked, "www.example.test.", nil, true},
		{"not on the policy", &off, "www.example.test.", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := kdig(t, e.addr, tc.client, tc.qname, "A")
			if tc.refuse {
				if strings.Contains(out, "status:") || strings.Contains(out, "192.0.2.") || !strings.Contains(out, "TLS") {
					t.Fatalf("refused client got an answer, or failed otherwise than at TLS:\n%s", out)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Fatalf("kdig output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "REFUSED") && strings.Contains(out, "192.0.2.") {
				t.Fatalf("refused and answered:\n%s", out)
			}
		})
	}
	// The gate counts a refused handshake after the client has gone.
	testwait.Eventually(t, 30*time.Second, func() error {
		if n := e.counter(t, "dance_dotgate_handshakes_total", handshakeFailed); n < 4 {
			return fmt.Errorf("handshakes failed = %v, want at least 4", n)
		}
		return nil
	})
	if n := e.counter(t, "dance_dotgate_queries_total", queryRefusedZone); n != 1 {
		t.Errorf("queries refused for their zone = %v, want 1", n)
	}
}

// TestKdigKeepOpen: one kdig call asks several names over one TLS
// connection (+keepopen) through the gate to a real Unbound: every
// answer comes, under one handshake, and the refused name in the middle
// does not end the connection.
func TestKdigKeepOpen(t *testing.T) {
	e := startGate(t, realUnbound(t), nil)
	narrow := e.clients[nameNarrow]
	host, port, _ := net.SplitHostPort(e.addr)
	args := []string{"@" + host, "-p", port, "+tls", "+keepopen", "+retry=0", "+time=20",
		"+tls-certfile=" + narrow.certFile(), "+tls-keyfile=" + narrow.keyFile(),
		"www.insecure.example.test.", "A", "www.example.test.", "A", "www.insecure.example.test.", "A", "insecure.example.test.", "SOA"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kdig", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kdig: %v\n%s", err, out)
	}
	s := string(out)
	if n := strings.Count(s, "status: NOERROR"); n != 3 {
		t.Errorf("%d NOERROR answers, want 3:\n%s", n, s)
	}
	if n := strings.Count(s, "status: REFUSED"); n != 1 {
		t.Errorf("%d REFUSED answers, want 1:\n%s", n, s)
	}
	if n := e.counter(t, "dance_dotgate_handshakes_total", handshakeOK); n != 1 {
		t.Errorf("%v handshakes for one kdig call with +keepopen, want 1", n)
	}
}

// TestNoLookupOffPolicy: a client whose name is not on the policy,
// though published, is refused without a DNS query; one on the policy
// costs queries.
func TestNoLookupOffPolicy(t *testing.T) {
	e := startGate(t, stubUpstream(t), nil)
	before := e.h.Queries()
	for range 3 {
		if c, err := e.dial(t, e.clients[nameOff]); err == nil {
			if _, err := ask(c, "www.example.test.", dns.TypeA); err == nil {
				t.Fatal("a client off the policy got an answer")
			}
			c.Close()
		}
	}
	if n := e.h.Queries(); n != before {
		t.Fatalf("%d DNS queries for a name off the policy", n-before)
	}
	mustAnswer(t, mustDial(t, e, e.clients[nameAll]), "www.example.test.")
	if e.h.Queries() == before {
		t.Fatal("no DNS query for a name on the policy: the counter does not count")
	}
}
