package verify

import (
	"reflect"
	"strings"
	"testing"
)

func TestAllowList(t *testing.T) {
	t.Parallel()
	a := mustAllow(t, "*._device.example.com", "MTA1.example.NET.", "_user.example.org", "*.fleet.example", "mta1.example.net", "*._DEVICE.example.com.")
	tests := []struct {
		name string
		want bool
	}{
		{"sensor1._device.example.com", true},
		{"a.b._device.example.com", true},
		{"_device.example.com", false}, // strictly below
		{"x_device.example.com", false},
		{"sensor1._device.example.com.evil", false},
		{"sensor1._device.other.com", false},
		{"mta1.example.net", true},
		{"www.mta1.example.net", false}, // exact names allow nothing below
		{"_user.example.org", true},
		{"alice._user.example.org", false},
		{"x.fleet.example", true},
		{"fleet.example", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := a.Allows(tc.name); got != tc.want {
			t.Errorf("Allows(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	var none *AllowList
	if none.Allows("mta1.example.net") || (&AllowList{}).Allows("mta1.example.net") {
		t.Error("an empty allow-list allows a name")
	}
	want := []string{"*._device.example.com", "*.fleet.example", "_user.example.org", "mta1.example.net"}
	if got := a.Patterns(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Patterns() = %q, want %q", got, want)
	}
}

func TestParseAllowListErrors(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"*", "*.", "**.example.com", "*.*.example.com", "*.exa mple.com", "a..b", "*.a..b", "bad\\046name", "*._", "*.x_y.example", strings.Repeat("a.", 130) + "com",
		// Unicode lower-casing would turn these into ASCII names: the
		// Kelvin sign into "k", a dotted capital I into "i" and a dot.
		"\u212a._device.example.com", "*._device.\u212aample.com", "*.\u0130nfra.example.com", "d1._device.\u0130.example.com"} {
		if _, err := ParseAllowList([]string{p}); err == nil {
			t.Errorf("ParseAllowList(%q) accepted", p)
		}
	}
}

func TestReadAllowList(t *testing.T) {
	t.Parallel()
	a, err := ReadAllowList(strings.NewReader("# devices\n*._device.example.com  # all of them\n\nmta1.example.net\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Allows("s._device.example.com") || !a.Allows("mta1.example.net") || a.Len() != 2 {
		t.Errorf("patterns %q", a.Patterns())
	}
	_, err = ReadAllowList(strings.NewReader("ok.example\n\n*\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v, want one naming line 3", err)
	}
}

// TestSetAllowList: a reload takes effect for the next verification,
// before any cached verdict is consulted.
func TestSetAllowList(t *testing.T) {
	t.Parallel()
	core := newCore(t, Config{Resolver: refusingResolver{t}, Allow: mustAllow(t, "a.example")})
	if !core.AllowList().Allows("a.example") {
		t.Fatal("initial list not in force")
	}
	core.SetAllowList(mustAllow(t, "b.example"))
	if _, err := core.Verify(t.Context(), "a.example", Presented{RawPublicKey: []byte{1}}); ReasonOf(err) != ReasonNotAllowed {
		t.Errorf("after reload: %v, want %s", err, ReasonNotAllowed)
	}
}

func TestAllowListZoneNames(t *testing.T) {
	a, err := ParseAllowList([]string{"*._device.example.com", "s1._device.example.com", "s2._device.example.com",
		"_smtp-client.mta1.example.net", "*._user.example.org", "host.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"_device.example.com", "_user.example.org", "example.com", "mta1.example.net"}
	if got := a.ZoneNames(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ZoneNames() = %q, want %q", got, want)
	}
	if (*AllowList)(nil).ZoneNames() != nil {
		t.Fatal("nil list has zone names")
	}
}
