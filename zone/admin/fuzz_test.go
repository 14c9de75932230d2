package admin

import (
	"net/url"
	"testing"

	"github.com/dnsbound/dance/zone"
)

// FuzzRolloverParams: any query string of a rollover request gives either
// an error (a 400) or a step the zone knows and a role that is empty or
// one of the three; never a panic. Seeds: testdata/fuzz/FuzzRolloverParams.
func FuzzRolloverParams(f *testing.F) {
	f.Add("step=prepublish&key=zsk")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		role, step, err := rolloverParams(q)
		if err != nil {
			if role != "" || step != "" {
				t.Fatalf("%q: error %v with role %q step %q", raw, err, role, step)
			}
			return
		}
		switch step {
		case zone.Prepublish, zone.Activate, zone.Retire:
		default:
			t.Fatalf("%q: step %q accepted", raw, step)
		}
		switch role {
		case "", zone.RoleCSK, zone.RoleKSK, zone.RoleZSK:
		default:
			t.Fatalf("%q: role %q accepted", raw, role)
		}
	})
}
