package admin

import (
	"errors"
	"net/http"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/zone/change"
)

// TestRevokeAPI: a revocation through the API leaves the marker alone at
// the name and names the wildcard it shadows; a remove under a wildcard
// says that the wildcard still covers the name; adding at a revoked name
// is a 409 and a replace lifts the revocation, saying so.
func TestRevokeAPI(t *testing.T) {
	z, c, _ := newAPI(t)
	const (
		wild = "*._device.devices.test."
		dev  = "sensor1._device.devices.test."
	)
	marker := func() bool {
		rrs := z.Get(dev, dns.TypeTLSA)
		return len(rrs) == 1 && rdata(rrs[0]) == tlsa.RevocationMarker
	}
	other := "3 1 1 " + hash[2:] + "aa"
	if _, err := c.Publish(t.Context(), dev, []Record{{Type: "TLSA", Data: "3 1 1 " + hash}}, change.Add); err != nil {
		t.Fatal(err)
	}
	// No wildcard: remove says nothing covers the name; revoke publishes
	// the marker all the same.
	res, err := c.Publish(t.Context(), dev, nil, change.Remove)
	if err != nil || res.Wildcard != "" || res.RevocationLifted {
		t.Fatalf("Delete without a wildcard: %+v, %v", res, err)
	}
	if res, err = c.Revoke(t.Context(), dev); err != nil || !res.Revoked || res.Wildcard != "" || res.Serial == 0 || !marker() {
		t.Fatalf("Revoke without a wildcard: %+v, %v, marker %v", res, err, marker())
	}
	if _, err := c.Publish(t.Context(), wild, []Record{{Type: "TLSA", Data: "2 0 1 " + hash}}, change.Add); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		do     func() (ChangeResult, error)
		status int // 0: success
		want   ChangeResult
		marker bool // the marker alone at dev afterwards
	}{
		{"add at revoked", func() (ChangeResult, error) {
			return c.Publish(t.Context(), dev, []Record{{Type: "TLSA", Data: other}}, change.Add)
		}, http.StatusConflict, ChangeResult{}, true},
		{"replace lifts", func() (ChangeResult, error) {
			return c.Publish(t.Context(), dev, []Record{{Type: "TLSA", Data: other}}, change.Replace)
		}, 0, ChangeResult{Name: dev, RevocationLifted: true}, false},
		{"replace again", func() (ChangeResult, error) {
			return c.Publish(t.Context(), dev, []Record{{Type: "TLSA", Data: other}}, change.Replace)
		}, 0, ChangeResult{Name: dev}, false},
		{"remove under wildcard", func() (ChangeResult, error) { return c.Publish(t.Context(), dev, nil, change.Remove) }, 0, ChangeResult{Name: dev, Wildcard: wild}, false},
		{"revoke without records", func() (ChangeResult, error) { return c.Revoke(t.Context(), dev) }, 0, ChangeResult{Name: dev, Revoked: true, Wildcard: wild}, true},
		{"revoke twice", func() (ChangeResult, error) { return c.Revoke(t.Context(), dev) }, 0, ChangeResult{Name: dev, Revoked: true, Wildcard: wild}, true},
		{"remove lifts", func() (ChangeResult, error) { return c.Publish(t.Context(), dev, nil, change.Remove) }, 0, ChangeResult{Name: dev, Wildcard: wild, RevocationLifted: true}, false},
		{"revoke outside the zone", func() (ChangeResult, error) { return c.Revoke(t.Context(), "sensor1.example.org") }, http.StatusBadRequest, ChangeResult{}, false},
		{"revoke the apex", func() (ChangeResult, error) { return c.Revoke(t.Context(), origin) }, http.StatusForbidden, ChangeResult{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.do()
			var se *StatusError
			switch {
			case tt.status == 0 && err != nil:
				t.Fatalf("error %v", err)
			case tt.status != 0 && (!errors.As(err, &se) || se.Code != tt.status):
				t.Fatalf("error %v, want status %d", err, tt.status)
			case tt.status == 0:
				res.Serial = 0
				if res != tt.want {
					t.Errorf("result %+v, want %+v", res, tt.want)
				}
			}
			if marker() != tt.marker {
				t.Errorf("marker at %s: %v, want %v (records %v)", dev, marker(), tt.marker, z.Get(dev, dns.TypeTLSA))
			}
		})
	}
}
