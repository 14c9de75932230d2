package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestZoneRevokeUnderWildcard: a device issued by the organisation CA
// published at *._device.ZONE, with its own 3 1 1 record as 'dance id new
// --ca' prints it, is checked with 'dance verify' through the zone server
// and the validating resolver, in both shapes of zone. With the wildcard,
// 'zone remove' leaves the device authenticated through its CA (the trap,
// which remove now warns about); 'zone revoke' refuses it with the reason
// revoked. Without the wildcard, remove alone is enough and says nothing,
// and revoke still says revoked. A revoked name takes new records only
// with --replace, which says that it lifts the revocation.
func TestZoneRevokeUnderWildcard(t *testing.T) {
	for _, wildcard := range []bool{true, false} {
		t.Run(map[bool]string{true: "wildcard", false: "no wildcard"}[wildcard], func(t *testing.T) {
			testZoneRevoke(t, wildcard)
		})
	}
}

func testZoneRevoke(t *testing.T, wildcard bool) {
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", zdir)
	addr, api, _, _ := adminServe(t, zdir)
	ca := filepath.Join(dir, "ca")
	caOwner, caParams, caData := idParseLine(t, idMust(t, "ca", "new", "--name", "devices.test", "--out", ca))
	issue := func(name string) (cert, owner, rdata string) {
		out := filepath.Join(dir, name)
		line := idMust(t, "id", "new", "--name", name+"._device.devices.test", "--ca", filepath.Join(ca, "cert.pem"), "--ca-key", filepath.Join(ca, "key.pem"), "--out", out)
		owner, params, data := idParseLine(t, line)
		if params != "3 1 1" {
			t.Fatalf("id new --ca printed %q, want the device's own 3 1 1", line)
		}
		return filepath.Join(out, "cert.pem"), strings.TrimSuffix(owner, "."), params + " " + data
	}
	dev, name, own := issue("sensor7")
	_, _, own2 := issue("sensor8") // another key, for the re-publication
	withAPI := func(args ...string) []string {
		return append(append([]string{"zone"}, args...), "--api", api, "--dir", zdir)
	}
	verify := []string{"verify", "--chain", dev, "--resolver", addr, "--anchors", filepath.Join(zdir, "anchors")}
	verifyJSON := append(append([]string{}, verify...), "--json")
	publish := func(args ...string) []string {
		return append([]string{"id", "publish", "--server", addr, "--tsig", filepath.Join(zdir, "tsig.key")}, args...)
	}
	quoted := strings.ReplaceAll(name, ".", `\.`)
	authenticated := `^authenticated: ` + quoted + ` \(device\)\n`

	if wildcard {
		runCases(t, []cliCase{{"publish the CA", withAPI("add", caOwner, "TLSA", caParams+" "+caData), 0, `published`, ""}})
	}
	runCases(t, []cliCase{
		{"publish the device", withAPI("add", name, "TLSA", own), 0, `published`, ""},
		{"device accepted", verify, 0, authenticated + `record: 3 1 1 `, ""},
	})

	// Remove alone.
	var out, errb bytes.Buffer
	if code := run(context.Background(), withAPI("remove", name), nil, &out, &errb); code != 0 {
		t.Fatalf("zone remove: exit %d\nstdout %s\nstderr %s", code, out.String(), errb.String())
	}
	warned := strings.Contains(errb.String(), "dance: warning:") && strings.Contains(errb.String(), "*._device.devices.test") &&
		strings.Contains(errb.String(), "dance zone revoke")
	if wildcard != warned {
		t.Errorf("zone remove with wildcard=%v: stderr %q (want a warning naming the wildcard and zone revoke: %v)", wildcard, errb.String(), wildcard)
	}
	if wildcard {
		// The trap: removed, yet authenticated through the CA's wildcard.
		runCases(t, []cliCase{{"after remove: still accepted through the wildcard", verify, 0, authenticated + `record: 2 0 1 ` + caData + ` \(DANE-TA, depth 1\)`, ""}})
	} else {
		runCases(t, []cliCase{{"after remove", verify, 1, `^not authenticated: no-record\n`, ""}})
	}

	shadow := `, no wildcard covers it`
	if wildcard {
		shadow = `; it shadows the wildcard \*\._device\.devices\.test`
	}
	runCases(t, []cliCase{
		{"publish again", withAPI("add", name, "TLSA", own), 0, `published`, ""},
		{"revoke", withAPI("revoke", name), 0, `^` + quoted + `: revoked, serial \d+` + shadow, ""},
		{"after revoke", verify, 1, `^not authenticated: revoked\n`, ""},
		{"after revoke, json", verifyJSON, 1, `"reason": "revoked"`, ""},
		{"add over a revocation", withAPI("add", name, "TLSA", own2), 2, `^$`, "--replace"},
		// RFC 2136 update keys cannot lift a revocation, in any form.
		{"update key adds", publish("--add", name, "TLSA", own2), 1, `^$`, "REFUSED"},
		{"update key replaces", publish(name, "TLSA", own2), 1, `^$`, "REFUSED"},
		{"update key removes", publish("--remove", name), 1, `^$`, "REFUSED"},
		{"still revoked", verify, 1, `^not authenticated: revoked\n`, ""},
		{"revoke a name without records", withAPI("revoke", "sensor9._device.devices.test"), 0, `^sensor9\._device\.devices\.test: revoked`, ""},
		{"replace lifts the revocation", withAPI("add", "--replace", name, "TLSA", own), 0, `(?s)1 record\(s\) published, serial \d+.*revocation lifted`, ""},
		{"accepted again", verify, 0, authenticated + `record: 3 1 1 `, ""},
		{"help", []string{"zone", "--help"}, 0, `(?s)revoke.*marker`, ""},
	})

	// The same through RFC 2136, as with any primary: id publish --remove
	// asks the server afterwards and warns; --revoke publishes the marker.
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), publish("--remove", name), nil, &out, &errb); code != 0 {
		t.Fatalf("id publish --remove: exit %d\nstdout %s\nstderr %s", code, out.String(), errb.String())
	}
	warned = strings.Contains(errb.String(), "dance: warning: "+name+". still answers with 1 TLSA record(s) (2 0 1 ") && strings.Contains(errb.String(), "--revoke")
	if wildcard != warned || (!wildcard && errb.Len() != 0) {
		t.Errorf("id publish --remove with wildcard=%v: stderr %q", wildcard, errb.String())
	}
	after := cliCase{"after id publish --remove", verify, 1, `^not authenticated: no-record\n`, ""}
	if wildcard {
		after = cliCase{"after id publish --remove: still accepted through the wildcard", verify, 0, authenticated + `record: 2 0 1 `, ""}
	}
	runCases(t, []cliCase{
		after,
		{"id publish --revoke", publish("--revoke", name), 0, `^` + quoted + `: 1 record\(s\) published \(revoked: the revocation marker\), serial \d+, zone devices\.test at `, ""},
		{"after id publish --revoke", verify, 1, `^not authenticated: revoked\n`, ""},
		{"id publish --revoke with records", publish("--revoke", name, "TLSA", own), 2, `^$`, "--revoke takes one NAME"},
	})
}
