package verify

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/resolver"
	"github.com/miekg/dns"
)

// FuzzAllowList: any pattern text is either refused or gives a list whose
// patterns allow what they say, without panicking.
func FuzzAllowList(f *testing.F) {
	f.Fuzz(func(t *testing.T, text, name string) {
		a, err := ReadAllowList(strings.NewReader(text))
		if err != nil {
			return
		}
		b, err := ParseAllowList(a.Patterns())
		if err != nil {
			t.Fatalf("patterns %q of a parsed list do not parse: %v", a.Patterns(), err)
		}
		if a.Allows(name) != b.Allows(name) {
			t.Fatalf("reparsed list disagrees on %q", name)
		}
		if a.Allows(name) && strings.HasPrefix(name, subtreePrefix) {
			t.Fatalf("a pattern %q is allowed as a name", name)
		}
	})
}

// FuzzClaimedName: any certificate crypto/x509 accepts gets a name or a
// typed refusal, never a panic.
func FuzzClaimedName(f *testing.F) {
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		name, err := ClaimedName(c)
		if err != nil && ReasonOf(err) == 0 {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil && name == "" {
			t.Fatal("empty name without error")
		}
	})
}

// fixedResolver answers every lookup with the same secure records, each
// given as TLSA RDATA in presentation form ("3 1 1 ab..."); data the DNS
// library cannot read as TLSA RDATA is left out.
type fixedResolver struct{ data []string }

func (f fixedResolver) Lookup(_ context.Context, name string, _ uint16) (*resolver.Result, error) {
	res := &resolver.Result{Name: name, Type: "TLSA", Status: resolver.Secure, TTL: time.Minute}
	for _, d := range f.data {
		if rr, err := dns.NewRR(dns.Fqdn(name) + " 60 IN TLSA " + d); err == nil && rr != nil {
			res.Records = append(res.Records, rr)
		}
	}
	if len(res.Records) == 0 {
		res.Kind = resolver.KindNXDomain
	}
	return res, nil
}

// FuzzVerify: any claimed name, any certificate and any secure record data
// give an identity or a typed refusal, never a panic; an identity is only
// given for an allowed name.
func FuzzVerify(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string, der []byte, rdata string, rpk bool) {
		var p Presented
		if rpk {
			p.RawPublicKey = der
		} else if c, err := x509.ParseCertificate(der); err == nil {
			p.Chain = []*x509.Certificate{c}
		}
		core, err := New(Config{Resolver: fixedResolver{strings.Split(rdata, "\n")}, Allow: mustAllow(t, "*.example.com"), CacheEntries: -1})
		if err != nil {
			t.Fatal(err)
		}
		id, err := core.Verify(context.Background(), name, p)
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !strings.HasSuffix(id.Name, ".example.com") {
			t.Fatalf("authenticated %q outside the allow-list", id.Name)
		}
	})
}
