package wire

import (
	"bytes"
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/trace"
)

const testdata = "../../testdata/"

var traceFiles = []string{
	"rfc8448-section3.txt",
	"draft-tls13-vectors-simple.txt",
	"draft-tls13-vectors-resumed.txt",
	"draft-tls13-vectors-hrr.txt",
	"draft-tls13-vectors-clientauth.txt",
}

type message interface{ Marshal() []byte }

// unmarshalAny decodes msg by its type byte, as the handshake layer will.
func unmarshalAny(msg []byte) (message, error) {
	var m interface {
		message
		Unmarshal([]byte) error
	}
	switch HandshakeType(msg[0]) {
	case TypeClientHello:
		m = &ClientHello{}
	case TypeServerHello:
		m = &ServerHello{}
	case TypeEncryptedExtensions:
		m = &EncryptedExtensions{}
	case TypeCertificateRequest:
		m = &CertificateRequest{}
	case TypeCertificate:
		m = &Certificate{}
	case TypeCertificateVerify:
		m = &CertificateVerify{}
	case TypeNewSessionTicket:
		m = &NewSessionTicket{}
	case TypeKeyUpdate:
		m = &KeyUpdate{}
	case TypeFinished:
		f := &Finished{}
		return f, f.Unmarshal(msg, 32)
	default:
		return nil, decodeErr("type %d", msg[0])
	}
	return m, m.Unmarshal(msg)
}

// traceMessages returns every handshake message a trace constructs.
func traceMessages(t testing.TB, file string) (*trace.Trace, map[string][][]byte) {
	t.Helper()
	tr, err := trace.Load(testdata + file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][][]byte{}
	for i, s := range tr.Steps {
		if !strings.HasPrefix(s.Action, "construct a") || !strings.HasSuffix(s.Action, "handshake message") {
			continue
		}
		name := s.Order[0]
		msg := s.Values[name]
		if n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]); n+HeaderLen != len(msg) {
			// The resumed trace prints the ClientHello without its
			// binders; the whole message is in the record it sends.
			for _, next := range tr.Steps[i+1:] {
				if p := next.Values["payload"]; next.Who == s.Who && len(p) == n+HeaderLen && bytes.HasPrefix(p, msg) {
					msg = p
					break
				}
			}
		}
		if name == "EndOfEarlyData" {
			continue // 0-RTT is out of scope
		}
		out[name] = append(out[name], msg)
	}
	return tr, out
}

// TestTraceMessagesRoundTrip decodes every handshake message of the traces
// and encodes it back to the same bytes.
func TestTraceMessagesRoundTrip(t *testing.T) {
	for _, file := range traceFiles {
		t.Run(file, func(t *testing.T) {
			_, msgs := traceMessages(t, file)
			n := 0
			for name, list := range msgs {
				for _, raw := range list {
					m, err := unmarshalAny(raw)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if got := m.Marshal(); !bytes.Equal(got, raw) {
						t.Errorf("%s re-encoded to\n %x\nwant %x", name, got, raw)
					}
					n++
				}
			}
			if n < 5 {
				t.Fatalf("only %d messages", n)
			}
		})
	}
}

// TestServerFlightSplits cuts the server's encrypted flight of the simple
// trace (one record holding four messages) into its messages.
func TestServerFlightSplits(t *testing.T) {
	tr, msgs := traceMessages(t, "draft-tls13-vectors-simple.txt")
	flight, err := tr.Value("server", "send handshake record", 1, "payload")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{msgs["EncryptedExtensions"][0], msgs["Certificate"][0], msgs["CertificateVerify"][0], msgs["Finished"][0]}
	var got [][]byte
	for rest := flight; len(rest) > 0; {
		msg, r, ok, err := SplitMessage(rest, 1<<16)
		if err != nil || !ok {
			t.Fatalf("split: ok=%v err=%v", ok, err)
		}
		got, rest = append(got, msg), r
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("split into %d messages, want the 4 of the trace", len(got))
	}
	if _, _, ok, _ := SplitMessage(flight[:30], 1<<16); ok {
		t.Fatal("partial message reported complete")
	}
	if _, _, _, err := SplitMessage(flight, 10); err == nil {
		t.Fatal("message over the size limit accepted")
	}
}

func mustGet(t *testing.T, tr *trace.Trace, who, prefix, label string) []byte {
	t.Helper()
	v, err := tr.Value(who, prefix, 0, label)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRFC8448Decoded checks the typed fields decoded from RFC 8448 §3.
func TestRFC8448Decoded(t *testing.T) {
	tr, msgs := traceMessages(t, "rfc8448-section3.txt")
	var ch ClientHello
	if err := ch.Unmarshal(msgs["ClientHello"][0]); err != nil {
		t.Fatal(err)
	}
	clientPub := mustGet(t, tr, "client", "create an ephemeral x25519", "public key")
	if ch.ServerName != "server" || !ch.HasServerName ||
		!slices.Equal(ch.CipherSuites, []uint16{0x1301, 0x1303, 0x1302}) ||
		!slices.Equal(ch.SupportedGroups, []uint16{GroupX25519, GroupSecp256r1, GroupSecp384r1, 0x0019, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104}) ||
		len(ch.KeyShares) != 1 || ch.KeyShares[0].Group != GroupX25519 || !bytes.Equal(ch.KeyShares[0].Data, clientPub) ||
		!slices.Equal(ch.SupportedVersions, []uint16{VersionTLS13}) ||
		!slices.Equal(ch.PSKModes, []uint8{PSKModeDHEKE}) ||
		ch.RecordSizeLimit != 0x4001 || len(ch.SignatureAlgorithms) != 15 || ch.SignatureAlgorithms[0] != SigECDSASecp256r1SHA256 {
		t.Errorf("ClientHello decoded as %+v", ch)
	}

	var sh ServerHello
	if err := sh.Unmarshal(msgs["ServerHello"][0]); err != nil {
		t.Fatal(err)
	}
	serverPub := mustGet(t, tr, "server", "create an ephemeral x25519", "public key")
	if sh.IsHelloRetryRequest() || sh.CipherSuite != 0x1301 || sh.SupportedVersion != VersionTLS13 ||
		sh.KeyShare == nil || !bytes.Equal(sh.KeyShare.Data, serverPub) || sh.SelectedIdentity != -1 {
		t.Errorf("ServerHello decoded as %+v", sh)
	}

	var ee EncryptedExtensions
	if err := ee.Unmarshal(msgs["EncryptedExtensions"][0]); err != nil {
		t.Fatal(err)
	}
	if !ee.ServerNameAck || ee.RecordSizeLimit != 0x4001 || len(ee.SupportedGroups) != 9 || ee.ClientCertType != -1 {
		t.Errorf("EncryptedExtensions decoded as %+v", ee)
	}

	var cert Certificate
	if err := cert.Unmarshal(msgs["Certificate"][0]); err != nil {
		t.Fatal(err)
	}
	if len(cert.Entries) != 1 || len(cert.Context) != 0 || cert.ClientName != "" {
		t.Fatalf("Certificate decoded as %+v", cert)
	}
	c, err := x509.ParseCertificate(cert.Entries[0].Data)
	if err != nil || c.Subject.CommonName != "rsa" {
		t.Fatalf("certificate entry: %v", err)
	}

	var cv CertificateVerify
	if err := cv.Unmarshal(msgs["CertificateVerify"][0]); err != nil {
		t.Fatal(err)
	}
	if cv.Algorithm != SigRSAPSSRSAESHA256 || len(cv.Signature) != 128 {
		t.Errorf("CertificateVerify decoded as %d, %d octets", cv.Algorithm, len(cv.Signature))
	}

	var nst NewSessionTicket
	if err := nst.Unmarshal(msgs["NewSessionTicket"][0]); err != nil {
		t.Fatal(err)
	}
	if nst.Lifetime != 30 || !bytes.Equal(nst.Nonce, []byte{0, 0}) || len(nst.Ticket) != 178 || nst.MaxEarlyData != 1024 {
		t.Errorf("NewSessionTicket decoded as lifetime %d nonce %x ticket %d early %d", nst.Lifetime, nst.Nonce, len(nst.Ticket), nst.MaxEarlyData)
	}
}

// TestTypedExtensionsReencode rebuilds each known ClientHello extension of
// the traces from its decoded value with the New*Extension functions and
// compares it with the bytes on the wire.
func TestTypedExtensionsReencode(t *testing.T) {
	checked := 0
	for _, file := range traceFiles {
		_, msgs := traceMessages(t, file)
		for _, raw := range msgs["ClientHello"] {
			var ch ClientHello
			if err := ch.Unmarshal(raw); err != nil {
				t.Fatal(err)
			}
			for _, e := range ch.Extensions {
				var re Extension
				switch e.Type {
				case ExtServerName:
					re = NewServerNameExtension(ch.ServerName)
				case ExtSupportedGroups:
					re = NewSupportedGroupsExtension(ch.SupportedGroups)
				case ExtSignatureAlgorithms:
					re = NewSignatureAlgorithmsExtension(ch.SignatureAlgorithms, false)
				case ExtKeyShare:
					re = NewClientKeyShareExtension(ch.KeyShares)
				case ExtSupportedVersions:
					re = NewClientSupportedVersionsExtension(ch.SupportedVersions)
				case ExtPSKKeyExchangeModes:
					re = NewPSKModesExtension(ch.PSKModes)
				case ExtPreSharedKey:
					re = NewPreSharedKeyExtension(ch.PreSharedKey)
				case ExtCookie:
					re = NewCookieExtension(ch.Cookie)
				case ExtRecordSizeLimit:
					re = NewRecordSizeLimitExtension(ch.RecordSizeLimit)
				default:
					continue
				}
				if re.Type != e.Type || !bytes.Equal(re.Data, e.Data) {
					t.Errorf("%s: extension %d re-encoded to %x, want %x", file, e.Type, re.Data, e.Data)
				}
				checked++
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d extensions checked", checked)
	}
}

// TestHelloRetryRequestTrace: the HRR trace's first ServerHello is a
// HelloRetryRequest naming a group and carrying a cookie; the second
// ClientHello answers with the cookie and a share for that group.
func TestHelloRetryRequestTrace(t *testing.T) {
	_, msgs := traceMessages(t, "draft-tls13-vectors-hrr.txt")
	var hrr, sh ServerHello
	if err := hrr.Unmarshal(msgs["ServerHello"][0]); err != nil {
		t.Fatal(err)
	}
	if err := sh.Unmarshal(msgs["ServerHello"][1]); err != nil {
		t.Fatal(err)
	}
	if !hrr.IsHelloRetryRequest() || sh.IsHelloRetryRequest() {
		t.Fatal("HelloRetryRequest not recognised by its Random")
	}
	if hrr.SelectedGroup != GroupSecp256r1 || len(hrr.Cookie) == 0 || hrr.KeyShare != nil {
		t.Fatalf("HelloRetryRequest decoded as %+v", hrr)
	}
	var ch2 ClientHello
	if err := ch2.Unmarshal(msgs["ClientHello"][1]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ch2.Cookie, hrr.Cookie) || len(ch2.KeyShares) != 1 || ch2.KeyShares[0].Group != hrr.SelectedGroup {
		t.Fatalf("second ClientHello does not answer the HelloRetryRequest: %+v", ch2)
	}
}

// TestResumedBinderPrefix: TruncatedForBinders gives exactly the
// "ClientHello prefix" the resumed trace hashes for its binder.
func TestResumedBinderPrefix(t *testing.T) {
	tr, msgs := traceMessages(t, "draft-tls13-vectors-resumed.txt")
	var ch ClientHello
	if err := ch.Unmarshal(msgs["ClientHello"][0]); err != nil {
		t.Fatal(err)
	}
	prefix, ok := ch.TruncatedForBinders()
	if !ok || !bytes.Equal(prefix, mustGet(t, tr, "client", "calculate PSK binder", "ClientHello prefix")) {
		t.Fatalf("binder prefix %x", prefix)
	}
	if len(ch.PreSharedKey.Identities) != 1 || !ch.EarlyData {
		t.Fatalf("resumed ClientHello decoded as %+v", ch)
	}
}

// TestClientAuthTrace decodes the CertificateRequest and the client's
// Certificate of the client authentication trace.
func TestClientAuthTrace(t *testing.T) {
	_, msgs := traceMessages(t, "draft-tls13-vectors-clientauth.txt")
	var cr CertificateRequest
	if err := cr.Unmarshal(msgs["CertificateRequest"][0]); err != nil {
		t.Fatal(err)
	}
	if len(cr.SignatureAlgorithms) == 0 || cr.DANEClientID {
		t.Fatalf("CertificateRequest decoded as %+v", cr)
	}
	if len(msgs["Certificate"]) != 2 {
		t.Fatalf("%d Certificate messages", len(msgs["Certificate"]))
	}
	var cert Certificate
	if err := cert.Unmarshal(msgs["Certificate"][1]); err != nil {
		t.Fatal(err)
	}
	if len(cert.Entries) != 1 {
		t.Fatalf("client Certificate with %d entries", len(cert.Entries))
	}
	if _, err := x509.ParseCertificate(cert.Entries[0].Data); err != nil {
		t.Fatal(err)
	}
}

func wantAlert(t *testing.T, err error, want alert.Description) {
	t.Helper()
	got, ok := alert.Of(err)
	if !ok || got != want {
		t.Fatalf("err = %v, want alert %v", err, want)
	}
}

func baseClientHello() *ClientHello {
	return &ClientHello{
		LegacyVersion:      VersionTLS12,
		CipherSuites:       []uint16{0x1301},
		CompressionMethods: []byte{0},
		Extensions: []Extension{
			NewClientSupportedVersionsExtension([]uint16{VersionTLS13}),
			NewSupportedGroupsExtension([]uint16{GroupX25519}),
			NewClientKeyShareExtension([]KeyShare{{GroupX25519, bytes.Repeat([]byte{1}, 32)}}),
			NewSignatureAlgorithmsExtension([]uint16{SigEd25519}, false),
		},
	}
}

func withExt(m *ClientHello, e ...Extension) *ClientHello {
	m.Extensions = append(m.Extensions, e...)
	return m
}

var pskExt = NewPreSharedKeyExtension(&OfferedPSKs{
	Identities: []PSKIdentity{{[]byte("ticket"), 7}},
	Binders:    [][]byte{bytes.Repeat([]byte{9}, 32)},
})

// TestStrictParsing: each malformed or misplaced input is refused with the
// alert RFC 8446 prescribes, and the well-formed base message is accepted.
func TestStrictParsing(t *testing.T) {
	type unmarshaler interface{ Unmarshal([]byte) error }
	raw := func(t HandshakeType, body ...byte) []byte {
		n := len(body)
		return append([]byte{byte(t), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
	}
	chBytes := baseClientHello().Marshal()
	for name, tc := range map[string]struct {
		m    unmarshaler
		msg  []byte
		want alert.Description // 0: accepted
	}{
		"base ClientHello":       {&ClientHello{}, chBytes, 0},
		"ClientHello trailing":   {&ClientHello{}, func() []byte { b := append(bytes.Clone(chBytes), 0); b[3]++; return b }(), alert.DecodeError},
		"ClientHello short":      {&ClientHello{}, func() []byte { b := bytes.Clone(chBytes[:len(chBytes)-1]); b[3]--; return b }(), alert.DecodeError},
		"header length too long": {&ClientHello{}, func() []byte { b := bytes.Clone(chBytes); b[3]++; return b }(), alert.DecodeError},
		"wrong message type":     {&ServerHello{}, chBytes, alert.DecodeError},
		"duplicate extension": {&ClientHello{}, withExt(baseClientHello(),
			NewSupportedGroupsExtension([]uint16{GroupSecp256r1})).Marshal(), alert.DecodeError},
		"psk not last":                   {&ClientHello{}, withExt(baseClientHello(), pskExt, NewCookieExtension([]byte{1})).Marshal(), alert.IllegalParameter},
		"psk last":                       {&ClientHello{}, withExt(baseClientHello(), NewPSKModesExtension([]uint8{1}), pskExt).Marshal(), 0},
		"psk binders short":              {&ClientHello{}, withExt(baseClientHello(), NewPreSharedKeyExtension(&OfferedPSKs{Identities: []PSKIdentity{{[]byte("t"), 0}}, Binders: [][]byte{make([]byte, 31)}})).Marshal(), alert.DecodeError},
		"psk binder count":               {&ClientHello{}, withExt(baseClientHello(), NewPreSharedKeyExtension(&OfferedPSKs{Identities: []PSKIdentity{{[]byte("t"), 0}, {[]byte("u"), 0}}, Binders: [][]byte{make([]byte, 32)}})).Marshal(), alert.IllegalParameter},
		"two shares one group":           {&ClientHello{}, (&ClientHello{CipherSuites: []uint16{1}, CompressionMethods: []byte{0}, Extensions: []Extension{NewClientKeyShareExtension([]KeyShare{{29, []byte{1}}, {29, []byte{2}}})}}).Marshal(), alert.IllegalParameter},
		"empty key share":                {&ClientHello{}, (&ClientHello{CipherSuites: []uint16{1}, CompressionMethods: []byte{0}, Extensions: []Extension{NewClientKeyShareExtension([]KeyShare{{29, nil}})}}).Marshal(), alert.DecodeError},
		"odd groups":                     {&ClientHello{}, withExt(baseClientHello(), Extension{ExtSignatureAlgorithmsCert, []byte{0, 3, 1, 2, 3}}).Marshal(), alert.DecodeError},
		"two host names":                 {&ClientHello{}, withExt(baseClientHello(), Extension{ExtServerName, []byte{0, 8, 0, 0, 1, 'a', 0, 0, 1, 'b'}}).Marshal(), alert.IllegalParameter},
		"record_size_limit 63":           {&ClientHello{}, withExt(baseClientHello(), NewRecordSizeLimitExtension(63)).Marshal(), alert.IllegalParameter},
		"record_size_limit 3 bytes":      {&ClientHello{}, withExt(baseClientHello(), Extension{ExtRecordSizeLimit, []byte{0, 64, 0}}).Marshal(), alert.DecodeError},
		"early_data with data":           {&ClientHello{}, withExt(baseClientHello(), Extension{ExtEarlyData, []byte{0}}).Marshal(), alert.DecodeError},
		"empty ALPN name":                {&ClientHello{}, withExt(baseClientHello(), Extension{ExtALPN, []byte{0, 1, 0}}).Marshal(), alert.DecodeError},
		"session id 33":                  {&ClientHello{}, (&ClientHello{SessionID: make([]byte, 33), CipherSuites: []uint16{1}, CompressionMethods: []byte{0}}).Marshal(), alert.DecodeError},
		"no cipher suites":               {&ClientHello{}, (&ClientHello{CompressionMethods: []byte{0}}).Marshal(), alert.DecodeError},
		"dane_clientid in CH is unknown": {&ClientHello{}, withExt(baseClientHello(), Extension{DefaultDANEClientID, []byte("x")}).Marshal(), 0},
		"unknown extension in CH":        {&ClientHello{}, withExt(baseClientHello(), Extension{0x7777, []byte("x")}).Marshal(), 0},

		"ServerHello with server_name": {&ServerHello{}, (&ServerHello{Extensions: []Extension{{ExtServerName, nil}}}).Marshal(), alert.IllegalParameter},
		"HRR with pre_shared_key": {&ServerHello{}, (&ServerHello{Random: HelloRetryRequestRandom,
			Extensions: []Extension{NewServerPreSharedKeyExtension(0)}}).Marshal(), alert.IllegalParameter},
		"ServerHello with cookie":        {&ServerHello{}, (&ServerHello{Extensions: []Extension{NewCookieExtension([]byte{1})}}).Marshal(), alert.IllegalParameter},
		"ServerHello key share trailing": {&ServerHello{}, (&ServerHello{Extensions: []Extension{{ExtKeyShare, []byte{0, 29, 0, 1, 5, 0}}}}).Marshal(), alert.DecodeError},
		"HRR group 3 bytes": {&ServerHello{}, (&ServerHello{Random: HelloRetryRequestRandom,
			Extensions: []Extension{{ExtKeyShare, []byte{0, 23, 0}}}}).Marshal(), alert.DecodeError},

		"EE with key_share":          {&EncryptedExtensions{}, (&EncryptedExtensions{Extensions: []Extension{NewServerKeyShareExtension(KeyShare{29, []byte{1}})}}).Marshal(), alert.IllegalParameter},
		"EE ALPN two names":          {&EncryptedExtensions{}, (&EncryptedExtensions{Extensions: []Extension{NewALPNExtension([]string{"h2", "http/1.1"})}}).Marshal(), alert.DecodeError},
		"EE ALPN one name":           {&EncryptedExtensions{}, (&EncryptedExtensions{Extensions: []Extension{NewALPNExtension([]string{"h2"})}}).Marshal(), 0},
		"EE server_name with data":   {&EncryptedExtensions{}, (&EncryptedExtensions{Extensions: []Extension{NewServerNameExtension("x")}}).Marshal(), alert.DecodeError},
		"EE cert type list":          {&EncryptedExtensions{}, (&EncryptedExtensions{Extensions: []Extension{NewCertTypesExtension([]uint8{2}, false)}}).Marshal(), alert.DecodeError},
		"EE without extension block": {&EncryptedExtensions{}, raw(TypeEncryptedExtensions), alert.DecodeError},

		"CR without signature_algorithms": {&CertificateRequest{}, (&CertificateRequest{Extensions: []Extension{}}).Marshal(), alert.MissingExtension},
		"CR with key_share": {&CertificateRequest{}, (&CertificateRequest{Extensions: []Extension{
			NewSignatureAlgorithmsExtension([]uint16{SigEd25519}, false), NewClientKeyShareExtension(nil)}}).Marshal(), alert.IllegalParameter},
		"CR dane_clientid not empty": {&CertificateRequest{}, (&CertificateRequest{Extensions: []Extension{
			NewSignatureAlgorithmsExtension([]uint16{SigEd25519}, false), {DefaultDANEClientID, []byte{1, 'a'}}}}).Marshal(), alert.DecodeError},

		"Certificate empty entry": {&Certificate{}, raw(TypeCertificate, 0, 0, 0, 5, 0, 0, 0, 0, 0), alert.DecodeError},
		"Certificate entry with key_share": {&Certificate{}, (&Certificate{Entries: []CertificateEntry{{Data: []byte{1},
			Extensions: []Extension{NewServerKeyShareExtension(KeyShare{29, []byte{1}})}}}}).Marshal(), alert.IllegalParameter},
		"dane_clientid in second entry": {&Certificate{}, (&Certificate{Entries: []CertificateEntry{{Data: []byte{1}, Extensions: []Extension{}},
			{Data: []byte{2}, Extensions: []Extension{NewDANEClientIDExtension(0, "dev._device.example")}}}}).Marshal(), alert.IllegalParameter},
		"dane_clientid bad name": {&Certificate{}, (&Certificate{Entries: []CertificateEntry{{Data: []byte{1},
			Extensions: []Extension{{DefaultDANEClientID, []byte{4, 'a', '.', '.', 'b'}}}}}}).Marshal(), alert.IllegalParameter},
		"dane_clientid zero-length name and more": {&Certificate{}, (&Certificate{Entries: []CertificateEntry{{Data: []byte{1},
			Extensions: []Extension{{DefaultDANEClientID, []byte{0, 0}}}}}}).Marshal(), alert.DecodeError},
		"dane_clientid length": {&Certificate{}, (&Certificate{Entries: []CertificateEntry{{Data: []byte{1},
			Extensions: []Extension{{DefaultDANEClientID, []byte{5, 'a'}}}}}}).Marshal(), alert.DecodeError},

		"CertificateVerify trailing": {&CertificateVerify{}, raw(TypeCertificateVerify, 8, 7, 0, 1, 5, 6), alert.DecodeError},
		"KeyUpdate 2":                {&KeyUpdate{}, raw(TypeKeyUpdate, 2), alert.IllegalParameter},
		"KeyUpdate empty":            {&KeyUpdate{}, raw(TypeKeyUpdate), alert.DecodeError},
		"KeyUpdate long":             {&KeyUpdate{}, raw(TypeKeyUpdate, 0, 0), alert.DecodeError},
		"ticket lifetime 7 days+1": {&NewSessionTicket{}, (&NewSessionTicket{Lifetime: MaxTicketLifetime + 1, Ticket: []byte{1},
			Extensions: []Extension{}}).Marshal(), alert.IllegalParameter},
		"ticket lifetime 7 days": {&NewSessionTicket{}, (&NewSessionTicket{Lifetime: MaxTicketLifetime, Ticket: []byte{1},
			Extensions: []Extension{}}).Marshal(), 0},
		"empty ticket": {&NewSessionTicket{}, (&NewSessionTicket{Extensions: []Extension{}}).Marshal(), alert.DecodeError},
		"ticket with key_share": {&NewSessionTicket{}, (&NewSessionTicket{Ticket: []byte{1},
			Extensions: []Extension{NewHRRKeyShareExtension(29)}}).Marshal(), alert.IllegalParameter},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.m.Unmarshal(tc.msg)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantAlert(t, err, tc.want)
		})
	}
}

func TestFinishedLength(t *testing.T) {
	msg := (&Finished{VerifyData: make([]byte, 48)}).Marshal()
	var f Finished
	if err := f.Unmarshal(msg, 48); err != nil {
		t.Fatal(err)
	}
	wantAlert(t, f.Unmarshal(msg, 32), alert.DecodeError)
}

// TestDANEClientID: the request is empty, the answer carries the name, and
// a non-default codepoint is honoured (the default one is then unknown).
func TestDANEClientID(t *testing.T) {
	const cp ExtensionType = 0xFF42
	cr := &CertificateRequest{Extensions: []Extension{
		NewSignatureAlgorithmsExtension([]uint16{SigEd25519}, false), NewDANEClientIDRequest(cp)}}
	msg := cr.Marshal()
	got := CertificateRequest{DANEClientIDType: cp}
	if err := got.Unmarshal(msg); err != nil || !got.DANEClientID {
		t.Fatalf("request with codepoint %#x: %v, asked=%v", cp, err, got.DANEClientID)
	}
	def := CertificateRequest{}
	if err := def.Unmarshal(msg); err != nil || def.DANEClientID {
		t.Fatalf("default codepoint read %#x as dane_clientid (%v)", cp, err)
	}

	name := "sensor1._device.example.com"
	cert := &Certificate{Entries: []CertificateEntry{{Data: []byte{0x30}, Extensions: []Extension{NewDANEClientIDExtension(cp, name)}}}}
	gotCert := Certificate{DANEClientIDType: cp}
	if err := gotCert.Unmarshal(cert.Marshal()); err != nil || gotCert.ClientName != name {
		t.Fatalf("ClientName = %q, %v", gotCert.ClientName, err)
	}
}

// TestDANEClientIDEmptyForms: tls-clientid-07 §3 sends the empty extension
// with no data; client-auth-13 §7 as a zero-length ClientName (one zero
// octet). Both are read as "asked" in a CertificateRequest and as "signalled,
// no name" in a CertificateEntry.
func TestDANEClientIDEmptyForms(t *testing.T) {
	for name, data := range map[string][]byte{"no data": {}, "zero-length ClientName": {0}} {
		cr := &CertificateRequest{Extensions: []Extension{
			NewSignatureAlgorithmsExtension([]uint16{SigEd25519}, false), {DefaultDANEClientID, data}}}
		var got CertificateRequest
		if err := got.Unmarshal(cr.Marshal()); err != nil || !got.DANEClientID {
			t.Errorf("%s: CertificateRequest: %v, asked=%v", name, err, got.DANEClientID)
		}
		cert := &Certificate{Entries: []CertificateEntry{{Data: []byte{0x30}, Extensions: []Extension{{DefaultDANEClientID, data}}}}}
		var gotCert Certificate
		if err := gotCert.Unmarshal(cert.Marshal()); err != nil || !gotCert.HasDANEClientID || gotCert.ClientName != "" {
			t.Errorf("%s: Certificate: %v, signalled=%v name=%q", name, err, gotCert.HasDANEClientID, gotCert.ClientName)
		}
	}
	var none Certificate
	if err := none.Unmarshal((&Certificate{Entries: []CertificateEntry{{Data: []byte{0x30}, Extensions: []Extension{}}}}).Marshal()); err != nil || none.HasDANEClientID {
		t.Errorf("entry without the extension: %v, signalled=%v", err, none.HasDANEClientID)
	}
}

func TestCheckClientName(t *testing.T) {
	long := strings.Repeat("a", 63)
	for name, ok := range map[string]bool{
		"host.example.com":              true,
		"_smtp-client.mta1.example.com": true,
		"dev1._device.example":          true,
		"x":                             true,
		long + "." + long + "." + long + "." + strings.Repeat("b", 61): true, // 253
		long + "." + long + "." + long + "." + strings.Repeat("b", 62): false,
		strings.Repeat("a", 64) + ".example":                           false,
		"":                                                             false,
		"example.com.":                                                 false,
		".example.com":                                                 false,
		"a..b":                                                         false,
		"exa mple.com":                                                 false,
		`ex\046ample.com`:                                              false,
		"bücher.example":                                               false,
		"host.example.com\x00":                                         false,
	} {
		err := CheckClientName(name)
		if ok && err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
		if !ok {
			if err == nil {
				t.Errorf("%q accepted", name)
			} else {
				wantAlert(t, err, alert.IllegalParameter)
			}
		}
	}
}

func TestRawPublicKeyCertificateTypes(t *testing.T) {
	ch := withExt(baseClientHello(),
		NewCertTypesExtension([]uint8{CertTypeRawPublicKey, CertTypeX509}, false),
		NewCertTypesExtension([]uint8{CertTypeRawPublicKey}, true))
	var got ClientHello
	if err := got.Unmarshal(ch.Marshal()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.ClientCertTypes, []uint8{2, 0}) || !slices.Equal(got.ServerCertTypes, []uint8{2}) {
		t.Fatalf("types %v %v", got.ClientCertTypes, got.ServerCertTypes)
	}
	// RFC 7250 §4.1: a client offering only the default omits the
	// extension; a list of X.509 alone is refused.
	for _, server := range []bool{false, true} {
		var bad ClientHello
		wantAlert(t, bad.Unmarshal(withExt(baseClientHello(), NewCertTypesExtension([]uint8{CertTypeX509}, server)).Marshal()), alert.DecodeError)
	}
	ee := &EncryptedExtensions{Extensions: []Extension{NewSelectedCertTypeExtension(CertTypeRawPublicKey, false), NewSelectedCertTypeExtension(CertTypeX509, true)}}
	var gotEE EncryptedExtensions
	if err := gotEE.Unmarshal(ee.Marshal()); err != nil || gotEE.ClientCertType != 2 || gotEE.ServerCertType != 0 {
		t.Fatalf("EncryptedExtensions cert types %d %d, %v", gotEE.ClientCertType, gotEE.ServerCertType, err)
	}
}
