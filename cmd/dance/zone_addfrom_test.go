package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestZoneAddFrom: 'zone add --from' takes the lines 'id new' and 'ca new'
// print, lines without owner or TTL, and records at several names; it
// checks every line before publishing anything. Its output and that of 'id
// publish' have one shape: NAME without the trailing dot, the record
// count, the serial.
func TestZoneAddFrom(t *testing.T) {
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "devices.test", "--dir", zdir)
	addr, _, _, _ := adminServe(t, zdir)
	add := []string{"zone", "add", "--dir", zdir, "--from", "-"}
	list := []string{"zone", "list", "--dir", zdir}
	shape := regexp.MustCompile(`^([a-z0-9_.*-]+[a-z0-9_]): (\d+) record\(s\) (published|added|removed)[^,]*, serial (\d+)(, zone devices\.test at 127\.0\.0\.1:\d+)?\n$`)
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, errs, code := idRun(t, stdin, args...)
		if code != 0 {
			t.Fatalf("dance %s: exit %d\nstdout %s\nstderr %s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}

	devLine := idMust(t, "id", "new", "--name", "sensor1._device.devices.test", "--out", filepath.Join(dir, "s1"))
	idParseLine(t, devLine)
	out := must(devLine, add...)
	if m := shape.FindStringSubmatch(out); m == nil || m[1] != "sensor1._device.devices.test" || m[2] != "1" {
		t.Errorf("zone add --from with the line of id new printed %q", out)
	}
	caLine := idMust(t, "ca", "new", "--name", "devices.test", "--out", filepath.Join(dir, "ca"))
	out = must(caLine, add...)
	if m := shape.FindStringSubmatch(out); m == nil || m[1] != "*._device.devices.test" || m[2] != "1" {
		t.Errorf("zone add --from with the line of ca new printed %q", out)
	}
	// The same record by RFC 2136: the same shape.
	out = must(devLine, "id", "publish", "--server", addr, "--tsig", filepath.Join(zdir, "tsig.key"), "--from", "-")
	if m := shape.FindStringSubmatch(out); m == nil || m[1] != "sensor1._device.devices.test" || m[2] != "1" || m[5] == "" {
		t.Errorf("id publish printed %q, not the shape of zone add", out)
	}

	hex := func(b string) string { return strings.Repeat(b, 32) }
	several := "sensor2._device.devices.test. 120 IN TLSA 3 1 1 " + hex("a2") + "\n" +
		"\tIN TLSA 3 1 1 " + hex("b2") + "\n" + // the owner of the line before, no TTL of its own
		"sensor3._device.devices.test TLSA 3 1 1 " + hex("a3") + " ; a comment\n"
	out = must(several, append(add, "--ttl", "60")...)
	if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(lines) != 2 ||
		!shape.MatchString(lines[0]+"\n") || !strings.HasPrefix(lines[0], "sensor2._device.devices.test: 2 record(s)") ||
		!shape.MatchString(lines[1]+"\n") || !strings.HasPrefix(lines[1], "sensor3._device.devices.test: 1 record(s)") {
		t.Errorf("zone add --from with two names printed %q", out)
	}
	// A record set has one TTL: the line's 120 and --ttl 60 end up as one.
	runCases(t, []cliCase{
		{"records at two names", append(list, "--under", "sensor2._device.devices.test"), 0, `^(sensor2\._device\.devices\.test\.\t\d+\tIN\tTLSA\t3 1 1 (?:a2|b2){32}\n){2}$`, ""},
		{"--ttl for a line without TTL", append(list, "--under", "sensor3._device.devices.test"), 0, `^sensor3\._device\.devices\.test\.\t60\tIN\tTLSA\t3 1 1 ` + hex("a3") + `\n$`, ""},
	})

	before := must("", list...)
	for _, tt := range []struct {
		name, stdin string
		args        []string
		stderr      string
	}{
		{"a line at another name than NAME", "3 1 1 " + hex("c4") + "\nsensor5._device.devices.test. 300 IN TLSA 3 1 1 " + hex("c5") + "\n", []string{"sensor4._device.devices.test"}, "not at sensor4._device.devices.test"},
		{"a bad line after a good one", "sensor4._device.devices.test. 300 IN TLSA 3 1 1 " + hex("c4") + "\nsensor5._device.devices.test. 300 IN TLSA 3 1 1 abc\n", nil, "stdin:2"},
		{"no owner without NAME", "3 1 1 " + hex("c4") + "\n", nil, "give NAME"},
		{"nothing", "; only a comment\n", nil, "no TLSA records"},
		{"TYPE DATA with --from", "", []string{"sensor4._device.devices.test", "TLSA", "3 1 1 " + hex("c4")}, "at most NAME"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := idRun(t, tt.stdin, append(add, tt.args...)...)
			if code != 2 || !strings.Contains(errs, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errs, tt.stderr)
			}
			if after := must("", list...); after != before {
				t.Errorf("refused input changed the zone:\n%s\nwas\n%s", after, before)
			}
		})
	}
	// Bare RDATA with NAME.
	out = must("3 1 1 "+hex("c6")+"\n", append(add, "sensor6._device.devices.test.")...)
	if m := shape.FindStringSubmatch(out); m == nil || m[1] != "sensor6._device.devices.test" {
		t.Errorf("zone add NAME --from with bare RDATA printed %q", out)
	}
}
