package server

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// TestNewRefusesUpdateKeysOverAdminNames: New refuses every update key that
// could write at one of the zone's admin names, whether it has no policy
// (the whole zone) or a subtree that overlaps them, and accepts keys kept
// out of them; transfer keys, which cannot update, do not count.
func TestNewRefusesUpdateKeysOverAdminNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "zone")
	res, err := zone.Init(dir, zone.InitOptions{Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{AdminNames: []string{"*._device.ops.devices.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	xfr, err := tsigkey.Generate("xfr.devices.test.", "hmac-sha256")
	if err != nil {
		t.Fatal(err)
	}
	key := res.TSIG.Name
	tests := []struct {
		name     string
		policies map[string]zone.Policy
		refused  bool
	}{
		{"no policy", nil, true},
		{"apex", map[string]zone.Policy{key: {Subtree: origin}}, true},
		{"wildcard over admins", map[string]zone.Policy{key: {Subtree: "*._device.ops.devices.test."}}, true},
		{"outside", map[string]zone.Policy{key: {Subtree: "_device.devices.test."}}, false},
	}
	for _, tt := range tests {
		_, err := New(Config{Zone: z, UpdateKeys: []*tsigkey.Key{res.TSIG}, TransferKeys: []*tsigkey.Key{xfr}, Policies: tt.policies})
		var oe *zone.AdminOverlapError
		if tt.refused != errors.As(err, &oe) {
			t.Errorf("%s: New: %v, refused want %v", tt.name, err, tt.refused)
		}
	}
}
