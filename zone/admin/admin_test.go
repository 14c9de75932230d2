package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/server"
)

const origin = "devices.test."

func newAPI(t *testing.T) (*zone.Zone, *Client, *httptest.Server) {
	t.Helper()
	z, c, srv, _ := newAPIWith(t, zone.InitOptions{}, nil)
	return z, c, srv
}

// newAPIWith is newAPI for a zone made with opt (its Origin is set here),
// logging to log (nil: nowhere); it also returns the zone's directory.
func newAPIWith(t *testing.T, opt zone.InitOptions, log *slog.Logger) (*zone.Zone, *Client, *httptest.Server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "z")
	opt.Origin = origin
	if _, err := zone.Init(dir, opt); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	tok, err := LoadOrCreateToken(filepath.Join(dir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateToken(filepath.Join(dir, TokenFile))
	if err != nil || again != tok || len(tok) != 2*tokenBytes {
		t.Fatalf("token not stable: %q %q %v", tok, again, err)
	}
	// The DNS server's metrics share the API's registry, as a zone
	// served by zone/serve has them.
	dnsSrv, err := server.New(server.Config{Zone: z})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(dnsSrv.Collector())
	srv := httptest.NewServer(Handler(Config{Zone: z, Token: tok, Logger: log, Registry: reg}))
	t.Cleanup(srv.Close)
	return z, &Client{BaseURL: srv.URL, Token: tok}, srv, dir
}

const hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestIdentityLifecycle(t *testing.T) {
	z, c, _ := newAPI(t)
	s0 := z.Serial()
	res, err := c.Publish(t.Context(), "s1._device.devices.test", []Record{{Type: "TLSA", Data: "3 1 1 " + hash}}, change.Add)
	if err != nil {
		t.Fatal(err)
	}
	if serial := res.Serial; serial == s0 || len(z.Get("s1._device.devices.test.", dns.TypeTLSA)) != 1 {
		t.Fatalf("add: serial %d, records %v", res.Serial, z.Get("s1._device.devices.test.", dns.TypeTLSA))
	}
	if _, err := c.Publish(t.Context(), "s1._device.devices.test", []Record{{Type: "tlsa", Data: "3 1 1 abcd", TTL: 60}}, change.Add); err != nil {
		t.Fatal(err)
	}
	id, err := c.Get(t.Context(), "s1._device.devices.test.")
	if err != nil || len(id.Records) != 2 || id.Records[0].TTL != 60 {
		t.Fatalf("get after second add: %+v %v", id, err)
	}
	// Replace: one SSHFP instead of both TLSA.
	if _, err := c.Publish(t.Context(), "s1._device.devices.test", []Record{{Type: "SSHFP", Data: "4 2 " + hash}}, change.Replace); err != nil {
		t.Fatal(err)
	}
	if z.Get("s1._device.devices.test.", dns.TypeTLSA) != nil || len(z.Get("s1._device.devices.test.", dns.TypeSSHFP)) != 1 {
		t.Fatal("replace did not replace")
	}
	info, err := c.Info(t.Context())
	if err != nil || info.Zone != origin || len(info.DS) != 1 || info.Serial != z.Serial() {
		t.Fatalf("info %+v %v", info, err)
	}
	list, err := c.List(t.Context(), "", "", 0)
	if err != nil || len(list) != 1 || list[0].Name != "s1._device.devices.test." {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := c.Publish(t.Context(), "s1._device.devices.test", nil, change.Remove); err != nil {
		t.Fatal(err)
	}
	var se *StatusError
	if _, err := c.Get(t.Context(), "s1._device.devices.test"); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Fatalf("get after remove: %v", err)
	}
	if _, err := c.Publish(t.Context(), "s1._device.devices.test", nil, change.Remove); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Fatalf("second remove: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	z, c, srv := newAPI(t)
	tests := []struct {
		name string
		do   func() error
		code int
	}{
		{"A record", func() error {
			_, err := c.Publish(t.Context(), "x.devices.test", []Record{{Type: "A", Data: "192.0.2.1"}}, change.Add)
			return err
		}, http.StatusForbidden},
		{"outside zone", func() error {
			_, err := c.Publish(t.Context(), "x.example.com", []Record{{Type: "TLSA", Data: "3 1 1 ab"}}, change.Add)
			return err
		}, http.StatusBadRequest},
		{"asterisk not leftmost", func() error {
			_, err := c.Publish(t.Context(), "a.*.devices.test", []Record{{Type: "TLSA", Data: "3 1 1 ab"}}, change.Add)
			return err
		}, http.StatusForbidden},
		{"injection", func() error {
			_, err := c.Publish(t.Context(), "x.devices.test", []Record{{Type: "TLSA", Data: "3 1 1 ab\nx.devices.test. 300 IN A 1.2.3.4"}}, change.Add)
			return err
		}, http.StatusBadRequest},
		{"bad data", func() error {
			_, err := c.Publish(t.Context(), "x.devices.test", []Record{{Type: "TLSA", Data: "3 1"}}, change.Add)
			return err
		}, http.StatusBadRequest},
		{"no records", func() error { _, err := c.Publish(t.Context(), "x.devices.test", nil, change.Add); return err }, http.StatusBadRequest},
		{"bad token", func() error { _, err := (&Client{BaseURL: srv.URL, Token: "nope"}).Info(t.Context()); return err }, http.StatusUnauthorized},
		{"no token", func() error { _, err := (&Client{BaseURL: srv.URL}).Info(t.Context()); return err }, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := z.Serial()
			err := tt.do()
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.code {
				t.Fatalf("err %v, want status %d", err, tt.code)
			}
			if z.Serial() != before {
				t.Fatal("refused request changed the zone")
			}
		})
	}
}

func TestImportExport(t *testing.T) {
	z, c, srv := newAPI(t)
	const n = 2*ImportBatch + 17
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "d%d._device.devices.test,TLSA,3 1 1 %064x\n", i, i)
	}
	var progress []Progress
	// Through a pipe, so the body is still being sent when progress comes
	// back (the server must read and write at once).
	pr, pw := io.Pipe()
	go func() {
		for _, line := range strings.SplitAfter(b.String(), "\n") {
			if _, err := io.WriteString(pw, line); err != nil {
				return
			}
		}
		pw.Close()
	}()
	last, err := c.Import(t.Context(), pr, ImportOptions{Format: CSV, Progress: func(p Progress) { progress = append(progress, p) }})
	if err != nil || last.Error != "" || last.Applied != n || last.Lines != n {
		t.Fatalf("import: %+v %v", last, err)
	}
	if len(progress) != 4 || progress[0].Applied != ImportBatch || progress[1].Applied != 2*ImportBatch {
		t.Fatalf("progress lines %+v", progress)
	}
	if got := len(z.Identities(origin, "", 0)); got != n {
		t.Fatalf("%d names after import of %d", got, n)
	}
	// JSON lines with an error on line 3: lines 1-2 are in the failed
	// batch and are not applied.
	jl := `{"name":"j1.devices.test","type":"SSHFP","data":"4 2 ` + hash + `"}
{"name":"j2.devices.test","type":"OPENPGPKEY","data":"AQID"}
{"name":"j3.devices.test","type":"TXT","data":"nope"}
`
	last, err = c.Import(t.Context(), strings.NewReader(jl), ImportOptions{})
	if err != nil || !strings.Contains(last.Error, "line 3") || last.Applied != 0 {
		t.Fatalf("bad import: %+v %v", last, err)
	}
	if z.Get("j1.devices.test.", dns.TypeSSHFP) != nil {
		t.Fatal("a record of a failed import batch was applied")
	}
	// Export returns every record, as JSON lines.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/export", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if lines := strings.Count(string(body), "\n"); lines != n {
		t.Fatalf("export has %d lines, want %d", lines, n)
	}
	// Metrics are served behind the token.
	req, _ = http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"dance_zone_serial ", `dance_zone_dns_requests_total{outcome="success"} 0`, "dance_zone_admin_requests_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// keyRoles is "role/state" of each key, in the API's order.
func keyRoles(ks []Key) []string {
	var out []string
	for _, k := range ks {
		out = append(out, string(k.Role)+"/"+k.State)
	}
	return out
}

// tagOf is the tag of the one key of role and state in ks; 0 if there is
// not exactly one.
func tagOf(ks []Key, role zone.KeyRole, state string) uint16 {
	var tags []uint16
	for _, k := range ks {
		if k.Role == role && k.State == state {
			tags = append(tags, k.Tag)
		}
	}
	if len(tags) != 1 {
		return 0
	}
	return tags[0]
}

// TestRolloverAPI rolls the ZSK and then the KSK of a zone with the
// default keys through the API, naming the key with key=, with the older
// step=ROLE:STEP, and not at all.
func TestRolloverAPI(t *testing.T) {
	z, c, srv := newAPI(t)
	ks, err := c.Keys(t.Context())
	if err != nil || !slices.Equal(keyRoles(ks), []string{"ksk/active", "zsk/active"}) {
		t.Fatalf("keys %+v %v", ks, err)
	}
	if ks[0].DS == "" || ks[1].DS != "" || !strings.Contains(ks[0].DS, fmt.Sprintf("DS\t%d 13 2 ", ks[0].Tag)) {
		t.Fatalf("DS of the keys: %+v", ks)
	}
	oldKSK, oldZSK := ks[0].Tag, ks[1].Tag
	steps := []struct {
		name  string
		role  zone.KeyRole
		step  zone.RolloverStep
		query string // raw query instead of role and step
		roles []string
	}{
		// No key: the ZSK of a split zone.
		{"zsk prepublish", "", zone.Prepublish, "", []string{"ksk/active", "zsk/active", "zsk/incoming"}},
		{"zsk activate", zone.RoleZSK, zone.Activate, "", []string{"ksk/active", "zsk/active", "zsk/outgoing"}},
		{"zsk retire", "", "", "step=zsk:retire&force=true", []string{"ksk/active", "zsk/active"}},
		{"ksk prepublish", zone.RoleKSK, zone.Prepublish, "", []string{"ksk/active", "zsk/active", "ksk/incoming"}},
		// No key: the KSK whose rollover is under way.
		{"ksk activate", "", zone.Activate, "", []string{"zsk/active", "ksk/active", "ksk/outgoing"}},
		{"ksk retire", "", "", "key=KSK&step=ksk:retire&force=1", []string{"zsk/active", "ksk/active"}},
	}
	for _, st := range steps {
		var ks []Key
		var serial uint32
		if st.query != "" {
			code, body := post(t, c, srv.URL+"/v1/keys/rollover?"+st.query)
			var res struct {
				Serial uint32 `json:"serial"`
				Keys   []Key  `json:"keys"`
			}
			if code != http.StatusOK || json.Unmarshal(body, &res) != nil {
				t.Fatalf("%s: %d %s", st.name, code, body)
			}
			ks, serial = res.Keys, res.Serial
		} else {
			// The waits are TestRolloverAPITiming's.
			var res RolloverResponse
			res, err = c.Rollover(t.Context(), st.role, st.step, RolloverOptions{Force: true})
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			ks, serial = res.Keys, res.Serial
		}
		// A ZSK activation goes on re-signing in the background, and
		// that moves the serial past the one the step answered with.
		if err := z.ResignWait(t.Context()); err != nil {
			t.Fatal(err)
		}
		serialOK := serial == z.Serial()
		if st.name == "zsk activate" {
			serialOK = serial != 0 && int32(z.Serial()-serial) >= 0 // RFC 1982 order
		}
		if !serialOK || !slices.Equal(keyRoles(ks), st.roles) {
			t.Fatalf("%s: serial %d (zone %d), keys %v, want %v", st.name, serial, z.Serial(), keyRoles(ks), st.roles)
		}
		for _, k := range ks {
			if (k.Role == zone.RoleZSK) != (k.DS == "") {
				t.Errorf("%s: key %+v", st.name, k)
			}
		}
		if st.name == "zsk prepublish" {
			// Another key's rollover waits for this one: 409.
			var se *StatusError
			before := z.Serial()
			if _, err := c.Rollover(t.Context(), zone.RoleKSK, zone.Prepublish, RolloverOptions{}); !errors.As(err, &se) || se.Code != http.StatusConflict || !strings.Contains(se.Message, "zsk rollover is") || z.Serial() != before {
				t.Fatalf("ksk prepublish during a zsk rollover: %v", err)
			}
		}
		if st.name == "zsk retire" {
			if newZSK := tagOf(ks, zone.RoleZSK, "active"); newZSK == oldZSK || newZSK == 0 || tagOf(ks, zone.RoleKSK, "active") != oldKSK {
				t.Fatalf("after the ZSK rollover: %+v (ksk %d, zsk %d before)", ks, oldKSK, oldZSK)
			}
		}
	}
	after, _ := c.Keys(t.Context())
	newKSK := tagOf(after, zone.RoleKSK, "active")
	if newKSK == oldKSK || newKSK == 0 {
		t.Fatalf("after the KSK rollover: %+v (ksk %d before)", after, oldKSK)
	}
	// The zone's DS (for the parent) follows the KSK.
	info, err := c.Info(t.Context())
	if err != nil || len(info.DS) != 1 || !strings.Contains(info.DS[0], fmt.Sprintf("DS\t%d 13 2 ", newKSK)) {
		t.Fatalf("info after the KSK rollover: %+v %v", info, err)
	}
}

// TestRolloverAPICSK rolls the key of a zone with one combined signing
// key.
func TestRolloverAPICSK(t *testing.T) {
	z, c, _, _ := newAPIWith(t, zone.InitOptions{CSK: true}, nil)
	ks, err := c.Keys(t.Context())
	if err != nil || !slices.Equal(keyRoles(ks), []string{"csk/active"}) || ks[0].DS == "" {
		t.Fatalf("keys %+v %v", ks, err)
	}
	var se *StatusError
	for _, role := range []zone.KeyRole{zone.RoleZSK, zone.RoleKSK} {
		if _, err := c.Rollover(t.Context(), role, zone.Prepublish, RolloverOptions{}); !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Message, "roll the csk") {
			t.Fatalf("%s in a csk zone: %v", role, err)
		}
	}
	for _, st := range []struct {
		role  zone.KeyRole
		step  zone.RolloverStep
		roles []string
	}{
		{"", zone.Prepublish, []string{"csk/active", "csk/incoming"}},
		{zone.RoleCSK, zone.Activate, []string{"csk/active", "csk/outgoing"}},
		{"", zone.Retire, []string{"csk/active"}},
	} {
		res, err := c.Rollover(t.Context(), st.role, st.step, RolloverOptions{Force: true})
		got, serial := res.Keys, res.Serial
		if err != nil || serial != z.Serial() || !slices.Equal(keyRoles(got), st.roles) {
			t.Fatalf("%s %s: %v, serial %d, keys %v, want %v", st.role, st.step, err, serial, keyRoles(got), st.roles)
		}
	}
	if after, _ := c.Keys(t.Context()); len(after) != 1 || after[0].Tag == ks[0].Tag {
		t.Fatalf("after the rollover: %+v (before %+v)", after, ks)
	}
}

// post sends an authenticated POST to url and returns the status and body.
func post(t *testing.T, c *Client, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestRolloverAPIErrors: 400 for what is not a step or a role or for a
// role the zone has no key of, 409 for a step out of order, 500 for a
// failure of the server,
// whatever form the request names the key in; none changes the zone.
func TestRolloverAPIErrors(t *testing.T) {
	var logs strings.Builder
	z, c, srv, dir := newAPIWith(t, zone.InitOptions{}, slog.New(slog.NewTextHandler(&logs, nil)))
	tests := []struct {
		name  string
		query string
		code  int
		want  string // in the error message
	}{
		{"no step", "", http.StatusBadRequest, "step must be"},
		{"unknown step", "step=sideways", http.StatusBadRequest, "step must be"},
		{"step in capitals", "step=PREPUBLISH", http.StatusBadRequest, "step must be"},
		{"unknown key", "key=psk&step=prepublish", http.StatusBadRequest, "unknown key role"},
		{"unknown role in step", "step=psk:prepublish", http.StatusBadRequest, "unknown key role"},
		{"unknown step after role", "step=zsk:sideways", http.StatusBadRequest, "step must be"},
		{"key and step disagree", "key=ksk&step=zsk:prepublish", http.StatusBadRequest, "different keys"},
		{"retire first", "step=retire", http.StatusConflict, "out of order"},
		{"activate first", "key=ksk&step=activate", http.StatusConflict, "no pre-published ksk"},
		{"activate first, role in step", "step=zsk:activate", http.StatusConflict, "no pre-published zsk"},
		{"csk in a split zone", "key=csk&step=prepublish", http.StatusBadRequest, "no CSK"},
		{"csk in a split zone, role in step", "step=csk:activate", http.StatusBadRequest, "no CSK"},
	}
	before, _ := c.Keys(t.Context())
	check := func(name, query string, code int, want string) {
		t.Helper()
		serial := z.Serial()
		got, body := post(t, c, srv.URL+"/v1/keys/rollover?"+query)
		var e apiError
		if got != code || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, want) {
			t.Errorf("%s: %d %s, want %d with %q", name, got, body, code, want)
		}
		if z.Serial() != serial {
			t.Errorf("%s: the zone changed", name)
		}
	}
	for _, tt := range tests {
		check(tt.name, tt.query, tt.code, tt.want)
	}
	if after, _ := c.Keys(t.Context()); !slices.Equal(keyRoles(after), keyRoles(before)) || after[1].Tag != before[1].Tag {
		t.Fatalf("keys changed: %+v, before %+v", after, before)
	}
	// The client reports 409 as a StatusError.
	var se *StatusError
	if _, err := c.Rollover(t.Context(), zone.RoleKSK, zone.Retire, RolloverOptions{}); !errors.As(err, &se) || se.Code != http.StatusConflict {
		t.Fatalf("client, ksk retire first: %v", err)
	}
	// A server failure: the key files are gone. The client learns only
	// that the server failed, the log says why.
	if err := os.RemoveAll(filepath.Join(dir, zone.KeysDir)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"step=prepublish", "key=zsk&step=prepublish", "step=zsk:prepublish", "step=ksk:activate"} {
		logs.Reset()
		check("server failure "+q, q, http.StatusInternalServerError, "internal error")
		if !strings.Contains(logs.String(), "key rollover step failed") || !strings.Contains(logs.String(), "no such file") {
			t.Errorf("server failure %s: log %q", q, logs.String())
		}
	}
}
