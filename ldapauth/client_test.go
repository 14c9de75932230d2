package ldapauth

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/dnsbound/dance/danetls"
)

func testLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// tclient is a minimal LDAP client for the tests: it writes requests with
// the package's encoder and reads responses with its decoder; the real
// clients (ldap-utils) are in real_test.go.
type tclient struct {
	t    testing.TB
	conn net.Conn
	next int64
}

// dial connects over TLS ("ldaps") presenting u's certificate (none when
// u is nil).
func (e *env) dial(t testing.TB, u *user) *tclient {
	t.Helper()
	cfg := &tls.Config{RootCAs: e.pool, ServerName: "localhost"}
	if u != nil {
		cfg = danetls.ClientConfig(cfg, u.cert)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", e.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	return &tclient{t: t, conn: c, next: 1}
}

func (c *tclient) send(op []byte) int64 {
	c.t.Helper()
	id := c.next
	c.next++
	if _, err := c.conn.Write(encMessage(id, op)); err != nil {
		c.t.Fatal(err)
	}
	return id
}

// response is a decoded response: its messageID, operation tag, result
// code, diagnostic, and the extended response's name and value.
type response struct {
	id    int64
	tag   byte
	code  ResultCode
	diag  string
	name  string
	value *string
	entry string // a SearchResultEntry's DN
	attrs map[string][]string
}

func (c *tclient) read() (*response, error) {
	b, err := readMessage(c.conn, 1<<20)
	if err != nil {
		return nil, err
	}
	msg, _, err := readElement(b)
	if err != nil {
		return nil, err
	}
	parts, err := msg.children()
	if err != nil {
		return nil, err
	}
	id, err := parts[0].integer("id")
	if err != nil {
		return nil, err
	}
	r := &response{id: id, tag: parts[1].tag}
	f, err := parts[1].children()
	if err != nil {
		return nil, err
	}
	if r.tag == opSearchEntry {
		r.entry = string(f[0].content)
		r.attrs = map[string][]string{}
		as, _ := f[1].children()
		for _, a := range as {
			tv, _ := a.children()
			vs, _ := tv[1].children()
			for _, v := range vs {
				r.attrs[string(tv[0].content)] = append(r.attrs[string(tv[0].content)], string(v.content))
			}
			if len(vs) == 0 {
				r.attrs[string(tv[0].content)] = nil
			}
		}
		return r, nil
	}
	code, err := f[0].integer("code")
	if err != nil {
		return nil, err
	}
	r.code, r.diag = ResultCode(code), string(f[2].content)
	for _, x := range f[3:] {
		switch x.tag {
		case tagExtRespName:
			r.name = string(x.content)
		case tagExtRespValue:
			v := string(x.content)
			r.value = &v
		}
	}
	return r, nil
}

func (c *tclient) mustRead() *response {
	c.t.Helper()
	r, err := c.read()
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// bindExternal sends a SASL EXTERNAL bind, with authz as its credentials
// unless it is nil, and returns the result code.
func (c *tclient) bindExternal(authz *string) ResultCode {
	c.t.Helper()
	sasl := [][]byte{encString(tagOctetString, MechExternal)}
	if authz != nil {
		sasl = append(sasl, encString(tagOctetString, *authz))
	}
	c.send(tlv(opBindRequest, encInt(tagInteger, 3), encString(tagOctetString, ""), tlv(tagAuthSASL, sasl...)))
	r := c.mustRead()
	if r.tag != opBindResponse {
		c.t.Fatalf("bind answered with 0x%02x", r.tag)
	}
	return r.code
}

func (c *tclient) bindSimple(name, pass string) ResultCode {
	c.t.Helper()
	c.send(tlv(opBindRequest, encInt(tagInteger, 3), encString(tagOctetString, name), encString(tagAuthSimple, pass)))
	return c.mustRead().code
}

// whoami returns the WhoAmI result and answer.
func (c *tclient) whoami() (ResultCode, string) {
	c.t.Helper()
	c.send(tlv(opExtendedRequest, encString(tagExtReqName, OIDWhoAmI)))
	r := c.mustRead()
	if r.tag != opExtendedResponse {
		c.t.Fatalf("whoami answered with 0x%02x", r.tag)
	}
	if r.value == nil {
		return r.code, "<none>"
	}
	return r.code, *r.value
}

// search sends a search with the encoded filter and returns the entries
// and the result.
func (c *tclient) search(base string, scope int64, filt []byte, attrs ...string) ([]*response, ResultCode) {
	c.t.Helper()
	var as [][]byte
	for _, a := range attrs {
		as = append(as, encString(tagOctetString, a))
	}
	c.send(tlv(opSearchRequest, encString(tagOctetString, base), encInt(tagEnumerated, scope), encInt(tagEnumerated, 0),
		encInt(tagInteger, 0), encInt(tagInteger, 0), tlv(tagBoolean, []byte{0}), filt, tlv(tagSequence, as...)))
	var out []*response
	for {
		r := c.mustRead()
		switch r.tag {
		case opSearchEntry:
			out = append(out, r)
		case opSearchDone:
			return out, r.code
		default:
			c.t.Fatalf("search answered with 0x%02x", r.tag)
		}
	}
}

// Filters for the tests.
func fEq(a, v string) []byte {
	return tlv(filterEquality, encString(tagOctetString, a), encString(tagOctetString, v))
}
func fPresent(a string) []byte { return encString(filterPresent, a) }
func fAnd(fs ...[]byte) []byte { return tlv(filterAnd, fs...) }
func fOr(fs ...[]byte) []byte  { return tlv(filterOr, fs...) }
func fNot(f []byte) []byte     { return tlv(filterNot, f) }
func fSub(a string, parts ...[]byte) []byte {
	return tlv(filterSubstrings, encString(tagOctetString, a), tlv(tagSequence, parts...))
}

func ptr(s string) *string { return &s }
