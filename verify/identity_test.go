package verify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
)

// TestIdentityJSON: an Identity's JSON names its kind in words, as the
// name's kind (identity.Kind) spells it, and reads back.
func TestIdentityJSON(t *testing.T) {
	tests := []struct {
		claim string
		want  string
	}{
		{"sensor1._device.example.test", `{"name":"sensor1._device.example.test","kind":"device","depth":0,"expires":"2026-01-02T03:04:05Z"}`},
		{"_smtp-client.mta1.example.test", `{"name":"_smtp-client.mta1.example.test","kind":"service","depth":0,"expires":"2026-01-02T03:04:05Z"}`},
		{"_user.example.test", `{"name":"_user.example.test","kind":"user","depth":0,"expires":"2026-01-02T03:04:05Z"}`},
		{"mta1.example.test", `{"name":"mta1.example.test","kind":"host","depth":0,"expires":"2026-01-02T03:04:05Z"}`},
	}
	for _, tc := range tests {
		n := identity.MustParseName(tc.claim)
		id := Identity{Name: n.String(), Kind: n.Kind(), Expires: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		b, err := json.Marshal(&id)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: %s, %v\nwant %s", tc.claim, b, err, tc.want)
			continue
		}
		var back Identity
		if err := json.Unmarshal(b, &back); err != nil || back.Kind != n.Kind() {
			t.Errorf("%s: read back kind %v, %v", tc.claim, back.Kind, err)
		}
	}
}
