package dnstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestZonesVerify has independent tools check the signed zones this
// package serves: Knot's kzonecheck and ldns-verify-zone.
func TestZonesVerify(t *testing.T) {
	for _, denial := range []struct {
		name string
		d    Denial
		iter uint16
	}{{"nsec", NSEC, 0}, {"nsec3", NSEC3, 0}, {"nsec3-iterations", NSEC3, 5}} {
		t.Run(denial.name, func(t *testing.T) {
			zones := map[string]ZoneOptions{}
			for _, z := range []string{Root, TLD, Zone, Device} {
				zones[z] = ZoneOptions{Denial: denial.d, NSEC3Iterations: denial.iter}
			}
			h := Start(t, Config{Zones: zones})
			dir := t.TempDir()
			for _, z := range []string{TLD, Zone, Device} {
				path := filepath.Join(dir, strings.TrimSuffix(z, ".")+".zone")
				if err := os.WriteFile(path, []byte(h.ZoneText(z)), 0o644); err != nil {
					t.Fatal(err)
				}
				for _, cmd := range [][]string{
					{"kzonecheck", "-o", z, "-d", "on", path},
					{"ldns-verify-zone", path},
				} {
					out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
					if err != nil {
						t.Errorf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
					}
				}
			}
		})
	}
}

// TestZonesVerifyFault checks that the tools would notice: a zone with
// expired signatures or signed by an unpublished key fails ldns-verify-zone.
func TestZonesVerifyFault(t *testing.T) {
	for _, f := range []Fault{ExpiredSignatures, WrongKey} {
		h := Start(t, Config{Zones: map[string]ZoneOptions{Zone: {Fault: f}}})
		path := filepath.Join(t.TempDir(), "zone")
		if err := os.WriteFile(path, []byte(h.ZoneText(Zone)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("ldns-verify-zone", path).CombinedOutput(); err == nil {
			t.Errorf("fault %d: ldns-verify-zone accepts the zone:\n%s", f, out)
		}
	}
}
