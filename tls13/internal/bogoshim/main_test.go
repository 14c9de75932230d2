package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/dnsbound/dance/tls13"
)

// TestRunExitStatus: flags the shim does not implement, and versions below
// TLS 1.3, exit 89 so the runner counts the test as unimplemented; a bad
// value of a known flag is a failure; -is-handshaker-supported answers No.
func TestRunExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		stdout string
	}{
		{[]string{"-is-handshaker-supported"}, exitOK, "No\n"},
		{[]string{"-dtls"}, exitUnimplemented, ""},
		{[]string{"-server", "-expect-no-session"}, exitUnimplemented, ""},
		{[]string{"-max-version", "771"}, exitUnimplemented, ""},
		{[]string{"-min-version", "65277"}, exitUnimplemented, ""},
		{[]string{"-on-resume-no-such-flag"}, exitUnimplemented, ""},
		{[]string{"-on-retry-expect-ech-accept"}, exitUnimplemented, ""},
		{[]string{"-curves", "x"}, exitFailed, ""},
		{[]string{"-curves", "70000"}, exitFailed, ""},
		{[]string{"-advertise-alpn", "\x05ab"}, exitFailed, ""},
		{[]string{"-port"}, exitFailed, ""},
		{[]string{"-verify-prefs", "1025"}, exitUnimplemented, ""},
		{[]string{"-signing-prefs", "1537"}, exitUnimplemented, ""},
		{[]string{"-signing-prefs", "x"}, exitFailed, ""},
		{[]string{"-verify-prefs", "70000"}, exitFailed, ""},
	} {
		var out, errb bytes.Buffer
		got := run(tc.args, &out, &errb)
		if got != tc.status || out.String() != tc.stdout {
			t.Errorf("run(%q) = %d, stdout %q (stderr %q); want %d, %q", tc.args, got, out.String(), errb.String(), tc.status, tc.stdout)
		}
	}
}

// TestParseFlags: values reach the options, -on-initial- flags apply and
// -on-resume- flags do not.
func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-port", "443", "-shim-id", "7", "-curves", "29", "-curves", "23",
		"-advertise-alpn", "\x03foo\x03bar", "-min-version", "772", "-on-initial-expect-alpn", "foo",
		"-on-resume-expect-alpn", "bar", "-resume-count", "2", "-cert-file", "c.pem", "-key-file", "k.pem"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if o.port != 443 || o.shimID != 7 || len(o.curves) != 2 || o.curves[1] != 23 || !o.only13 ||
		strings.Join(o.advertiseALPN, ",") != "foo,bar" || o.expectALPN != "foo" ||
		len(o.certs) != 1 || o.certs[0].certFile != "c.pem" || o.certs[0].keyFile != "k.pem" {
		t.Fatalf("options %+v", o)
	}
	// -signing-prefs belongs to the credential before it, the legacy
	// one before any -new-*-credential.
	c, err := parseFlags([]string{"-signing-prefs", "2055", "-cert-file", "c.pem", "-new-x509-credential",
		"-signing-prefs", "1027", "-signing-prefs", "2052", "-verify-prefs", "2053"}, false)
	if err != nil || len(c.certs) != 2 || !slices.Equal(c.certs[0].signingPrefs, []tls13.SignatureScheme{tls13.Ed25519}) ||
		!slices.Equal(c.certs[1].signingPrefs, []tls13.SignatureScheme{tls13.ECDSAWithP256AndSHA256, tls13.PSSWithSHA256}) ||
		!slices.Equal(c.verifyPrefs, []tls13.SignatureScheme{tls13.PSSWithSHA384}) {
		t.Fatalf("signature scheme options %+v, %v", c, err)
	}
	r, err := parseFlags([]string{"-on-initial-expect-alpn", "foo", "-on-resume-expect-alpn", "bar", "-resume-count", "2"}, true)
	if err != nil || r.expectALPN != "bar" || r.resumeCount != 2 {
		t.Fatalf("resumption options %+v, %v", r, err)
	}
}
