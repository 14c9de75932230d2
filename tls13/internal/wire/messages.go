package wire

import (
	"bytes"
	"crypto/sha256"

	"golang.org/x/crypto/cryptobyte"
)

// SplitMessage cuts the first complete handshake message off b. ok is false
// when b does not yet hold a whole message; the caller reads more. A message
// announcing more than max octets is refused before it is buffered, so that
// a peer cannot make us hold 16 MiB; max is the largest message the caller
// accepts in its state.
func SplitMessage(b []byte, max int) (msg, rest []byte, ok bool, err error) {
	if len(b) < HeaderLen {
		return nil, b, false, nil
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n > max {
		return nil, b, false, decodeErr("%v of %d octets over the limit of %d", HandshakeType(b[0]), n, max)
	}
	if len(b) < HeaderLen+n {
		return nil, b, false, nil
	}
	return b[:HeaderLen+n], b[HeaderLen+n:], true, nil
}

// marshal frames body as a handshake message of type t; size is about the
// body's length, for the buffer's first allocation.
func marshal(t HandshakeType, size int, body func(b *builder)) []byte {
	b := builder{buf: make([]byte, 0, HeaderLen+size)}
	b.AddUint8(uint8(t))
	b.AddUint24LengthPrefixed(body)
	if b.err != nil {
		panic(b.err) // as in build
	}
	return b.buf
}

// extensionsLen is the encoded length of exts, with their vector's length.
func extensionsLen(exts []Extension) int {
	n := 2
	for _, e := range exts {
		n += 4 + len(e.Data)
	}
	return n
}

// unframe checks msg's header against t and returns its body.
func unframe(msg []byte, t HandshakeType) (cryptobyte.String, error) {
	s := cryptobyte.String(msg)
	var typ uint8
	var body cryptobyte.String
	if !s.ReadUint8(&typ) || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, decodeErr("%v length", t)
	}
	if HandshakeType(typ) != t {
		return nil, decodeErr("%v where %v was expected", HandshakeType(typ), t)
	}
	return body, nil
}

func readFixed(s *cryptobyte.String, out []byte) bool {
	var v []byte
	if !s.ReadBytes(&v, len(out)) {
		return false
	}
	copy(out, v)
	return true
}

// ---------------------------------------------------------------------------
// ClientHello (RFC 8446 §4.1.2)

// ClientHello is a ClientHello message.
type ClientHello struct {
	LegacyVersion      uint16
	Random             [32]byte
	SessionID          []byte   // legacy_session_id<0..32>
	CipherSuites       []uint16 // <2..2^16-2>
	CompressionMethods []byte   // legacy_compression_methods<1..2^8-1>
	Extensions         []Extension

	// Filled by Unmarshal from Extensions; nil or zero when absent.
	ServerName              string
	HasServerName           bool
	SupportedGroups         []uint16
	SignatureAlgorithms     []uint16
	SignatureAlgorithmsCert []uint16
	CertificateAuthorities  [][]byte // DER distinguished names (RFC 8446 §4.2.4)
	KeyShares               []KeyShare
	HasKeyShare             bool
	SupportedVersions       []uint16
	PSKModes                []uint8
	PreSharedKey            *OfferedPSKs
	Cookie                  []byte
	ALPN                    []string
	RecordSizeLimit         uint16 // 0: absent
	ClientCertTypes         []uint8
	ServerCertTypes         []uint8
	EarlyData               bool
}

// Marshal encodes the message, header included, from its raw fields and
// Extensions (the typed fields are not read). A nil Extensions leaves the
// extension block out, as a TLS 1.2 ClientHello may; an empty one writes an
// empty block.
func (m *ClientHello) Marshal() []byte {
	return marshal(TypeClientHello, 2+32+1+len(m.SessionID)+2+2*len(m.CipherSuites)+1+len(m.CompressionMethods)+extensionsLen(m.Extensions), func(b *builder) {
		b.AddUint16(m.LegacyVersion)
		b.AddBytes(m.Random[:])
		b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(m.SessionID) })
		b.AddUint16LengthPrefixed(func(b *builder) {
			for _, c := range m.CipherSuites {
				b.AddUint16(c)
			}
		})
		b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(m.CompressionMethods) })
		if m.Extensions != nil {
			addExtensions(b, m.Extensions)
		}
	})
}

// Unmarshal decodes a ClientHello (header included) and every extension it
// knows. The legacy fields are checked only for form; what their values must
// be (legacy_compression_methods of one zero byte, RFC 8446 §4.1.2) is for
// the server's state machine to decide, as it chooses the alert.
func (m *ClientHello) Unmarshal(msg []byte) error {
	*m = ClientHello{}
	s, err := unframe(msg, TypeClientHello)
	if err != nil {
		return err
	}
	var sid, suites, comp cryptobyte.String
	if !s.ReadUint16(&m.LegacyVersion) || !readFixed(&s, m.Random[:]) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16LengthPrefixed(&suites) || len(suites) < 2 || len(suites)%2 != 0 ||
		!s.ReadUint8LengthPrefixed(&comp) || comp.Empty() {
		return decodeErr("ClientHello fields")
	}
	m.SessionID, m.CompressionMethods = sid, comp
	for !suites.Empty() {
		var c uint16
		suites.ReadUint16(&c)
		m.CipherSuites = append(m.CipherSuites, c)
	}
	if s.Empty() {
		// A ClientHello without extensions is valid TLS 1.2 and earlier;
		// it offers no TLS 1.3 (RFC 8446 §4.1.2), which the server decides.
		return nil
	}
	if m.Extensions, err = parseExtensions(&s, inCH, 0); err != nil {
		return err
	}
	if !s.Empty() {
		return decodeErr("ClientHello trailing data")
	}
	return m.decodeExtensions()
}

func (m *ClientHello) decodeExtensions() error {
	var err error
	for i, e := range m.Extensions {
		switch e.Type {
		case ExtServerName:
			m.ServerName, err = ParseServerName(e.Data)
			m.HasServerName = true
		case ExtSupportedGroups:
			m.SupportedGroups, err = ParseSupportedGroups(e.Data)
		case ExtSignatureAlgorithms:
			m.SignatureAlgorithms, err = ParseSignatureAlgorithms(e.Data)
		case ExtSignatureAlgorithmsCert:
			m.SignatureAlgorithmsCert, err = ParseSignatureAlgorithms(e.Data)
		case ExtCertificateAuthorities:
			m.CertificateAuthorities, err = ParseCertificateAuthorities(e.Data)
		case ExtKeyShare:
			m.KeyShares, err = ParseClientKeyShares(e.Data)
			m.HasKeyShare = true
		case ExtSupportedVersions:
			m.SupportedVersions, err = ParseClientSupportedVersions(e.Data)
		case ExtPSKKeyExchangeModes:
			m.PSKModes, err = ParsePSKModes(e.Data)
		case ExtPreSharedKey:
			// RFC 8446 §4.2.11: "The "pre_shared_key" extension MUST be
			// the last extension in the ClientHello".
			if i != len(m.Extensions)-1 {
				return illegal("pre_shared_key is not the last extension")
			}
			m.PreSharedKey, err = ParseOfferedPSKs(e.Data)
		case ExtCookie:
			m.Cookie, err = ParseCookie(e.Data)
		case ExtALPN:
			m.ALPN, err = ParseALPN(e.Data)
		case ExtRecordSizeLimit:
			m.RecordSizeLimit, err = ParseRecordSizeLimit(e.Data)
		case ExtClientCertificateType:
			m.ClientCertTypes, err = ParseCertTypes(e.Data)
		case ExtServerCertificateType:
			m.ServerCertTypes, err = ParseCertTypes(e.Data)
		case ExtEarlyData:
			err = requireEmpty(e.Data, "early_data")
			m.EarlyData = true
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// TruncatedForBinders returns the ClientHello encoding up to, not including,
// the binders list: the input of the PSK binder transcript (RFC 8446
// §4.2.11.2). ok is false when the message carries no pre_shared_key.
func (m *ClientHello) TruncatedForBinders() (truncated []byte, ok bool) {
	if m.PreSharedKey == nil {
		return nil, false
	}
	full := m.Marshal()
	return full[:len(full)-m.PreSharedKey.BindersLen()], true
}

// ---------------------------------------------------------------------------
// ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4)

// HelloRetryRequestRandom is the Random of a ServerHello that is a
// HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
var HelloRetryRequestRandom = sha256.Sum256([]byte("HelloRetryRequest"))

// Downgrade sentinels: the last eight bytes of a TLS 1.3 server's Random
// when it negotiates TLS 1.2 or below (RFC 8446 §4.1.3).
var (
	DowngradeTLS12 = []byte{0x44, 0x4F, 0x57, 0x4E, 0x47, 0x52, 0x44, 0x01}
	DowngradeTLS11 = []byte{0x44, 0x4F, 0x57, 0x4E, 0x47, 0x52, 0x44, 0x00}
)

// ServerHello is a ServerHello message, or a HelloRetryRequest, which has the
// same structure and the special Random.
type ServerHello struct {
	LegacyVersion     uint16
	Random            [32]byte
	SessionIDEcho     []byte
	CipherSuite       uint16
	CompressionMethod uint8
	Extensions        []Extension

	// Filled by Unmarshal from Extensions.
	SupportedVersion uint16    // 0: absent
	KeyShare         *KeyShare // ServerHello
	SelectedGroup    uint16    // HelloRetryRequest; 0: absent
	Cookie           []byte    // HelloRetryRequest
	SelectedIdentity int       // pre_shared_key; -1: absent
}

// IsHelloRetryRequest reports whether the message is a HelloRetryRequest.
func (m *ServerHello) IsHelloRetryRequest() bool {
	return m.Random == HelloRetryRequestRandom
}

// Marshal encodes the message, header included, from its raw fields.
func (m *ServerHello) Marshal() []byte {
	return marshal(TypeServerHello, 2+32+1+len(m.SessionIDEcho)+3+extensionsLen(m.Extensions), func(b *builder) {
		b.AddUint16(m.LegacyVersion)
		b.AddBytes(m.Random[:])
		b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(m.SessionIDEcho) })
		b.AddUint16(m.CipherSuite)
		b.AddUint8(m.CompressionMethod)
		if m.Extensions != nil {
			addExtensions(b, m.Extensions)
		}
	})
}

// Unmarshal decodes a ServerHello or HelloRetryRequest (header included).
// The extensions are checked against the table for the kind of message the
// Random says it is.
func (m *ServerHello) Unmarshal(msg []byte) error {
	*m = ServerHello{SelectedIdentity: -1}
	s, err := unframe(msg, TypeServerHello)
	if err != nil {
		return err
	}
	var sid cryptobyte.String
	if !s.ReadUint16(&m.LegacyVersion) || !readFixed(&s, m.Random[:]) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16(&m.CipherSuite) || !s.ReadUint8(&m.CompressionMethod) {
		return decodeErr("ServerHello fields")
	}
	m.SessionIDEcho = sid
	if s.Empty() {
		// TLS 1.2 and earlier allow no extensions; such a ServerHello
		// negotiates no TLS 1.3, which the client decides.
		return nil
	}
	where := inSH
	if m.IsHelloRetryRequest() {
		where = inHRR
	}
	if m.Extensions, err = parseExtensions(&s, where, 0); err != nil {
		return err
	}
	if !s.Empty() {
		return decodeErr("ServerHello trailing data")
	}
	for _, e := range m.Extensions {
		switch e.Type {
		case ExtSupportedVersions:
			m.SupportedVersion, err = ParseServerSupportedVersion(e.Data)
		case ExtKeyShare:
			if where == inHRR {
				m.SelectedGroup, err = ParseHRRKeyShare(e.Data)
			} else {
				var k KeyShare
				k, err = ParseServerKeyShare(e.Data)
				m.KeyShare = &k
			}
		case ExtCookie:
			m.Cookie, err = ParseCookie(e.Data)
		case ExtPreSharedKey:
			var i uint16
			i, err = ParseSelectedIdentity(e.Data)
			m.SelectedIdentity = int(i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// EncryptedExtensions (RFC 8446 §4.3.1)

// EncryptedExtensions is an EncryptedExtensions message.
type EncryptedExtensions struct {
	Extensions []Extension

	// Filled by Unmarshal.
	ServerNameAck   bool
	SupportedGroups []uint16
	ALPN            string // "": absent
	RecordSizeLimit uint16 // 0: absent
	ClientCertType  int    // -1: absent
	ServerCertType  int    // -1: absent
	EarlyData       bool
}

// Marshal encodes the message, header included.
func (m *EncryptedExtensions) Marshal() []byte {
	return marshal(TypeEncryptedExtensions, extensionsLen(m.Extensions), func(b *builder) { addExtensions(b, m.Extensions) })
}

// Unmarshal decodes an EncryptedExtensions message (header included).
func (m *EncryptedExtensions) Unmarshal(msg []byte) error {
	*m = EncryptedExtensions{ClientCertType: -1, ServerCertType: -1}
	s, err := unframe(msg, TypeEncryptedExtensions)
	if err != nil {
		return err
	}
	if m.Extensions, err = parseExtensions(&s, inEE, 0); err != nil {
		return err
	}
	if !s.Empty() {
		return decodeErr("EncryptedExtensions trailing data")
	}
	for _, e := range m.Extensions {
		switch e.Type {
		case ExtServerName:
			err = requireEmpty(e.Data, "server_name")
			m.ServerNameAck = true
		case ExtSupportedGroups:
			m.SupportedGroups, err = ParseSupportedGroups(e.Data)
		case ExtALPN:
			var p []string
			if p, err = ParseALPN(e.Data); err == nil && len(p) != 1 {
				// RFC 7301 §3.1: the server's list "MUST contain
				// exactly one "ProtocolName"".
				err = decodeErr("server ALPN with %d protocols", len(p))
			} else if err == nil {
				m.ALPN = p[0]
			}
		case ExtRecordSizeLimit:
			m.RecordSizeLimit, err = ParseRecordSizeLimit(e.Data)
		case ExtClientCertificateType:
			var t uint8
			t, err = ParseSelectedCertType(e.Data)
			m.ClientCertType = int(t)
		case ExtServerCertificateType:
			var t uint8
			t, err = ParseSelectedCertType(e.Data)
			m.ServerCertType = int(t)
		case ExtEarlyData:
			err = requireEmpty(e.Data, "early_data")
			m.EarlyData = true
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// CertificateRequest (RFC 8446 §4.3.2)

// CertificateRequest is a CertificateRequest message.
type CertificateRequest struct {
	Context    []byte // certificate_request_context<0..2^8-1>
	Extensions []Extension

	// DANEClientIDType is the dane_clientid codepoint; set it before
	// Unmarshal. Zero means DefaultDANEClientID.
	DANEClientIDType ExtensionType

	// Filled by Unmarshal.
	SignatureAlgorithms     []uint16
	SignatureAlgorithmsCert []uint16
	CertificateAuthorities  [][]byte // DER distinguished names; nil when absent
	DANEClientID            bool     // the server asked for the client's name
}

func (m *CertificateRequest) clientIDType() ExtensionType {
	if m.DANEClientIDType == 0 {
		return DefaultDANEClientID
	}
	return m.DANEClientIDType
}

// Marshal encodes the message, header included.
func (m *CertificateRequest) Marshal() []byte {
	return marshal(TypeCertificateRequest, 1+len(m.Context)+extensionsLen(m.Extensions), func(b *builder) {
		b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(m.Context) })
		addExtensions(b, m.Extensions)
	})
}

// Unmarshal decodes a CertificateRequest (header included). It must carry
// signature_algorithms (RFC 8446 §4.3.2; missing_extension otherwise) and,
// if it carries dane_clientid, carry it empty.
func (m *CertificateRequest) Unmarshal(msg []byte) error {
	*m = CertificateRequest{DANEClientIDType: m.DANEClientIDType}
	s, err := unframe(msg, TypeCertificateRequest)
	if err != nil {
		return err
	}
	var ctx cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&ctx) {
		return decodeErr("CertificateRequest context")
	}
	m.Context = ctx
	if m.Extensions, err = parseExtensions(&s, inCR, m.clientIDType()); err != nil {
		return err
	}
	if !s.Empty() {
		return decodeErr("CertificateRequest trailing data")
	}
	for _, e := range m.Extensions {
		switch e.Type {
		case ExtSignatureAlgorithms:
			m.SignatureAlgorithms, err = ParseSignatureAlgorithms(e.Data)
		case ExtSignatureAlgorithmsCert:
			m.SignatureAlgorithmsCert, err = ParseSignatureAlgorithms(e.Data)
		case ExtCertificateAuthorities:
			m.CertificateAuthorities, err = ParseCertificateAuthorities(e.Data)
		case m.clientIDType():
			if !isEmptyClientID(e.Data) {
				err = decodeErr("dane_clientid in CertificateRequest carries a name")
			}
			m.DANEClientID = true
		}
		if err != nil {
			return err
		}
	}
	if m.SignatureAlgorithms == nil {
		return alertMissing("CertificateRequest without signature_algorithms")
	}
	return nil
}

// ---------------------------------------------------------------------------
// Certificate (RFC 8446 §4.4.2, RFC 7250 §3)

// CertificateEntry is one entry of a Certificate message: a DER X.509
// certificate, or with raw public keys (RFC 7250) a DER
// SubjectPublicKeyInfo; the two are encoded alike.
type CertificateEntry struct {
	Data       []byte // cert_data<1..2^24-1>
	Extensions []Extension
}

// Certificate is a Certificate message.
type Certificate struct {
	Context []byte // certificate_request_context<0..2^8-1>
	Entries []CertificateEntry

	// DANEClientIDType is the dane_clientid codepoint; set it before
	// Unmarshal. Zero means DefaultDANEClientID.
	DANEClientIDType ExtensionType

	// ClientName is the end-entity entry's dane_clientid name, filled by
	// Unmarshal; "" when absent or empty.
	ClientName string
	// HasDANEClientID reports that the end-entity entry carried
	// dane_clientid, with a name or empty; filled by Unmarshal.
	HasDANEClientID bool
}

// size is the encoded length of the message body.
func (m *Certificate) size() int {
	n := 1 + len(m.Context) + 3
	for _, e := range m.Entries {
		n += 3 + len(e.Data) + extensionsLen(e.Extensions)
	}
	return n
}

// Marshal encodes the message, header included.
func (m *Certificate) Marshal() []byte {
	return marshal(TypeCertificate, m.size(), func(b *builder) {
		b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(m.Context) })
		b.AddUint24LengthPrefixed(func(b *builder) {
			for _, e := range m.Entries {
				b.AddUint24LengthPrefixed(func(b *builder) { b.AddBytes(e.Data) })
				addExtensions(b, e.Extensions)
			}
		})
	})
}

// Unmarshal decodes a Certificate message (header included). A
// dane_clientid extension is allowed only in the first (end-entity) entry.
func (m *Certificate) Unmarshal(msg []byte) error {
	*m = Certificate{DANEClientIDType: m.DANEClientIDType}
	s, err := unframe(msg, TypeCertificate)
	if err != nil {
		return err
	}
	cid := m.DANEClientIDType
	if cid == 0 {
		cid = DefaultDANEClientID
	}
	var ctx, list cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&ctx) || !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return decodeErr("Certificate lengths")
	}
	m.Context = ctx
	for !list.Empty() {
		var data cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&data) || data.Empty() {
			return decodeErr("certificate entry")
		}
		exts, err := parseExtensions(&list, inCT, cid)
		if err != nil {
			return err
		}
		if d, ok := FindExtension(exts, cid); ok {
			if len(m.Entries) != 0 {
				return illegal("dane_clientid outside the end-entity certificate entry")
			}
			if m.ClientName, err = ParseDANEClientID(d); err != nil {
				return err
			}
			m.HasDANEClientID = true
		}
		m.Entries = append(m.Entries, CertificateEntry{data, exts})
	}
	return nil
}

// ---------------------------------------------------------------------------
// CertificateVerify (RFC 8446 §4.4.3)

// CertificateVerify is a CertificateVerify message.
type CertificateVerify struct {
	Algorithm uint16
	Signature []byte // <0..2^16-1>
}

// Marshal encodes the message, header included.
func (m *CertificateVerify) Marshal() []byte {
	return marshal(TypeCertificateVerify, 4+len(m.Signature), func(b *builder) {
		b.AddUint16(m.Algorithm)
		b.AddUint16LengthPrefixed(func(b *builder) { b.AddBytes(m.Signature) })
	})
}

// Unmarshal decodes a CertificateVerify message (header included).
func (m *CertificateVerify) Unmarshal(msg []byte) error {
	*m = CertificateVerify{}
	s, err := unframe(msg, TypeCertificateVerify)
	if err != nil {
		return err
	}
	var sig cryptobyte.String
	if !s.ReadUint16(&m.Algorithm) || !s.ReadUint16LengthPrefixed(&sig) || !s.Empty() {
		return decodeErr("CertificateVerify fields")
	}
	m.Signature = sig
	return nil
}

// ---------------------------------------------------------------------------
// Finished (RFC 8446 §4.4.4)

// Finished is a Finished message.
type Finished struct {
	VerifyData []byte // Hash.length octets
}

// Marshal encodes the message, header included.
func (m *Finished) Marshal() []byte {
	return marshal(TypeFinished, len(m.VerifyData), func(b *builder) { b.AddBytes(m.VerifyData) })
}

// Unmarshal decodes a Finished message (header included) whose verify_data
// must be hashLen octets, the length of the suite's hash.
func (m *Finished) Unmarshal(msg []byte, hashLen int) error {
	s, err := unframe(msg, TypeFinished)
	if err != nil {
		return err
	}
	if len(s) != hashLen {
		return decodeErr("Finished of %d octets, want %d", len(s), hashLen)
	}
	m.VerifyData = bytes.Clone(s)
	return nil
}

// ---------------------------------------------------------------------------
// NewSessionTicket (RFC 8446 §4.6.1)

// NewSessionTicket is a NewSessionTicket message.
type NewSessionTicket struct {
	Lifetime   uint32 // seconds, at most 604800
	AgeAdd     uint32
	Nonce      []byte // ticket_nonce<0..255>
	Ticket     []byte // ticket<1..2^16-1>
	Extensions []Extension

	// Filled by Unmarshal; 0 when early_data is absent.
	MaxEarlyData uint32
}

// MaxTicketLifetime is the longest ticket_lifetime allowed: seven days
// (RFC 8446 §4.6.1).
const MaxTicketLifetime = 604800

// Marshal encodes the message, header included.
func (m *NewSessionTicket) Marshal() []byte {
	return marshal(TypeNewSessionTicket, 8+1+len(m.Nonce)+2+len(m.Ticket)+extensionsLen(m.Extensions), func(b *builder) {
		b.AddUint32(m.Lifetime)
		b.AddUint32(m.AgeAdd)
		b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(m.Nonce) })
		b.AddUint16LengthPrefixed(func(b *builder) { b.AddBytes(m.Ticket) })
		addExtensions(b, m.Extensions)
	})
}

// Unmarshal decodes a NewSessionTicket (header included). A lifetime over
// seven days is an illegal_parameter (RFC 8446 §4.6.1: "Servers MUST NOT
// use any value greater than 604800 seconds").
func (m *NewSessionTicket) Unmarshal(msg []byte) error {
	*m = NewSessionTicket{}
	s, err := unframe(msg, TypeNewSessionTicket)
	if err != nil {
		return err
	}
	var nonce, ticket cryptobyte.String
	if !s.ReadUint32(&m.Lifetime) || !s.ReadUint32(&m.AgeAdd) ||
		!s.ReadUint8LengthPrefixed(&nonce) || !s.ReadUint16LengthPrefixed(&ticket) || ticket.Empty() {
		return decodeErr("NewSessionTicket fields")
	}
	m.Nonce, m.Ticket = nonce, ticket
	if m.Extensions, err = parseExtensions(&s, inNST, 0); err != nil {
		return err
	}
	if !s.Empty() {
		return decodeErr("NewSessionTicket trailing data")
	}
	if m.Lifetime > MaxTicketLifetime {
		return illegal("ticket lifetime %d", m.Lifetime)
	}
	if d, ok := FindExtension(m.Extensions, ExtEarlyData); ok {
		if m.MaxEarlyData, err = ParseMaxEarlyData(d); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// KeyUpdate (RFC 8446 §4.6.3)

// KeyUpdate is a KeyUpdate message.
type KeyUpdate struct {
	RequestUpdate uint8 // UpdateNotRequested or UpdateRequested
}

// Marshal encodes the message, header included.
func (m *KeyUpdate) Marshal() []byte {
	return marshal(TypeKeyUpdate, 1, func(b *builder) { b.AddUint8(m.RequestUpdate) })
}

// Unmarshal decodes a KeyUpdate (header included). A request_update other
// than 0 or 1 is an illegal_parameter (RFC 8446 §4.6.3).
func (m *KeyUpdate) Unmarshal(msg []byte) error {
	s, err := unframe(msg, TypeKeyUpdate)
	if err != nil {
		return err
	}
	if !s.ReadUint8(&m.RequestUpdate) || !s.Empty() {
		return decodeErr("KeyUpdate length")
	}
	if m.RequestUpdate > UpdateRequested {
		return illegal("KeyUpdate request_update %d", m.RequestUpdate)
	}
	return nil
}
