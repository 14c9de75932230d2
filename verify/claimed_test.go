package verify

import (
	"context"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
)

// refusingResolver fails the test if anything is looked up.
type refusingResolver struct{ t testing.TB }

func (r refusingResolver) Lookup(context.Context, string, uint16) (*resolver.Result, error) {
	r.t.Error("unexpected lookup")
	return nil, resolver.ErrOverloaded
}

func TestClaimedName(t *testing.T) {
	t.Parallel()
	dev := testident.SelfSigned(t, "Sensor1._device.example.com", identity.KeyECDSAP256)
	host := testident.SelfSigned(t, "mta1.example.com", identity.KeyEd25519)
	users := testident.NewCA(t, identity.UserCA, "example.com", identity.Options{})
	alice := testident.IssueUser(t, "alice", "example.com", users)
	tests := []struct {
		name   string
		file   string // testdata certificate, when not generated
		cert   testident.Cred
		want   string
		reason Reason
	}{
		{name: "device", cert: dev, want: "sensor1._device.example.com"},
		{name: "host", cert: host, want: "mta1.example.com"},
		{name: "user", cert: alice, want: "_user.example.com"},
		{name: "two dNSNames", file: "testdata/two-dnsnames.pem", reason: ReasonAmbiguousName},
		{name: "no SAN", file: "testdata/no-san.pem", reason: ReasonNoName},
		{name: "user with two dNSNames", file: "testdata/user-two-domains.pem", reason: ReasonAmbiguousName},
		{name: "escaped name", file: "testdata/bad-dnsname.pem", reason: ReasonNameSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cert.Cert
			if tc.file != "" {
				c = readCert(t, tc.file)
			}
			got, err := ClaimedName(c)
			if tc.reason != 0 {
				if ReasonOf(err) != tc.reason {
					t.Fatalf("ClaimedName = %q, %v; want reason %s", got, err, tc.reason)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ClaimedName = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := ClaimedName(nil); ReasonOf(err) != ReasonNoCredential {
		t.Errorf("nil certificate: %v", err)
	}
}
