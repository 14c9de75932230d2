package main

import (
	"path/filepath"
	"testing"
)

// TestRevokedLabel: 'dance lookup' and 'zone list' print the revocation
// marker at a revoked name as "revoked", never as a key's data, and an
// ordinary key as its data.
func TestRevokedLabel(t *testing.T) {
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", zdir)
	addr, _, _, _ := adminServe(t, zdir)
	const name = "sensor3._device.devices.test"
	_, hash := adminIdentity(t, dir, name)
	lookup := []string{"lookup", name, "--resolver", addr, "--anchors", filepath.Join(zdir, "anchors")}
	list := []string{"zone", "list", "--dir", zdir}
	const zeros = `0000000000000000000000000000000000000000000000000000000000000000`
	runCases(t, []cliCase{
		{"publish", []string{"zone", "add", "--dir", zdir, name, "TLSA", hash}, 0, `published`, ""},
		{"lookup: a key", lookup, 0, `^` + name + `\.\t300\tIN\tTLSA\t` + hash + `\nsecure\n$`, ""},
		{"list: a key", list, 0, `^` + name + `\.\t300\tIN\tTLSA\t` + hash + `\n$`, ""},
		{"list --json: a key", append(list, "--json"), 0, `^\{"name":"` + name + `\.","records":\[\{"type":"TLSA","data":"` + hash + `","ttl":300\}\]\}\n$`, ""},
		{"revoke", []string{"zone", "revoke", "--dir", zdir, name}, 0, `revoked`, ""},
		{"lookup: revoked", lookup, 0, `^` + name + `\.\t300\tIN\tTLSA\trevoked \(the revocation marker[^\n]*\)\nsecure\n$`, ""},
		{"lookup --json: revoked", append(lookup, "--json"), 0, `(?s)"data": "3 1 1 ` + zeros + `".*"revoked": true`, ""},
		{"list: revoked", list, 0, `^` + name + `\.\t300\tIN\tTLSA\trevoked \(the revocation marker[^\n]*\)\n$`, ""},
		{"list --json: revoked", append(list, "--json"), 0, `^\{"name":"` + name + `\.","records":\[\{"type":"TLSA","data":"3 1 1 ` + zeros + `","ttl":300\}\],"revoked":true\}\n$`, ""},
	})
}
