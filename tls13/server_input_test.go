package tls13

import (
	"crypto/rand"
	"net"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/sigalg"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// dialRaw opens a TCP connection to addr for a test to write records by
// hand or to hand to a client; it has a generous deadline and closes with
// the test.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	t.Cleanup(func() { c.Close() })
	return c
}

// rawHello is a ClientHello built field by field, for the server to refuse.
type rawHello struct {
	sessionID   []byte
	suites      []uint16
	compression []byte
	versions    []uint16
	groups      []uint16
	shares      []uint16 // groups to send a share for
	sigalgs     bool
	cookie      []byte
	extra       []wire.Extension
}

func defaultRawHello() rawHello {
	return rawHello{
		sessionID:   make([]byte, 32),
		suites:      []uint16{record.TLS_AES_128_GCM_SHA256},
		compression: []byte{0},
		versions:    []uint16{wire.VersionTLS13},
		groups:      []uint16{wire.GroupX25519, wire.GroupSecp256r1},
		shares:      []uint16{wire.GroupX25519},
		sigalgs:     true,
	}
}

func (h rawHello) marshal(t *testing.T) []byte { return h.marshalFor(t) }

func (h rawHello) marshalFor(t testing.TB) []byte {
	t.Helper()
	m := wire.ClientHello{LegacyVersion: record.LegacyVersion, SessionID: h.sessionID, CipherSuites: h.suites, CompressionMethods: h.compression}
	rand.Read(m.Random[:])
	m.Extensions = []wire.Extension{}
	if h.versions != nil {
		m.Extensions = append(m.Extensions, wire.NewClientSupportedVersionsExtension(h.versions))
	}
	if h.groups != nil {
		m.Extensions = append(m.Extensions, wire.NewSupportedGroupsExtension(h.groups))
	}
	if h.sigalgs {
		m.Extensions = append(m.Extensions, wire.NewSignatureAlgorithmsExtension(sigalg.Schemes(), false))
	}
	if h.shares != nil {
		var ks []wire.KeyShare
		for _, g := range h.shares {
			k, err := CurveID(g).ecdh().GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			ks = append(ks, wire.KeyShare{Group: g, Data: k.PublicKey().Bytes()})
		}
		m.Extensions = append(m.Extensions, wire.NewClientKeyShareExtension(ks))
	}
	if h.cookie != nil {
		m.Extensions = append(m.Extensions, wire.NewCookieExtension(h.cookie))
	}
	m.Extensions = append(m.Extensions, h.extra...)
	return rawRecord(record.TypeHandshake, m.Marshal())
}

// readAlert reads the server's records until an alert and returns its
// description; the server's hello records before it are returned too.
func readAlert(t *testing.T, c net.Conn) (alert.Description, [][]byte) {
	t.Helper()
	var before [][]byte
	for {
		rec, err := readRawRecord(c)
		if err != nil {
			t.Fatalf("no alert from the server: %v", err)
		}
		if record.ContentType(rec[0]) == record.TypeAlert {
			if len(rec) != 7 || rec[5] != alertLevelFatal {
				t.Fatalf("alert record % x", rec)
			}
			return alert.Description(rec[6]), before
		}
		before = append(before, rec)
	}
}

// TestServerRefusesClientHello sends ClientHellos our server must refuse
// and reads the alert it answers with (RFC 8446 §4.1.2, §4.2, §9.2).
func TestServerRefusesClientHello(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		edit   func(*rawHello)
		want   alert.Description
		before []byte // records sent before the ClientHello
	}{
		"change_cipher_spec first": {want: alert.UnexpectedMessage, before: rawRecord(record.TypeChangeCipherSpec, []byte{1})},
		"no TLS 1.3":               {edit: func(h *rawHello) { h.versions = []uint16{wire.VersionTLS12} }, want: alert.ProtocolVersion},
		"no supported_versions":    {edit: func(h *rawHello) { h.versions = nil }, want: alert.ProtocolVersion},
		"compression":              {edit: func(h *rawHello) { h.compression = []byte{1, 0} }, want: alert.IllegalParameter},
		"no common suite":          {edit: func(h *rawHello) { h.suites = []uint16{0x1304, 0xc02f} }, want: alert.HandshakeFailure},
		"no signature_algorithms":  {edit: func(h *rawHello) { h.sigalgs = false }, want: alert.MissingExtension},
		"no supported_groups":      {edit: func(h *rawHello) { h.groups = nil }, want: alert.MissingExtension},
		"no key_share":             {edit: func(h *rawHello) { h.shares = nil }, want: alert.MissingExtension},
		"share outside groups":     {edit: func(h *rawHello) { h.groups = []uint16{wire.GroupSecp256r1} }, want: alert.IllegalParameter},
		"no common group":          {edit: func(h *rawHello) { h.groups, h.shares = []uint16{0x0019 /* secp521r1 */}, []uint16{} }, want: alert.HandshakeFailure},
		"ALPN without common":      {edit: func(h *rawHello) { h.extra = []wire.Extension{wire.NewALPNExtension([]string{"h2"})} }, want: alert.NoApplicationProtocol},
		"malformed server_name":    {edit: func(h *rawHello) { h.extra = []wire.Extension{{Type: wire.ExtServerName, Data: []byte{0, 1}}} }, want: alert.DecodeError},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ourServerConfig(p)
			cfg.NextProtos = []string{"dance/1"}
			addr, res := startOurServer(t, cfg)
			c := dialRaw(t, addr)
			h := defaultRawHello()
			if tc.edit != nil {
				tc.edit(&h)
			}
			if _, err := c.Write(append(tc.before, h.marshal(t)...)); err != nil {
				t.Fatal(err)
			}
			if got, _ := readAlert(t, c); got != tc.want {
				t.Fatalf("alert %v, want %v", got, tc.want)
			}
			if r := <-res; r.err == nil {
				t.Fatal("server handshake succeeded")
			}
		})
	}
}

// TestServerRefusesSecondClientHello: after a HelloRetryRequest the second
// ClientHello must echo the cookie, carry one share for the group asked for
// and keep the offer (RFC 8446 §4.1.2, §4.2.2).
func TestServerRefusesSecondClientHello(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		edit func(h *rawHello, cookie []byte)
		want alert.Description // 0: the server answers with a ServerHello
	}{
		"valid":              {func(h *rawHello, c []byte) {}, 0},
		"no cookie":          {func(h *rawHello, c []byte) { h.cookie = nil }, alert.IllegalParameter},
		"other cookie":       {func(h *rawHello, c []byte) { h.cookie = append([]byte{c[0] ^ 1}, c[1:]...) }, alert.IllegalParameter},
		"share still X25519": {func(h *rawHello, c []byte) { h.shares = []uint16{wire.GroupX25519} }, alert.IllegalParameter},
		"two shares":         {func(h *rawHello, c []byte) { h.shares = []uint16{wire.GroupSecp256r1, wire.GroupX25519} }, alert.IllegalParameter},
		"suites changed":     {func(h *rawHello, c []byte) { h.suites = []uint16{record.TLS_AES_128_GCM_SHA256, 0x1303} }, alert.IllegalParameter},
		"session ID changed": {func(h *rawHello, c []byte) { h.sessionID = make([]byte, 16) }, alert.IllegalParameter},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ourServerConfig(p)
			cfg.CurvePreferences = []CurveID{CurveP256}
			addr, _ := startOurServer(t, cfg)
			c := dialRaw(t, addr)
			h := defaultRawHello()
			if _, err := c.Write(h.marshal(t)); err != nil {
				t.Fatal(err)
			}
			rec, err := readRawRecord(c)
			if err != nil {
				t.Fatal(err)
			}
			var hrr wire.ServerHello
			if err := hrr.Unmarshal(rec[5:]); err != nil || !hrr.IsHelloRetryRequest() {
				t.Fatalf("want a HelloRetryRequest, got % x (%v)", rec, err)
			}
			if hrr.SelectedGroup != wire.GroupSecp256r1 || len(hrr.Cookie) != cookieLen {
				t.Fatalf("HelloRetryRequest group %#04x cookie %x", hrr.SelectedGroup, hrr.Cookie)
			}
			h.shares, h.cookie = []uint16{wire.GroupSecp256r1}, hrr.Cookie
			tc.edit(&h, hrr.Cookie)
			if _, err := c.Write(h.marshal(t)); err != nil {
				t.Fatal(err)
			}
			if tc.want == 0 {
				for {
					rec, err := readRawRecord(c)
					if err != nil {
						t.Fatal(err)
					}
					if record.ContentType(rec[0]) == record.TypeHandshake {
						var sh wire.ServerHello
						if err := sh.Unmarshal(rec[5:]); err != nil || sh.IsHelloRetryRequest() || sh.KeyShare == nil || sh.KeyShare.Group != wire.GroupSecp256r1 {
							t.Fatalf("want a P-256 ServerHello, got % x (%v)", rec, err)
						}
						return
					}
				}
			}
			if got, _ := readAlert(t, c); got != tc.want {
				t.Fatalf("alert %v, want %v", got, tc.want)
			}
		})
	}
}
