package sshauth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/crypto/ssh"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
)

// realFixture is the in-process signed hierarchy with a key published at
// alice (signed zone), mallory (signed), eve (unsigned zone) and dev
// (a zone signed with the wrong key).
type realFixture struct {
	h                        *dnstest.Hierarchy
	alice, mallory, eve, dev ssh.PublicKey
}

func newRealFixture(t *testing.T) *realFixture {
	t.Helper()
	f := &realFixture{}
	f.alice, _ = edKey(t)
	f.mallory, _ = edKey(t)
	f.eve, _ = edKey(t)
	f.dev, _ = edKey(t)
	zl := func(name string, k ssh.PublicKey) string {
		recs, err := Records(k)
		if err != nil {
			t.Fatal(err)
		}
		return recs[0].ZoneLine(name, 300)
	}
	f.h = dnstest.Start(t, dnstest.Config{
		Zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.WrongKey}},
		Records: []string{
			zl("_ssh-client.alice.example.test", f.alice),
			zl("_ssh-client.mallory.example.test", f.mallory),
			zl("eve.insecure.example.test", f.eve),
			zl("laptop._device.example.test", f.dev),
		},
	})
	return f
}

func realCore(t testing.TB, r verify.Resolver, allow ...string) *verify.Core {
	t.Helper()
	al, err := verify.ParseAllowList(allow)
	if err != nil {
		t.Fatal(err)
	}
	c, err := verify.New(verify.Config{Resolver: r, Allow: al, CacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAuthorizeReal: through the real resolver and core, a Secure name
// authorizes its key, listed or offered; names in unsigned or badly signed
// zones authorize nothing, whatever key is offered.
func TestAuthorizeReal(t *testing.T) {
	f := newRealFixture(t)
	names := []string{"_ssh-client.alice.example.test", "eve.insecure.example.test", "laptop._device.example.test"}
	core := realCore(t, testident.Resolver(t, f.h, resolver.Config{}), names...)
	ctx := context.Background()

	res := Authorize(ctx, core, names, nil, time.Minute)
	if got := keyLines(t, res); len(got) != 1 || got[0] != line(f.alice, "_ssh-client.alice.example.test") {
		t.Fatalf("listed %q", got)
	}
	want := map[string]verify.Reason{"eve.insecure.example.test": verify.ReasonDNSInsecure, "laptop._device.example.test": verify.ReasonDNSBogus}
	for _, r := range res.Refused {
		if verify.ReasonOf(r.Err) != want[r.Name] {
			t.Errorf("%s: %v, want %s", r.Name, r.Err, want[r.Name])
		}
	}
	if len(res.Refused) != 2 {
		t.Fatalf("refusals %v", res.Refused)
	}
	for _, k := range []ssh.PublicKey{f.eve, f.dev, f.mallory} {
		if got := keyLines(t, Authorize(ctx, core, names, k, time.Minute)); got != nil {
			t.Errorf("offered %s: authorized %q", k.Type(), got)
		}
	}
	if got := keyLines(t, Authorize(ctx, core, names, f.alice, time.Minute)); len(got) != 1 {
		t.Fatalf("offered alice's key: %q", got)
	}
}

// TestAuthorizeOtherNamesRecords: an upstream that answers the question
// for alice with mallory's records (validly signed, but for another owner)
// gets mallory's key authorized for nobody.
func TestAuthorizeOtherNamesRecords(t *testing.T) {
	f := newRealFixture(t)
	const alice, mallory = "_ssh-client.alice.example.test.", "_ssh-client.mallory.example.test."
	swap := func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		if len(q.Question) != 1 || !strings.EqualFold(q.Question[0].Name, alice) {
			return f.h.Exchange(ctx, q)
		}
		q2 := q.Copy()
		q2.Question[0].Name = mallory
		r, err := f.h.Exchange(ctx, q2)
		if err != nil {
			return nil, err
		}
		r.Question = q.Question
		return r, nil
	}
	core := realCore(t, testident.Resolver(t, f.h, resolver.Config{Exchange: swap}), alice)
	names := []string{strings.TrimSuffix(alice, ".")}
	for _, offered := range []ssh.PublicKey{nil, f.mallory} {
		res := Authorize(context.Background(), core, names, offered, time.Minute)
		if got := keyLines(t, res); got != nil {
			t.Fatalf("offered %v: authorized %q", offered != nil, got)
		}
		if len(res.Refused) != 1 {
			t.Fatalf("refusals %v", res.Refused)
		}
		// The resolver finds no proof for the records at alice's name.
		if r := verify.ReasonOf(res.Refused[0].Err); r != verify.ReasonDNSBogus {
			t.Fatalf("refusal %v, want dns-bogus", res.Refused[0].Err)
		}
	}
	// The same core authorizes alice's own key when the answer is hers:
	// the refusal above is the swap's doing.
	honest := realCore(t, testident.Resolver(t, f.h, resolver.Config{}), alice)
	if got := keyLines(t, Authorize(context.Background(), honest, names, f.alice, time.Minute)); len(got) != 1 {
		t.Fatalf("honest answer: %q", got)
	}
}

// TestAuthorizeSlowResolver: an upstream that never answers (and ignores
// its context) leaves Authorize to return at its deadline with no key.
func TestAuthorizeSlowResolver(t *testing.T) {
	f := newRealFixture(t)
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	never := func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		<-stuck
		return nil, errors.New("released")
	}
	name := "_ssh-client.alice.example.test"
	core := realCore(t, testident.Resolver(t, f.h, resolver.Config{Exchange: never}), name)
	for _, offered := range []ssh.PublicKey{nil, f.alice} {
		res := Authorize(context.Background(), core, []string{name}, offered, 50*time.Millisecond)
		if len(res.Keys) != 0 || len(res.Refused) != 1 {
			t.Fatalf("keys %v refusals %v", res.Keys, res.Refused)
		}
		if err := res.Refused[0].Err; !errors.Is(err, ErrDeadline) && verify.ReasonOf(err) != verify.ReasonLookupTimeout {
			t.Fatalf("refusal %v, want the deadline", err)
		}
	}
}
