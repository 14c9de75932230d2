package admin

import (
	"errors"
	"net/http"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// TestWildcardIdentity: the API publishes, reads and removes identity
// records at a wildcard owner (an organisation CA's DANE-TA record at
// *._device.DOMAIN) and refuses an asterisk anywhere but leftmost.
func TestWildcardIdentity(t *testing.T) {
	z, c, _ := newAPI(t)
	const wild = "*._device.devices.test."
	tests := []struct {
		name   string
		do     func() error
		status int // 0: success
		tlsa   int // TLSA records at the wildcard afterwards
	}{
		{"put", func() error {
			_, err := c.Publish(t.Context(), wild, []Record{{Type: "TLSA", Data: "2 0 1 " + hash}}, change.Add)
			return err
		}, 0, 1},
		{"get", func() error {
			id, err := c.Get(t.Context(), wild)
			if err == nil && (id.Name != wild || len(id.Records) != 1) {
				t.Errorf("Get: %+v", id)
			}
			return err
		}, 0, 1},
		{"asterisk below", func() error {
			_, err := c.Publish(t.Context(), "x.*._device.devices.test", []Record{{Type: "TLSA", Data: "2 0 1 " + hash}}, change.Add)
			return err
		}, http.StatusForbidden, 1},
		{"remove", func() error { _, err := c.Publish(t.Context(), wild, nil, change.Remove); return err }, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			var se *StatusError
			switch {
			case tt.status == 0 && err != nil:
				t.Fatalf("error %v", err)
			case tt.status != 0 && (!errors.As(err, &se) || se.Code != tt.status):
				t.Fatalf("error %v, want status %d", err, tt.status)
			}
			if got := len(z.Get(wild, dns.TypeTLSA)); got != tt.tlsa {
				t.Errorf("%d TLSA records at %s, want %d", got, wild, tt.tlsa)
			}
		})
	}
}
