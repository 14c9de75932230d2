package sshauth

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/dnsbound/dance/verify"
)

// fakeVerifier answers from a table: the SPKIs each name publishes, the
// refusal of others. Names in block never answer (a resolver that ignores
// its deadline) until release is closed.
type fakeVerifier struct {
	published map[string][][]byte
	refuse    map[string]error
	block     map[string]bool
	release   chan struct{}
	mu        sync.Mutex
	asked     []string
}

func (f *fakeVerifier) ask(name string) error {
	f.mu.Lock()
	f.asked = append(f.asked, name)
	f.mu.Unlock()
	if f.block[name] {
		<-f.release
		return errors.New("released")
	}
	if err := f.refuse[name]; err != nil {
		return err
	}
	if _, ok := f.published[name]; !ok {
		return &verify.Error{Reason: verify.ReasonNoRecord, Name: name}
	}
	return nil
}

func (f *fakeVerifier) Verify(_ context.Context, name string, p verify.Presented) (*verify.Identity, error) {
	if err := f.ask(name); err != nil {
		return nil, err
	}
	for _, spki := range f.published[name] {
		if bytes.Equal(spki, p.RawPublicKey) {
			return &verify.Identity{Name: name}, nil
		}
	}
	return nil, &verify.Error{Reason: verify.ReasonNoMatch, Name: name}
}

func (f *fakeVerifier) PublishedKeys(_ context.Context, name string) ([]verify.PublishedKey, error) {
	if err := f.ask(name); err != nil {
		return nil, err
	}
	var out []verify.PublishedKey
	for _, spki := range f.published[name] {
		out = append(out, verify.PublishedKey{SPKI: spki, Identity: &verify.Identity{Name: name}})
	}
	return out, nil
}

func mustSPKI(t testing.TB, k ssh.PublicKey) []byte {
	t.Helper()
	b, err := SPKI(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keyLines(t testing.TB, res Result) []string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteAuthorizedKeys(&b, res); err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func line(k ssh.PublicKey, name string) string {
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k)), "\n") + " dance:" + name
}

func TestAuthorize(t *testing.T) {
	alice, _ := edKey(t)
	alice2 := ecKey(t, elliptic.P256())
	bob, _ := edKey(t)
	mallory, _ := edKey(t)
	short := rsaKey(t, 1024)
	fv := &fakeVerifier{
		published: map[string][][]byte{
			"alice.example.com":    {mustSPKI(t, alice), mustSPKI(t, alice2)},
			"bob.example.com":      {mustSPKI(t, bob)},
			"mallory.example.com":  {mustSPKI(t, mallory)},
			"short.example.com":    {shortSPKI(t, short)},
			"insecure.example.com": {mustSPKI(t, mallory)},
		},
		refuse: map[string]error{
			"insecure.example.com": &verify.Error{Reason: verify.ReasonDNSInsecure, Name: "insecure.example.com"},
		},
	}
	names := []string{"alice.example.com", "bob.example.com", "short.example.com", "insecure.example.com", "gone.example.com"}
	ctx := context.Background()

	t.Run("list", func(t *testing.T) {
		res := Authorize(ctx, fv, names, nil, time.Minute)
		want := []string{line(alice, "alice.example.com"), line(alice2, "alice.example.com"), line(bob, "bob.example.com")}
		if got := keyLines(t, res); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		reasons := map[string]error{}
		for _, r := range res.Refused {
			reasons[r.Name] = r.Err
		}
		if !errors.Is(reasons["short.example.com"], ErrUnsupportedKey) ||
			!errors.Is(reasons["insecure.example.com"], verify.ErrDNSInsecure) ||
			!errors.Is(reasons["gone.example.com"], verify.ErrNoRecord) || len(reasons) != 3 {
			t.Fatalf("refusals %v", reasons)
		}
	})
	t.Run("offered key of a listed name", func(t *testing.T) {
		res := Authorize(ctx, fv, names, alice2, time.Minute)
		if got := keyLines(t, res); len(got) != 1 || got[0] != line(alice2, "alice.example.com") {
			t.Fatalf("lines %q", got)
		}
	})
	t.Run("offered key of a name not listed", func(t *testing.T) {
		// mallory publishes his key at his own name and at an insecure
		// one; neither is a name the file lists with a Secure answer.
		res := Authorize(ctx, fv, names, mallory, time.Minute)
		if got := keyLines(t, res); got != nil {
			t.Fatalf("authorized %q", got)
		}
		if len(res.Refused) != len(names) {
			t.Fatalf("refusals %v", res.Refused)
		}
	})
	t.Run("offered key unsupported", func(t *testing.T) {
		res := Authorize(ctx, fv, names, short, time.Minute)
		if got := keyLines(t, res); got != nil || len(res.Refused) != len(names) || !errors.Is(res.Refused[0].Err, ErrUnsupportedKey) {
			t.Fatalf("lines %q refusals %v", got, res.Refused)
		}
	})
}

// shortSPKI is the SPKI of a key SPKI refuses to make, as a zone could
// still publish it.
func shortSPKI(t testing.TB, k ssh.PublicKey) []byte {
	t.Helper()
	b, err := marshalPKIX(k.(ssh.CryptoPublicKey).CryptoPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuthorizeDeadline: names whose lookups never come back are refused
// with ErrDeadline once the deadline passes, and the names that did answer
// still count; with only a slow name, nothing is authorized. The slow
// lookups ignore their context, as a stuck resolver would: Authorize must
// not wait for them.
func TestAuthorizeDeadline(t *testing.T) {
	alice, _ := edKey(t)
	fv := &fakeVerifier{
		published: map[string][][]byte{"alice.example.com": {mustSPKI(t, alice)}},
		block:     map[string]bool{"slow.example.com": true, "slow2.example.com": true},
		release:   make(chan struct{}),
	}
	defer close(fv.release)
	for _, offered := range []ssh.PublicKey{nil, alice} {
		res := Authorize(context.Background(), fv, []string{"slow.example.com"}, offered, 10*time.Millisecond)
		if len(res.Keys) != 0 || len(res.Refused) != 1 || !errors.Is(res.Refused[0].Err, ErrDeadline) {
			t.Fatalf("slow name alone: keys %v refusals %v", res.Keys, res.Refused)
		}
		// The fast name is settled long before a generous deadline; the
		// slow ones never are.
		res = Authorize(context.Background(), fv, []string{"slow.example.com", "alice.example.com", "slow2.example.com"}, offered, 2*time.Second)
		if got := keyLines(t, res); len(got) != 1 || got[0] != line(alice, "alice.example.com") {
			t.Fatalf("lines %q refusals %v", got, res.Refused)
		}
		if len(res.Refused) != 2 || !errors.Is(res.Refused[0].Err, ErrDeadline) || !errors.Is(res.Refused[1].Err, ErrDeadline) {
			t.Fatalf("refusals %v", res.Refused)
		}
	}
}
