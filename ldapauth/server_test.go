package ldapauth

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/verify"
)

// TestBindExternal: a user certificate from the domain's published user
// CA binds as uid@domain; certificates from an unpublished CA, from a
// revoked or unpublished domain, from a domain not served, a device
// certificate and no certificate are refused, and the refused stay
// anonymous.
func TestBindExternal(t *testing.T) {
	e := startEnv(t, nil)
	cases := []struct {
		user   string // "" for no certificate
		code   ResultCode
		whoami string
		result string // binds_total label
		reason string // in the log line of a refusal
	}{
		{uAlice, ResultSuccess, "dn:uid=alice,dc=example,dc=test", bindOK, ""},
		{uCarol, ResultSuccess, "dn:uid=carol,dc=example,dc=test", bindOK, ""},
		{uMallory, ResultInvalidCredentials, "", bindRefused, "no-match"},
		{uRevoked, ResultInvalidCredentials, "", bindRefused, "revoked"},
		{uUnpub, ResultInvalidCredentials, "", bindRefused, "no-record"},
		{uOther, ResultInvalidCredentials, "", bindRefused, "not-allowed"},
		{uDevice, ResultInvalidCredentials, "", bindRefused, "not-allowed"},
		{"", ResultInappropriateAuthentication, "", bindNoCertificate, "no-certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			var u *user
			if tc.user != "" {
				uu := e.users[tc.user]
				u = &uu
			}
			before := e.counter(t, "dance_ldap_binds_total", tc.result)
			c := e.dial(t, u)
			if got := c.bindExternal(nil); got != tc.code {
				t.Fatalf("bind: result %d, want %d", got, tc.code)
			}
			if got := e.counter(t, "dance_ldap_binds_total", tc.result); got != before+1 {
				t.Errorf("binds_total{result=%q} = %v, want %v", tc.result, got, before+1)
			}
			code, who := c.whoami()
			if code != ResultSuccess || who != tc.whoami {
				t.Errorf("whoami: %d %q, want %q", code, who, tc.whoami)
			}
			if tc.reason != "" && !strings.Contains(e.logs.String(), "reason="+tc.reason) {
				t.Errorf("no log line with reason=%s:\n%s", tc.reason, e.logs)
			}
		})
	}
}

// failingVerifier refuses every certificate with one reason.
type failingVerifier struct{ reason verify.Reason }

func (f failingVerifier) Verify(_ context.Context, name string, _ verify.Presented) (*verify.Identity, error) {
	return nil, &verify.Error{Reason: f.reason, Name: name}
}

// TestBindVerifierFails: when the verification core cannot decide (too
// busy, DNS unreachable or indeterminate) the bind is refused with busy or
// unavailable, which tell the client to retry; a bogus DNSSEC answer is
// invalidCredentials like any forged identity. None binds.
func TestBindVerifierFails(t *testing.T) {
	cases := []struct {
		reason verify.Reason
		code   ResultCode
		result string
	}{
		{verify.ReasonOverloaded, ResultBusy, bindUnavailable},
		{verify.ReasonLookupTimeout, ResultUnavailable, bindUnavailable},
		{verify.ReasonLookupFailed, ResultUnavailable, bindUnavailable},
		{verify.ReasonDNSIndeterminate, ResultUnavailable, bindUnavailable},
		{verify.ReasonDNSBogus, ResultInvalidCredentials, bindRefused},
		{verify.ReasonDNSInsecure, ResultInvalidCredentials, bindRefused},
	}
	for _, tc := range cases {
		t.Run(tc.reason.String(), func(t *testing.T) {
			e := startEnv(t, func(c *Config) { c.Verifier = failingVerifier{tc.reason} })
			u := e.users[uAlice]
			c := e.dial(t, &u)
			if got := c.bindExternal(nil); got != tc.code {
				t.Fatalf("bind: result %d, want %d", got, tc.code)
			}
			if got := e.counter(t, "dance_ldap_binds_total", tc.result); got != 1 {
				t.Errorf("binds_total{result=%q} = %v, want 1", tc.result, got)
			}
			if code, who := c.whoami(); code != ResultSuccess || who != "" {
				t.Errorf("whoami after a refused bind: %d %q", code, who)
			}
		})
	}
}

// TestOffListNoLookup: a user of a domain the server does not serve is
// refused without a DNS query (architecture §4.1.1), although its CA is
// published.
func TestOffListNoLookup(t *testing.T) {
	e := startEnv(t, nil)
	u := e.users[uOther]
	before := e.h.Queries()
	if got := e.dial(t, &u).bindExternal(nil); got != ResultInvalidCredentials {
		t.Fatalf("bind: %d", got)
	}
	if q := e.h.Queries(); q != before {
		t.Errorf("%d DNS queries for a domain not served", q-before)
	}
	if !strings.Contains(e.logs.String(), "not-allowed") {
		t.Errorf("log does not give the reason:\n%s", e.logs)
	}
}

// TestWhoAmIUserForm: WhoAmIUser answers u:uid@domain, lower case.
func TestWhoAmIUserForm(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.WhoAmI = WhoAmIUser })
	u := e.users[uAlice] // issued as "Alice"
	c := e.dial(t, &u)
	if got := c.bindExternal(nil); got != ResultSuccess {
		t.Fatalf("bind: %d", got)
	}
	if code, who := c.whoami(); code != ResultSuccess || who != "u:alice@example.test" {
		t.Errorf("whoami: %d %q", code, who)
	}
}

// TestAuthzID: an authorization identity other than the user's own is
// refused unless the policy permits it.
func TestAuthzID(t *testing.T) {
	pol, err := ParseAuthzPolicy(strings.NewReader("alice@example.test bob@example.test # helpdesk\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		policy *AuthzPolicy
		user   string
		authz  *string
		code   ResultCode
		whoami string
	}{
		{"empty", nil, uAlice, ptr(""), ResultSuccess, "u:alice@example.test"},
		{"own u", nil, uAlice, ptr("u:ALICE@Example.Test"), ResultSuccess, "u:alice@example.test"},
		{"own dn", nil, uAlice, ptr("dn:UID=alice, DC=example,dc=test"), ResultSuccess, "u:alice@example.test"},
		{"other refused", nil, uAlice, ptr("u:bob@example.test"), ResultInsufficientAccessRights, ""},
		{"other dn refused", nil, uAlice, ptr("dn:uid=bob,dc=example,dc=test"), ResultInsufficientAccessRights, ""},
		{"policy permits", pol, uAlice, ptr("u:bob@example.test"), ResultSuccess, "u:bob@example.test"},
		{"policy permits dn", pol, uAlice, ptr("dn:uid=bob,dc=example,dc=test"), ResultSuccess, "u:bob@example.test"},
		{"policy one way", pol, uBob, ptr("u:alice@example.test"), ResultInsufficientAccessRights, ""},
		{"policy names bob only", pol, uAlice, ptr("u:carol@example.test"), ResultInsufficientAccessRights, ""},
		{"malformed", pol, uAlice, ptr("bob"), ResultInvalidCredentials, ""},
		{"domain not served", pol, uAlice, ptr("u:bob@other.example.test"), ResultInvalidCredentials, ""},
		{"dn outside bases", pol, uAlice, ptr("dn:uid=bob,dc=elsewhere"), ResultInvalidCredentials, ""},
		{"dn not uid", pol, uAlice, ptr("dn:cn=bob,dc=example,dc=test"), ResultInvalidCredentials, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t, func(c *Config) { c.WhoAmI, c.Authz = WhoAmIUser, tc.policy })
			u := e.users[tc.user]
			c := e.dial(t, &u)
			if got := c.bindExternal(tc.authz); got != tc.code {
				t.Fatalf("bind: result %d, want %d", got, tc.code)
			}
			if code, who := c.whoami(); code != ResultSuccess || who != tc.whoami {
				t.Errorf("whoami: %d %q, want %q", code, who, tc.whoami)
			}
		})
	}
}

// TestOtherBinds: simple and anonymous binds and other mechanisms are
// refused by default; AllowAnonymous admits anonymous binds only.
func TestOtherBinds(t *testing.T) {
	for _, anon := range []bool{false, true} {
		e := startEnv(t, func(c *Config) { c.AllowAnonymous = anon })
		c := e.dial(t, nil)
		wantAnon := ResultInappropriateAuthentication
		if anon {
			wantAnon = ResultSuccess
		}
		if got := c.bindSimple("", ""); got != wantAnon {
			t.Errorf("anonymous=%v: anonymous bind %d, want %d", anon, got, wantAnon)
		}
		if got := c.bindSimple("uid=alice,dc=example,dc=test", "secret"); got != ResultAuthMethodNotSupported {
			t.Errorf("simple bind %d", got)
		}
		if got := c.bindSimple("uid=alice,dc=example,dc=test", ""); got != ResultUnwillingToPerform {
			t.Errorf("unauthenticated bind %d", got)
		}
		c.send(tlv(opBindRequest, encInt(tagInteger, 3), encString(tagOctetString, ""), tlv(tagAuthSASL, encString(tagOctetString, "PLAIN"), encString(tagOctetString, "\x00alice\x00pw"))))
		if got := c.mustRead().code; got != ResultAuthMethodNotSupported {
			t.Errorf("SASL PLAIN %d", got)
		}
		c.send(tlv(opBindRequest, encInt(tagInteger, 2), encString(tagOctetString, ""), tlv(tagAuthSASL, encString(tagOctetString, MechExternal))))
		if got := c.mustRead().code; got != ResultProtocolError {
			t.Errorf("LDAPv2 bind %d", got)
		}
		_, code := c.search("dc=example,dc=test", scopeSub, fPresent("objectClass"))
		wantSearch := ResultInsufficientAccessRights
		if anon {
			wantSearch = ResultSuccess
		}
		if code != wantSearch {
			t.Errorf("anonymous=%v: search %d, want %d", anon, code, wantSearch)
		}
	}
}

// TestSearch: an authenticated user reads the directory; filters, scopes,
// attribute selection and limits work as RFC 4511 §4.5 says.
func TestSearch(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.MaxResults = 2 })
	u := e.users[uBob]
	c := e.dial(t, &u)
	// Before the bind only the root DSE can be read.
	if _, code := c.search("dc=example,dc=test", scopeSub, fPresent("objectClass")); code != ResultInsufficientAccessRights {
		t.Errorf("search before bind: %d", code)
	}
	root, code := c.search("", scopeBase, fPresent("objectClass"), "supportedSASLMechanisms", "namingContexts")
	if code != ResultSuccess || len(root) != 1 || strings.Join(root[0].attrs["supportedSASLMechanisms"], ",") != "EXTERNAL" ||
		len(root[0].attrs["namingContexts"]) != 3 || len(root[0].attrs) != 2 {
		t.Errorf("root DSE: %d %+v", code, root)
	}
	if got := c.bindExternal(nil); got != ResultSuccess {
		t.Fatalf("bind: %d", got)
	}
	dns := func(rs []*response) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.entry)
		}
		return strings.Join(s, ";")
	}
	cases := []struct {
		name  string
		base  string
		scope int64
		filt  []byte
		attrs []string
		want  string
		code  ResultCode
	}{
		{"eq", "dc=example,dc=test", scopeSub, fEq("uid", "ALICE"), nil, "uid=alice,dc=example,dc=test", ResultSuccess},
		{"base", "uid=alice,dc=example,dc=test", scopeBase, fPresent("objectClass"), nil, "uid=alice,dc=example,dc=test", ResultSuccess},
		{"one", "dc=example,dc=test", scopeOne, fPresent("uid"), nil, "uid=alice,dc=example,dc=test;uid=bob,dc=example,dc=test", ResultSuccess},
		{"sub over limit", "dc=example,dc=test", scopeSub, fPresent("objectClass"), nil, "dc=example,dc=test;uid=alice,dc=example,dc=test", ResultSizeLimitExceeded},
		{"and", "dc=example,dc=test", scopeSub, fAnd(fEq("objectClass", "inetOrgPerson"), fNot(fEq("uid", "alice"))), nil, "uid=bob,dc=example,dc=test", ResultSuccess},
		{"or", "dc=example,dc=test", scopeSub, fOr(fEq("sn", "builder"), fEq("mail", "nobody@example.test")), nil, "uid=bob,dc=example,dc=test", ResultSuccess},
		{"substrings", "dc=example,dc=test", scopeSub, fSub("cn", encString(subInitial, "al"), encString(subAny, "ce "), encString(subFinal, "dell")), nil, "uid=alice,dc=example,dc=test", ResultSuccess},
		{"substrings miss", "dc=example,dc=test", scopeSub, fSub("cn", encString(subInitial, "ce")), nil, "", ResultSuccess},
		{"base spacing", "UID=alice , dc=Example,dc=test", scopeBase, fPresent("objectClass"), nil, "uid=alice,dc=example,dc=test", ResultSuccess},
		{"no such base", "dc=nowhere", scopeSub, fPresent("objectClass"), nil, "", ResultNoSuchObject},
		{"extensible is undefined", "dc=example,dc=test", scopeSub, tlv(filterExtensible, encString(classContext|3, "x")), nil, "", ResultSuccess},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, code := c.search(tc.base, tc.scope, tc.filt, tc.attrs...)
			if code != tc.code || dns(got) != tc.want {
				t.Errorf("got %d %q, want %d %q", code, dns(got), tc.code, tc.want)
			}
		})
	}
	got, _ := c.search("uid=bob,dc=example,dc=test", scopeBase, fPresent("objectClass"), "CN", "description")
	if len(got) != 1 || len(got[0].attrs) != 2 || got[0].attrs["cn"][0] != "Bob" || got[0].attrs["description"][0] != "élève" {
		t.Errorf("attribute selection: %+v", got)
	}
	got, _ = c.search("uid=bob,dc=example,dc=test", scopeBase, fPresent("objectClass"), "1.1")
	if len(got) != 1 || len(got[0].attrs) != 0 {
		t.Errorf("1.1 selects no attributes: %+v", got)
	}
}

// TestReadOnly: updates are refused with unwillingToPerform, critical
// controls with unavailableCriticalExtension, unknown extended operations
// with protocolError; the session goes on.
func TestReadOnly(t *testing.T) {
	e := startEnv(t, nil)
	u := e.users[uAlice]
	c := e.dial(t, &u)
	c.send(encString(opDelRequest, "uid=bob,dc=example,dc=test"))
	if r := c.mustRead(); r.tag != opDelResponse || r.code != ResultUnwillingToPerform {
		t.Errorf("delete: 0x%02x %d", r.tag, r.code)
	}
	ctrl := tlv(tagControls, tlv(tagSequence, encString(tagOctetString, "1.2.3.4"), tlv(tagBoolean, []byte{0xff})))
	c.conn.Write(tlv(tagSequence, encInt(tagInteger, 99), tlv(opExtendedRequest, encString(tagExtReqName, OIDWhoAmI)), ctrl))
	if r := c.mustRead(); r.id != 99 || r.code != ResultUnavailableCriticalExtension {
		t.Errorf("critical control: %d %d", r.id, r.code)
	}
	c.send(tlv(opExtendedRequest, encString(tagExtReqName, "1.2.3.4.5")))
	if r := c.mustRead(); r.code != ResultProtocolError || r.name != "" {
		t.Errorf("unknown extended: %d %q", r.code, r.name)
	}
	c.send(tlv(opExtendedRequest, encString(tagExtReqName, OIDStartTLS)))
	if r := c.mustRead(); r.code != ResultOperationsError || r.name != OIDStartTLS {
		t.Errorf("StartTLS over TLS: %d %q", r.code, r.name)
	}
	if got := c.bindExternal(nil); got != ResultSuccess {
		t.Errorf("bind after all that: %d", got)
	}
}

// TestStartTLS: on the StartTLS listener nothing but StartTLS (and
// unbind) is served in the clear; after it the client binds as over LDAPS.
func TestStartTLS(t *testing.T) {
	e := startEnv(t, nil)
	raw, err := net.DialTimeout("tcp", e.plain, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(time.Minute))
	c := &tclient{t: t, conn: raw, next: 1}
	if _, code := c.search("", scopeBase, fPresent("objectClass")); code != ResultConfidentialityRequired {
		t.Errorf("search in the clear: %d", code)
	}
	if code, _ := c.whoami(); code != ResultConfidentialityRequired {
		t.Errorf("whoami in the clear: %d", code)
	}
	c.send(tlv(opExtendedRequest, encString(tagExtReqName, OIDStartTLS)))
	if r := c.mustRead(); r.code != ResultSuccess || r.name != OIDStartTLS {
		t.Fatalf("StartTLS: %d %q", r.code, r.name)
	}
	u := e.users[uAlice]
	tc := tls.Client(raw, &tls.Config{RootCAs: e.pool, ServerName: "localhost", Certificates: []tls.Certificate{u.cert}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn = tc
	if got := c.bindExternal(nil); got != ResultSuccess {
		t.Fatalf("bind: %d", got)
	}
	if code, who := c.whoami(); code != ResultSuccess || who != "dn:uid=alice,dc=example,dc=test" {
		t.Errorf("whoami: %d %q", code, who)
	}
}

// readNotice reads until the server closes the connection and returns the
// Notice of Disconnection it sent first.
func readNotice(t *testing.T, conn net.Conn) *response {
	t.Helper()
	c := &tclient{t: t, conn: conn}
	r, err := c.read()
	if err != nil {
		t.Fatalf("no notice: %v", err)
	}
	if r.id != 0 || r.tag != opExtendedResponse || r.name != OIDNoticeOfDisconnection {
		t.Fatalf("not a notice of disconnection: %+v", r)
	}
	if n, err := conn.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("connection still open after the notice: %d %v", n, err)
	}
	return r
}

// TestGarbage: bytes that are not LDAP, before or after TLS, and messages
// over the size limit get a Notice of Disconnection with protocolError and
// the connection closes; the server serves the next client.
func TestGarbage(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.MaxMessageSize = 512 })
	cases := []struct {
		name   string
		tls    bool
		send   []byte
		reason string
	}{
		{"http in the clear", false, []byte("GET / HTTP/1.0\r\n\r\n"), closeProtocol},
		{"tls hello on starttls port", false, []byte{0x16, 0x03, 0x01, 0x00, 0x10}, closeProtocol},
		{"oversize", false, []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}, closeOversize},
		{"indefinite length", false, []byte{0x30, 0x80, 0x02, 0x01, 0x01}, closeProtocol},
		{"text after tls", true, []byte("hello there\r\n"), closeProtocol},
		{"oversize after tls", true, append([]byte{0x30, 0x82, 0x04, 0x00}, make([]byte, 1024)...), closeOversize},
		{"messageID 0", true, tlv(tagSequence, encInt(tagInteger, 0), tlv(opExtendedRequest, encString(tagExtReqName, OIDWhoAmI))), closeProtocol},
		{"unknown operation", true, tlv(tagSequence, encInt(tagInteger, 1), tlv(classApplication|constructed|30, nil)), closeProtocol},
		{"bind response as request", true, tlv(tagSequence, encInt(tagInteger, 1), encResult(opBindResponse, 0, "", "")), closeProtocol},
		{"trailing element", true, tlv(tagSequence, encInt(tagInteger, 1), encString(opUnbindRequest, ""), encInt(tagInteger, 1), encInt(tagInteger, 1)), closeProtocol},
		{"malformed bind", true, tlv(tagSequence, encInt(tagInteger, 1), tlv(opBindRequest, encInt(tagInteger, 3))), closeProtocol},
		{"deep filter", true, deepSearch(maxDepth + 5), closeProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.counter(t, "dance_ldap_connections_cut_total", tc.reason)
			var conn net.Conn
			if tc.tls {
				u := e.users[uAlice]
				conn = e.dial(t, &u).conn
			} else {
				raw, err := net.DialTimeout("tcp", e.plain, 30*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				_ = raw.SetDeadline(time.Now().Add(time.Minute))
				conn = raw
			}
			if _, err := conn.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			if r := readNotice(t, conn); r.code != ResultProtocolError {
				t.Errorf("notice with %d", r.code)
			}
			if got := e.counter(t, "dance_ldap_connections_cut_total", tc.reason); got != before+1 {
				t.Errorf("connections_cut_total{reason=%q} = %v, want %v", tc.reason, got, before+1)
			}
		})
	}
	// The server still serves.
	u := e.users[uAlice]
	if got := e.dial(t, &u).bindExternal(nil); got != ResultSuccess {
		t.Errorf("bind after garbage: %d", got)
	}
}

func deepSearch(depth int) []byte {
	f := fPresent("cn")
	for range depth {
		f = fNot(f)
	}
	return tlv(tagSequence, encInt(tagInteger, 1), tlv(opSearchRequest, encString(tagOctetString, ""), encInt(tagEnumerated, 2),
		encInt(tagEnumerated, 0), encInt(tagInteger, 0), encInt(tagInteger, 0), tlv(tagBoolean, []byte{0}), f, tlv(tagSequence)))
}

// TestGarbageBeforeTLS: on the LDAPS port, bytes that are not a TLS
// ClientHello end in a TLS alert or a closed connection, counted as a
// failed handshake, and write nothing that is LDAP.
func TestGarbageBeforeTLS(t *testing.T) {
	e := startEnv(t, nil)
	raw, err := net.DialTimeout("tcp", e.addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(time.Minute))
	ldapMsg := tlv(tagSequence, encInt(tagInteger, 1), tlv(opExtendedRequest, encString(tagExtReqName, OIDWhoAmI)))
	if _, err := raw.Write(ldapMsg); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(raw)
	if len(got) > 0 && got[0] != 0x15 { // a TLS alert record
		t.Errorf("answer to LDAP in the clear on the LDAPS port: % x", got)
	}
	testwait.For(t, "the failed handshake counted", func() bool {
		return e.counter(t, "dance_ldap_connections_cut_total", closeHandshake) == 1
	})
}

// TestIdle: a client that sends nothing, or half a message, is cut after
// IdleTimeout.
func TestIdle(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.IdleTimeout = 100 * time.Millisecond })
	for _, partial := range [][]byte{nil, {0x30, 0x10, 0x02}} {
		u := e.users[uAlice]
		c := e.dial(t, &u)
		if partial != nil {
			c.conn.Write(partial)
		}
		if _, err := c.read(); err == nil {
			t.Fatal("read a message from an idle connection")
		}
	}
	testwait.For(t, "two idle connections cut", func() bool {
		return e.counter(t, "dance_ldap_connections_cut_total", closeIdle) == 2
	})
}

// TestSlowHandshake: a client that starts no TLS handshake, or stops in
// the middle of one, on the LDAPS port or after StartTLS, is cut after
// HandshakeTimeout, counted as handshake_timeout.
func TestSlowHandshake(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.HandshakeTimeout = 100 * time.Millisecond })
	halfHello := []byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03}
	cases := []struct {
		name     string
		startTLS bool
		send     []byte
	}{
		{"ldaps, nothing", false, nil},
		{"ldaps, half a ClientHello", false, halfHello},
		{"starttls, nothing", true, nil},
		{"starttls, half a ClientHello", true, halfHello},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := e.addr
			if tc.startTLS {
				addr = e.plain
			}
			raw, err := net.DialTimeout("tcp", addr, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			_ = raw.SetDeadline(time.Now().Add(time.Minute))
			if tc.startTLS {
				c := &tclient{t: t, conn: raw, next: 1}
				c.send(tlv(opExtendedRequest, encString(tagExtReqName, OIDStartTLS)))
				if r := c.mustRead(); r.code != ResultSuccess {
					t.Fatalf("StartTLS: %d", r.code)
				}
			}
			if _, err := raw.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			// The server closes the connection; a TLS alert may come
			// first, nothing else.
			got, _ := io.ReadAll(raw)
			if len(got) > 0 && got[0] != 0x15 {
				t.Errorf("answer to a stalled handshake: % x", got)
			}
			testwait.For(t, "the stalled handshake counted", func() bool {
				return e.counter(t, "dance_ldap_connections_cut_total", closeHandshakeTimeout) == float64(i+1)
			})
		})
	}
}

// TestMaxConns: connections over the cap are closed at once; a slot freed
// is taken again.
func TestMaxConns(t *testing.T) {
	e := startEnv(t, func(c *Config) { c.MaxConns = 1 })
	u := e.users[uAlice]
	first := e.dial(t, &u)
	if got := first.bindExternal(nil); got != ResultSuccess {
		t.Fatal(got)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", e.addr, &tls.Config{RootCAs: e.pool, ServerName: "localhost"})
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(time.Minute))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("second connection served over the cap")
	}
	first.send(encString(opUnbindRequest, ""))
	if _, err := first.read(); err == nil {
		t.Fatal("response to unbind")
	}
	// The slot comes back when the server has closed the first
	// connection.
	testwait.For(t, "a connection served after the first closed", func() bool {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", e.addr, danetlsClient(e, u))
		if err != nil {
			return false
		}
		defer c.Close()
		tc := &tclient{t: t, conn: c, next: 1}
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		tc.send(tlv(opExtendedRequest, encString(tagExtReqName, OIDWhoAmI)))
		_, err = tc.read()
		return err == nil
	})
}

func danetlsClient(e *env, u user) *tls.Config {
	return &tls.Config{RootCAs: e.pool, ServerName: "localhost", Certificates: []tls.Certificate{u.cert}}
}

// TestReverify: once the verdict expires, the next request authenticates
// the client again; a certificate no longer valid then ends the session
// with a Notice of Disconnection (strongerAuthRequired).
func TestReverify(t *testing.T) {
	e := startEnv(t, nil)
	u := e.users[uAlice]
	c := e.dial(t, &u)
	if got := c.bindExternal(nil); got != ResultSuccess {
		t.Fatal(got)
	}
	// Before the verdict expires, requests verify nothing again.
	verdicts := e.counter(t, "dance_verify_verdicts_total", "ok")
	if code, _ := c.whoami(); code != ResultSuccess {
		t.Fatalf("whoami: %d", code)
	}
	if got := e.counter(t, "dance_verify_verdicts_total", "ok"); got != verdicts {
		t.Fatalf("verified again before the verdict expired: %v verdicts, had %v", got, verdicts)
	}
	e.clock.add(10 * time.Minute) // past the TTL of the TLSA answer
	if code, who := c.whoami(); code != ResultSuccess || who != "dn:uid=alice,dc=example,dc=test" {
		t.Fatalf("whoami after re-verification: %d %q", code, who)
	}
	if got := e.counter(t, "dance_verify_verdicts_total", "ok"); got != verdicts+1 {
		t.Fatalf("%v verdicts after the expiry, want %v: not verified again", got, verdicts+1)
	}
	e.clock.add(10 * 365 * 24 * time.Hour) // past the certificate's NotAfter
	c.send(tlv(opExtendedRequest, encString(tagExtReqName, OIDWhoAmI)))
	if r := readNotice(t, c.conn); r.code != ResultStrongerAuthRequired {
		t.Errorf("notice with %d", r.code)
	}
	if e.counter(t, "dance_ldap_connections_cut_total", closeExpired) != 1 {
		t.Error("expired not counted")
	}
}

// TestConfig: New refuses configurations without what it needs.
func TestConfig(t *testing.T) {
	e := startEnv(t, nil)
	cert := e.srv.cfg.TLS
	good := Config{TLS: cert, Verifier: e.srv.cfg.Verifier, Domains: []Domain{{Name: domain}}}
	cases := []struct {
		name string
		tune func(*Config)
		want string
	}{
		{"no tls", func(c *Config) { c.TLS = &tls.Config{} }, "certificate"},
		{"no verifier", func(c *Config) { c.Verifier = nil }, "Verifier"},
		{"no domains", func(c *Config) { c.Domains = nil }, "Domains"},
		{"device name", func(c *Config) { c.Domains = []Domain{{Name: "a._device.example.test"}} }, "plain domain"},
		{"twice", func(c *Config) { c.Domains = []Domain{{Name: domain}, {Name: "EXAMPLE.test"}} }, "twice"},
		{"bad base", func(c *Config) { c.Domains = []Domain{{Name: domain, Base: "nonsense"}} }, "not a DN"},
		{"negative", func(c *Config) { c.IdleTimeout = -1 }, "negative"},
		{"tiny messages", func(c *Config) { c.MaxMessageSize = 10 }, "under 64"},
		{"whoami form", func(c *Config) { c.WhoAmI = 7 }, "WhoAmI"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.tune(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if s, err := New(good); err != nil {
		t.Fatal(err)
	} else {
		s.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Serve(ln); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve after Close: %v", err)
		}
		if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			t.Error("listener left open")
		}
	}
}
