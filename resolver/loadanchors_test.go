package resolver

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const privateDS = "_device.example.com. IN DS 12345 13 2 " +
	"E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"

func TestLoadAnchors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("anchors", "; the zone's key\n"+privateDS+"\n")
	a, err := LoadAnchors(good)
	if err != nil || !slices.Equal(a.Zones(), []string{"_device.example.com."}) {
		t.Fatalf("LoadAnchors = %v, %v", a.Zones(), err)
	}
	tests := []struct {
		name string
		path string
		is   error
		want string
	}{
		{"missing file", filepath.Join(dir, "nope"), fs.ErrNotExist, "nope"},
		{"no anchor", write("empty", "; nothing\n"), ErrNoAnchors, "empty"},
		{"not an anchor", write("a-record", "x.example.com. IN A 192.0.2.1\n"), nil, "a-record: anchors: x.example.com.: record type A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := LoadAnchors(tc.path)
			if err == nil || a != nil {
				t.Fatalf("LoadAnchors(%s) = %v, nil", tc.path, a.Zones())
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestConfigAnchorsAddToRoot: Config.Anchors are added to the root keys,
// as the CLI's --anchors flag adds them; NoRootAnchors leaves the root
// keys out, and then some anchor must be given.
func TestConfigAnchorsAddToRoot(t *testing.T) {
	private, err := ParseAnchorsString(privateDS)
	if err != nil {
		t.Fatal(err)
	}
	// An upstream that answers everything with an empty NOERROR.
	empty := func(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetReply(q)
		return m, nil
	}
	tests := []struct {
		name  string
		cfg   Config
		zones []string // nil: New fails
	}{
		{"default", Config{}, []string{"."}},
		{"added", Config{Anchors: private}, []string{".", "_device.example.com."}},
		{"root keys left out", Config{Anchors: private, NoRootAnchors: true}, []string{"_device.example.com."}},
		{"no anchor at all", Config{NoRootAnchors: true}, nil},
		{"no anchor, AD trusted", Config{NoRootAnchors: true, TrustAD: true}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Exchange = empty
			r, err := New(cfg)
			if tc.zones == nil {
				if err == nil {
					t.Fatal("New accepted a configuration without any trust anchor")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.v.anchors.Zones(); !slices.Equal(got, tc.zones) && !(len(got) == 0 && len(tc.zones) == 0) {
				t.Fatalf("anchors %v, want %v", got, tc.zones)
			}
			if tc.name == "added" {
				// The root keys count in full: the root anchor holds
				// both IANA keys.
				if n := len(r.v.anchors.closest("example.org.").dnskeys); n != len(RootAnchors().closest(".").dnskeys) {
					t.Errorf("%d root DNSKEY anchors, want %d", n, len(RootAnchors().closest(".").dnskeys))
				}
			}
		})
	}
	// Outside the private anchor, a resolver with the root keys walks from
	// the root; one without them has nothing to start from.
	for _, noRoot := range []bool{false, true} {
		r, err := New(Config{Exchange: empty, Anchors: private, NoRootAnchors: noRoot, CacheEntries: -1})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Lookup(t.Context(), "www.example.org.", dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		uncovered := res.Reason != nil && strings.Contains(res.Reason.Text, "no trust anchor covers")
		if uncovered != noRoot {
			t.Errorf("NoRootAnchors %v: %s %s", noRoot, res.Status, res.Reason)
		}
	}
}
