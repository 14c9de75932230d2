package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestZoneHelpWalking: dance zone --help says where the zone's names can be
// listed and how to keep secondaries private, and every flag it names is a
// flag of zone serve (TestWalkPrimaryAndSecondary in zone/server checks the
// behaviour it describes).
func TestZoneHelpWalking(t *testing.T) {
	help := func(args ...string) string {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	zoneHelp := help("zone", "--help")
	for _, want := range []string{"compact denial", "NSEC3", "secondary", "NXDOMAIN", "NOERROR", "CO bit", "XoT", "query ACL"} {
		if !strings.Contains(zoneHelp, want) {
			t.Errorf("zone --help does not mention %q", want)
		}
	}
	serveHelp := help("zone", "serve", "--help")
	flags := regexp.MustCompile(`--[a-z][a-z-]*`).FindAllString(walkHelp, -1)
	if len(flags) < 4 {
		t.Fatalf("the walking help names %d flags: %v", len(flags), flags)
	}
	for _, f := range flags {
		if !regexp.MustCompile(`\n  ` + f + `[ \n]`).MatchString(serveHelp) {
			t.Errorf("zone --help names %s, which zone serve does not have", f)
		}
	}
	if regexp.MustCompile(`\n  --transfer-tls[ \n]`).MatchString(serveHelp) {
		t.Fatal("the flag check above matches anything")
	}
}
