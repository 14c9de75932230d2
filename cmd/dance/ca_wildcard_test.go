package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestCAWildcardEndToEnd: an organisation CA made by 'dance ca new' is
// published at *._device.ZONE with 'dance zone add' or, as printed, with
// 'dance id publish --from -'; 'dance verify' then accepts every device the
// CA issued through the zone server's wildcard answers, proven by DNSSEC
// from the zone's anchors, and nothing once the record is removed.
func TestCAWildcardEndToEnd(t *testing.T) {
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", zdir)
	addr, api, _, _ := adminServe(t, zdir)

	ca := filepath.Join(dir, "ca")
	caLine := idMust(t, "ca", "new", "--name", "devices.test", "--out", ca)
	owner, params, data := idParseLine(t, caLine)
	if owner != "*._device.devices.test." || params != "2 0 1" {
		t.Fatalf("CA record %q", caLine)
	}
	issue := func(caDir, name string) string {
		out := filepath.Join(dir, name)
		idMust(t, "id", "new", "--name", name+"._device.devices.test", "--ca", filepath.Join(caDir, "cert.pem"), "--ca-key", filepath.Join(caDir, "key.pem"), "--out", out)
		return filepath.Join(out, "cert.pem")
	}
	dev7 := issue(ca, "sensor7")
	dev8 := issue(ca, "sensor8")
	// A device of another CA for the same domain: its chain is valid, but
	// the published record is not its CA's.
	other := filepath.Join(dir, "other-ca")
	idMust(t, "ca", "new", "--name", "devices.test", "--out", other)
	stranger := issue(other, "sensor9")

	resolve := []string{"--resolver", addr, "--anchors", filepath.Join(zdir, "anchors")}
	verify := func(chain string) []string { return append([]string{"verify", "--chain", chain}, resolve...) }
	runCases(t, []cliCase{
		{"before publishing", verify(dev7), 1, `^not authenticated: no-record\n`, ""},
		{"publish with zone add", []string{"zone", "add", "--api", api, "--dir", zdir, owner, "TLSA", params + " " + data}, 0, `^\*\._device\.devices\.test: 1 record\(s\) published`, ""},
		{"device 7", verify(dev7), 0, `(?s)^authenticated: sensor7\._device\.devices\.test \(device\)\nrecord: 2 0 1 ` + data + ` \(DANE-TA, depth 1\)`, ""},
		{"device 8", verify(dev8), 0, `^authenticated: sensor8\._device\.devices\.test \(device\)`, ""},
		{"another CA's device", verify(stranger), 1, `^not authenticated: no-match\n`, ""},
		{"asterisk below", []string{"zone", "add", "--api", api, "--dir", zdir, "x.*._device.devices.test", "TLSA", params + " " + data}, 2, `^$`, "only allowed leftmost"},
		{"remove", []string{"zone", "remove", "--api", api, "--dir", zdir, owner}, 0, `removed`, ""},
		{"after removal", verify(dev7), 1, `^not authenticated: no-record\n`, ""},
	})
	// The line 'dance ca new' printed goes as it is to 'dance id publish'.
	var out, errb strings.Builder
	code := run(context.Background(), []string{"id", "publish", "--server", addr, "--tsig", filepath.Join(zdir, "tsig.key"), "--from", "-"}, strings.NewReader(caLine), &out, &errb)
	if code != 0 {
		t.Fatalf("id publish: exit %d\nstdout %s\nstderr %s", code, out.String(), errb.String())
	}
	runCases(t, []cliCase{
		{"device 7 after id publish", verify(dev7), 0, `^authenticated: sensor7\._device\.devices\.test \(device\)`, ""},
		{"help says where to publish", []string{"ca", "new", "--help"}, 0, `(?s)dance zone add.*dance id publish`, ""},
	})
}
