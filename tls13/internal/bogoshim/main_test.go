package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

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
		{[]string{"-key-shares", "70000"}, exitFailed, ""},
		{[]string{"-expect-peer-verify-pref", "-1"}, exitFailed, ""},
		{[]string{"-resumption-delay", "-1"}, exitFailed, ""},
		{[]string{"-server-supported-groups-hint", "29"}, exitUnimplemented, ""},
		{[]string{"-expect-cipher-aes", "4865"}, exitUnimplemented, ""},
		{[]string{"-ticket-key", "!!"}, exitFailed, ""},
		{[]string{"-ticket-key", ""}, exitFailed, ""},
		{[]string{"-max-send-fragment", "x"}, exitFailed, ""},
		{[]string{"-use-ticket-callback"}, exitUnimplemented, ""},
		{[]string{"-allow-unknown-alpn-protos"}, exitUnimplemented, ""},
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

// TestConfigFromFlags: the flags of the engine's preferences reach the
// Config: key shares (none with -no-key-shares), the server's CA names
// (none for <NULL> and <EMPTY>, a bad hex value refused), issuer-gated
// credentials.
func TestConfigFromFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		check  func(c *tls13.Config) bool
		failed bool
	}{
		{args: []string{"-curves", "29", "-curves", "23", "-key-shares", "23"},
			check: func(c *tls13.Config) bool { return slices.Equal(c.KeyShares, []tls13.CurveID{tls13.CurveP256}) }},
		{args: []string{"-no-key-shares"},
			check: func(c *tls13.Config) bool { return c.KeyShares != nil && len(c.KeyShares) == 0 }},
		{args: []string{},
			check: func(c *tls13.Config) bool { return c.KeyShares == nil && c.ClientCANames == nil }},
		{args: []string{"-server", "-use-client-ca-list", "3000,3003310100"},
			check: func(c *tls13.Config) bool {
				return len(c.ClientCANames) == 2 && bytes.Equal(c.ClientCANames[1], []byte{0x30, 0x03, 0x31, 0x01, 0x00})
			}},
		{args: []string{"-server", "-use-client-ca-list", "<NULL>"}, check: func(c *tls13.Config) bool { return c.ClientCANames == nil }},
		{args: []string{"-server", "-use-client-ca-list", "<EMPTY>"}, check: func(c *tls13.Config) bool { return c.ClientCANames == nil }},
		{args: []string{"-server", "-use-client-ca-list", "30zz"}, failed: true},
		{args: []string{"-max-send-fragment", "512"}, check: func(c *tls13.Config) bool { return c.MaxSendFragment == 512 }},
		{args: []string{"-server", "-reject-alpn", "-select-alpn", "foo"},
			check: func(c *tls13.Config) bool { return slices.Equal(c.NextProtos, []string{rejectALPNProto}) }},
	} {
		o, err := parseFlags(tc.args, false)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := o.config()
		if tc.failed {
			if err == nil {
				t.Errorf("%q: no error", tc.args)
			}
			continue
		}
		if err != nil || !tc.check(cfg) {
			t.Errorf("%q: config %+v, %v", tc.args, cfg, err)
		}
	}
	o, err := parseFlags([]string{"-new-x509-credential", "-must-match-issuer", "-new-x509-credential"}, false)
	if err != nil || len(o.certs) != 2 || !o.certs[0].mustMatchIssuer || o.certs[1].mustMatchIssuer {
		t.Fatalf("credentials %+v, %v", o.certs, err)
	}
}

// TestExpectTicketAgeSkew: -expect-ticket-age-skew takes a negative value,
// and a resumed connection whose skew differs, in whole seconds, fails the
// check; a full handshake is not checked.
func TestExpectTicketAgeSkew(t *testing.T) {
	o, err := parseFlags([]string{"-expect-ticket-age-skew", "-5"}, true)
	if err != nil || o.expectTicketAgeSkew == nil || *o.expectTicketAgeSkew != -5 {
		t.Fatalf("options %+v, %v", o, err)
	}
	for _, tc := range []struct {
		st tls13.ConnectionState
		ok bool
	}{
		{tls13.ConnectionState{Resumed: true, TicketAgeSkew: -5 * time.Second}, true},
		{tls13.ConnectionState{Resumed: true, TicketAgeSkew: -5*time.Second - 300*time.Millisecond}, true},
		{tls13.ConnectionState{Resumed: true, TicketAgeSkew: -4 * time.Second}, false},
		{tls13.ConnectionState{Resumed: true, TicketAgeSkew: 5 * time.Second}, false},
	} {
		if err := o.check(tc.st, true); (err == nil) != tc.ok {
			t.Errorf("skew %v: check %v, want ok %v", tc.st.TicketAgeSkew, err, tc.ok)
		}
	}
}
