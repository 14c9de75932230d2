package wire

import (
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Extension is one extension as it appears on the wire.
type Extension struct {
	Type ExtensionType
	Data []byte
}

// msgKind names the places an extension may appear (RFC 8446 §4.2).
type msgKind uint8

const (
	inCH msgKind = 1 << iota
	inSH
	inHRR
	inEE
	inCR
	inCT // CertificateEntry
	inNST
)

// allowed lists where each known extension may appear: RFC 8446 §4.2's
// table, RFC 8449 §4 for record_size_limit (CH, EE) and RFC 5746's
// renegotiation_info, which a TLS 1.3 ClientHello may carry for older
// servers. An extension in this table that appears elsewhere is an
// illegal_parameter (RFC 8446 §4.2); one not in it is unknown and left to
// the caller.
var allowed = map[ExtensionType]msgKind{
	ExtServerName:              inCH | inEE,
	ExtMaxFragmentLength:       inCH | inEE,
	ExtStatusRequest:           inCH | inCR | inCT,
	ExtSupportedGroups:         inCH | inEE,
	ExtSignatureAlgorithms:     inCH | inCR,
	ExtUseSRTP:                 inCH | inEE,
	ExtHeartbeat:               inCH | inEE,
	ExtALPN:                    inCH | inEE,
	ExtSCT:                     inCH | inCR | inCT,
	ExtClientCertificateType:   inCH | inEE,
	ExtServerCertificateType:   inCH | inEE,
	ExtPadding:                 inCH,
	ExtRecordSizeLimit:         inCH | inEE,
	ExtPreSharedKey:            inCH | inSH,
	ExtEarlyData:               inCH | inEE | inNST,
	ExtSupportedVersions:       inCH | inSH | inHRR,
	ExtCookie:                  inCH | inHRR,
	ExtPSKKeyExchangeModes:     inCH,
	ExtCertificateAuthorities:  inCH | inCR,
	ExtOIDFilters:              inCR,
	ExtPostHandshakeAuth:       inCH,
	ExtSignatureAlgorithmsCert: inCH | inCR,
	ExtKeyShare:                inCH | inSH | inHRR,
	ExtRenegotiationInfo:       inCH,
}

// parseExtensions reads an extension block (Extension extensions<0..2^16-1>)
// that must fill s exactly, refusing duplicates (RFC 8446 §4.2: "There MUST
// NOT be more than one extension of the same type in a given extension
// block") and known extensions out of place. daneClientID, when non-zero,
// is the codepoint of dane_clientid, allowed in CertificateRequest and
// CertificateEntry.
func parseExtensions(s *cryptobyte.String, where msgKind, daneClientID ExtensionType) ([]Extension, error) {
	var block cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&block) {
		return nil, decodeErr("extension block length")
	}
	exts := []Extension{} // present, even if empty: Marshal keeps the block
	seen := map[ExtensionType]bool{}
	for !block.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !block.ReadUint16(&typ) || !block.ReadUint16LengthPrefixed(&data) {
			return nil, decodeErr("extension length")
		}
		t := ExtensionType(typ)
		if seen[t] {
			return nil, decodeErr("extension %d twice", typ)
		}
		seen[t] = true
		if t == daneClientID && daneClientID != 0 {
			if where&(inCR|inCT) == 0 {
				// In any other message the private-use codepoint is
				// an extension we do not know; leave it to the caller.
				exts = append(exts, Extension{t, data})
				continue
			}
		} else if kinds, known := allowed[t]; known && kinds&where == 0 {
			return nil, illegal("extension %d not allowed in this message", typ)
		}
		exts = append(exts, Extension{t, data})
	}
	return exts, nil
}

func addExtensions(b *builder, exts []Extension) {
	b.AddUint16LengthPrefixed(func(b *builder) {
		for _, e := range exts {
			b.AddUint16(uint16(e.Type))
			b.AddUint16LengthPrefixed(func(b *builder) { b.AddBytes(e.Data) })
		}
	})
}

// FindExtension returns the data of the extension of type t, if present.
func FindExtension(exts []Extension, t ExtensionType) ([]byte, bool) {
	for _, e := range exts {
		if e.Type == t {
			return e.Data, true
		}
	}
	return nil, false
}

// build returns what f encodes.
func build(f func(b *builder)) []byte {
	b := builder{buf: make([]byte, 0, 64)}
	f(&b)
	if b.err != nil {
		// Only an overlong field fails; our callers' values are bounded
		// by the types they are built from, or it is a programming error.
		panic(b.err)
	}
	return b.buf
}

// --- server_name (RFC 6066 §3) ---

const nameTypeHostName = 0

// NewServerNameExtension returns a ClientHello server_name extension naming
// host.
func NewServerNameExtension(host string) Extension {
	return Extension{ExtServerName, build(func(b *builder) {
		b.AddUint16LengthPrefixed(func(b *builder) {
			b.AddUint8(nameTypeHostName)
			b.AddUint16LengthPrefixed(func(b *builder) { b.AddBytes([]byte(host)) })
		})
	})}
}

// ParseServerName decodes a ClientHello server_name extension: a
// ServerNameList<1..2^16-1> of which at most one entry is a host_name (RFC
// 6066 §3). Entries of other name types are skipped.
func ParseServerName(data []byte) (string, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() || list.Empty() {
		return "", decodeErr("server_name list")
	}
	host, found := "", false
	for !list.Empty() {
		var typ uint8
		var name cryptobyte.String
		if !list.ReadUint8(&typ) || !list.ReadUint16LengthPrefixed(&name) || name.Empty() {
			return "", decodeErr("server_name entry")
		}
		if typ != nameTypeHostName {
			continue
		}
		if found {
			return "", illegal("two host_name entries in server_name")
		}
		host, found = string(name), true
	}
	return host, nil
}

// --- lists of uint16: supported_groups, signature_algorithms(_cert) ---

func newUint16List(t ExtensionType, v []uint16) Extension {
	return Extension{t, build(func(b *builder) {
		b.AddUint16LengthPrefixed(func(b *builder) {
			for _, x := range v {
				b.AddUint16(x)
			}
		})
	})}
}

// parseUint16List decodes a vector of uint16 values <2..2^16-2> (or 2^16-1;
// an odd length fails either way).
func parseUint16List(data []byte, what string) ([]uint16, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() || list.Empty() || len(list)%2 != 0 {
		return nil, decodeErr("%s list", what)
	}
	out := make([]uint16, 0, len(list)/2)
	for !list.Empty() {
		var v uint16
		list.ReadUint16(&v)
		out = append(out, v)
	}
	return out, nil
}

// NewSupportedGroupsExtension returns a supported_groups extension (RFC
// 8446 §4.2.7).
func NewSupportedGroupsExtension(groups []uint16) Extension {
	return newUint16List(ExtSupportedGroups, groups)
}

// ParseSupportedGroups decodes NamedGroupList named_group_list<2..2^16-1>.
func ParseSupportedGroups(data []byte) ([]uint16, error) {
	return parseUint16List(data, "supported_groups")
}

// NewSignatureAlgorithmsExtension returns a signature_algorithms extension,
// or signature_algorithms_cert when cert is true (RFC 8446 §4.2.3).
func NewSignatureAlgorithmsExtension(schemes []uint16, cert bool) Extension {
	t := ExtSignatureAlgorithms
	if cert {
		t = ExtSignatureAlgorithmsCert
	}
	return newUint16List(t, schemes)
}

// ParseSignatureAlgorithms decodes SignatureScheme
// supported_signature_algorithms<2..2^16-2>.
func ParseSignatureAlgorithms(data []byte) ([]uint16, error) {
	return parseUint16List(data, "signature_algorithms")
}

// --- key_share (RFC 8446 §4.2.8) ---

// KeyShare is a KeyShareEntry.
type KeyShare struct {
	Group uint16
	Data  []byte // key_exchange<1..2^16-1>
}

func addKeyShare(b *builder, k KeyShare) {
	b.AddUint16(k.Group)
	b.AddUint16LengthPrefixed(func(b *builder) { b.AddBytes(k.Data) })
}

func readKeyShare(s *cryptobyte.String) (KeyShare, error) {
	var k KeyShare
	var data cryptobyte.String
	if !s.ReadUint16(&k.Group) || !s.ReadUint16LengthPrefixed(&data) || data.Empty() {
		return k, decodeErr("key_share entry")
	}
	k.Data = data
	return k, nil
}

// NewClientKeyShareExtension returns a ClientHello key_share extension.
func NewClientKeyShareExtension(shares []KeyShare) Extension {
	return Extension{ExtKeyShare, build(func(b *builder) {
		b.AddUint16LengthPrefixed(func(b *builder) {
			for _, k := range shares {
				addKeyShare(b, k)
			}
		})
	})}
}

// ParseClientKeyShares decodes KeyShareEntry client_shares<0..2^16-1>. Two
// shares for one group are an illegal_parameter (RFC 8446 §4.2.8).
func ParseClientKeyShares(data []byte) ([]KeyShare, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
		return nil, decodeErr("key_share list")
	}
	var out []KeyShare
	seen := map[uint16]bool{}
	for !list.Empty() {
		k, err := readKeyShare(&list)
		if err != nil {
			return nil, err
		}
		if seen[k.Group] {
			return nil, illegal("two key shares for group %#04x", k.Group)
		}
		seen[k.Group] = true
		out = append(out, k)
	}
	return out, nil
}

// NewServerKeyShareExtension returns a ServerHello key_share extension.
func NewServerKeyShareExtension(k KeyShare) Extension {
	return Extension{ExtKeyShare, build(func(b *builder) { addKeyShare(b, k) })}
}

// ParseServerKeyShare decodes a ServerHello's KeyShareEntry server_share.
func ParseServerKeyShare(data []byte) (KeyShare, error) {
	s := cryptobyte.String(data)
	k, err := readKeyShare(&s)
	if err == nil && !s.Empty() {
		err = decodeErr("key_share trailing data")
	}
	return k, err
}

// NewHRRKeyShareExtension returns a HelloRetryRequest key_share extension
// naming the selected group.
func NewHRRKeyShareExtension(group uint16) Extension {
	return Extension{ExtKeyShare, []byte{byte(group >> 8), byte(group)}}
}

func parseUint16(data []byte, what string) (uint16, error) {
	if len(data) != 2 {
		return 0, decodeErr("%s length %d", what, len(data))
	}
	return uint16(data[0])<<8 | uint16(data[1]), nil
}

// ParseHRRKeyShare decodes a HelloRetryRequest's NamedGroup selected_group.
func ParseHRRKeyShare(data []byte) (uint16, error) { return parseUint16(data, "key_share") }

// --- supported_versions (RFC 8446 §4.2.1) ---

// NewClientSupportedVersionsExtension returns a ClientHello
// supported_versions extension.
func NewClientSupportedVersionsExtension(versions []uint16) Extension {
	return Extension{ExtSupportedVersions, build(func(b *builder) {
		b.AddUint8LengthPrefixed(func(b *builder) {
			for _, v := range versions {
				b.AddUint16(v)
			}
		})
	})}
}

// ParseClientSupportedVersions decodes ProtocolVersion versions<2..254>.
func ParseClientSupportedVersions(data []byte) ([]uint16, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&list) || !s.Empty() || list.Empty() || len(list)%2 != 0 {
		return nil, decodeErr("supported_versions list")
	}
	var out []uint16
	for !list.Empty() {
		var v uint16
		list.ReadUint16(&v)
		out = append(out, v)
	}
	return out, nil
}

// NewServerSupportedVersionsExtension returns a ServerHello or
// HelloRetryRequest supported_versions extension.
func NewServerSupportedVersionsExtension(v uint16) Extension {
	return Extension{ExtSupportedVersions, []byte{byte(v >> 8), byte(v)}}
}

// ParseServerSupportedVersion decodes ProtocolVersion selected_version.
func ParseServerSupportedVersion(data []byte) (uint16, error) {
	return parseUint16(data, "supported_versions")
}

// --- psk_key_exchange_modes (RFC 8446 §4.2.9) ---

// NewPSKModesExtension returns a psk_key_exchange_modes extension.
func NewPSKModesExtension(modes []uint8) Extension {
	return Extension{ExtPSKKeyExchangeModes, build(func(b *builder) {
		b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(modes) })
	})}
}

// ParsePSKModes decodes PskKeyExchangeMode ke_modes<1..255>.
func ParsePSKModes(data []byte) ([]uint8, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&list) || !s.Empty() || list.Empty() {
		return nil, decodeErr("psk_key_exchange_modes list")
	}
	return list, nil
}

// --- pre_shared_key (RFC 8446 §4.2.11) ---

// PSKIdentity is a PskIdentity.
type PSKIdentity struct {
	Identity            []byte // <1..2^16-1>
	ObfuscatedTicketAge uint32
}

// OfferedPSKs is the ClientHello's pre_shared_key extension.
type OfferedPSKs struct {
	Identities []PSKIdentity
	Binders    [][]byte // PskBinderEntry<32..255> each
}

// BindersLen returns the length of the encoded binders list, prefix
// included: what RFC 8446 §4.2.11.2 truncates from the ClientHello before
// hashing it for the binders.
func (o *OfferedPSKs) BindersLen() int {
	n := 2
	for _, b := range o.Binders {
		n += 1 + len(b)
	}
	return n
}

// NewPreSharedKeyExtension returns a ClientHello pre_shared_key extension.
// It must be the last extension of the ClientHello.
func NewPreSharedKeyExtension(o *OfferedPSKs) Extension {
	return Extension{ExtPreSharedKey, build(func(b *builder) {
		b.AddUint16LengthPrefixed(func(b *builder) {
			for _, id := range o.Identities {
				b.AddUint16LengthPrefixed(func(b *builder) { b.AddBytes(id.Identity) })
				b.AddUint32(id.ObfuscatedTicketAge)
			}
		})
		b.AddUint16LengthPrefixed(func(b *builder) {
			for _, bind := range o.Binders {
				b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(bind) })
			}
		})
	})}
}

// ParseOfferedPSKs decodes OfferedPsks: identities<7..2^16-1>,
// binders<33..2^16-1>, one binder per identity.
func ParseOfferedPSKs(data []byte) (*OfferedPSKs, error) {
	s := cryptobyte.String(data)
	var ids, binders cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&ids) || !s.ReadUint16LengthPrefixed(&binders) || !s.Empty() {
		return nil, decodeErr("pre_shared_key lengths")
	}
	if len(ids) < 7 || len(binders) < 33 {
		return nil, decodeErr("pre_shared_key lists too short")
	}
	o := &OfferedPSKs{}
	for !ids.Empty() {
		var id cryptobyte.String
		var age uint32
		if !ids.ReadUint16LengthPrefixed(&id) || id.Empty() || !ids.ReadUint32(&age) {
			return nil, decodeErr("pre_shared_key identity")
		}
		o.Identities = append(o.Identities, PSKIdentity{id, age})
	}
	for !binders.Empty() {
		var b cryptobyte.String
		if !binders.ReadUint8LengthPrefixed(&b) || len(b) < 32 {
			return nil, decodeErr("pre_shared_key binder")
		}
		o.Binders = append(o.Binders, b)
	}
	if len(o.Binders) != len(o.Identities) {
		return nil, illegal("%d PSK identities but %d binders", len(o.Identities), len(o.Binders))
	}
	return o, nil
}

// NewServerPreSharedKeyExtension returns a ServerHello pre_shared_key
// extension selecting identity i.
func NewServerPreSharedKeyExtension(i uint16) Extension {
	return Extension{ExtPreSharedKey, []byte{byte(i >> 8), byte(i)}}
}

// ParseSelectedIdentity decodes a ServerHello's uint16 selected_identity.
func ParseSelectedIdentity(data []byte) (uint16, error) {
	return parseUint16(data, "pre_shared_key")
}

// --- cookie (RFC 8446 §4.2.2) ---

// NewCookieExtension returns a cookie extension.
func NewCookieExtension(cookie []byte) Extension {
	return Extension{ExtCookie, build(func(b *builder) {
		b.AddUint16LengthPrefixed(func(b *builder) { b.AddBytes(cookie) })
	})}
}

// ParseCookie decodes opaque cookie<1..2^16-1>.
func ParseCookie(data []byte) ([]byte, error) {
	s := cryptobyte.String(data)
	var c cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&c) || !s.Empty() || c.Empty() {
		return nil, decodeErr("cookie")
	}
	return c, nil
}

// --- application_layer_protocol_negotiation (RFC 7301 §3.1) ---

// NewALPNExtension returns an ALPN extension; a server's names exactly one
// protocol.
func NewALPNExtension(protos []string) Extension {
	return Extension{ExtALPN, build(func(b *builder) {
		b.AddUint16LengthPrefixed(func(b *builder) {
			for _, p := range protos {
				b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes([]byte(p)) })
			}
		})
	})}
}

// ParseALPN decodes ProtocolNameList protocol_name_list<2..2^16-1> of
// ProtocolName<1..2^8-1>.
func ParseALPN(data []byte) ([]string, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() || list.Empty() {
		return nil, decodeErr("ALPN list")
	}
	var out []string
	for !list.Empty() {
		var p cryptobyte.String
		if !list.ReadUint8LengthPrefixed(&p) || p.Empty() {
			return nil, decodeErr("ALPN protocol name")
		}
		out = append(out, string(p))
	}
	return out, nil
}

// --- record_size_limit (RFC 8449 §4) ---

// MinRecordSizeLimit is the smallest record_size_limit allowed (RFC 8449
// §4).
const MinRecordSizeLimit = 64

// NewRecordSizeLimitExtension returns a record_size_limit extension.
func NewRecordSizeLimitExtension(limit uint16) Extension {
	return Extension{ExtRecordSizeLimit, []byte{byte(limit >> 8), byte(limit)}}
}

// ParseRecordSizeLimit decodes uint16 RecordSizeLimit; a value below 64 is
// an illegal_parameter (RFC 8449 §4).
func ParseRecordSizeLimit(data []byte) (uint16, error) {
	v, err := parseUint16(data, "record_size_limit")
	if err == nil && v < MinRecordSizeLimit {
		err = illegal("record_size_limit %d below %d", v, MinRecordSizeLimit)
	}
	return v, err
}

// --- client/server_certificate_type (RFC 7250 §3) ---

// NewCertTypesExtension returns a ClientHello client_certificate_type (or
// server_certificate_type when server is true) extension listing types.
func NewCertTypesExtension(types []uint8, server bool) Extension {
	t := ExtClientCertificateType
	if server {
		t = ExtServerCertificateType
	}
	return Extension{t, build(func(b *builder) {
		b.AddUint8LengthPrefixed(func(b *builder) { b.AddBytes(types) })
	})}
}

// ParseCertTypes decodes a ClientHello's CertificateType
// client_certificate_types<1..2^8-1> (or server_certificate_types). A list
// of X.509 alone is a decode_error too: RFC 7250 §4.1 says a client with
// no type but the default to offer MUST omit the extension.
func ParseCertTypes(data []byte) ([]uint8, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&list) || !s.Empty() || list.Empty() {
		return nil, decodeErr("certificate type list")
	}
	if len(list) == 1 && list[0] == CertTypeX509 {
		return nil, decodeErr("certificate type list of X.509 alone")
	}
	return list, nil
}

// NewSelectedCertTypeExtension returns an EncryptedExtensions
// client_certificate_type (or server_certificate_type) extension carrying the
// selected type.
func NewSelectedCertTypeExtension(typ uint8, server bool) Extension {
	t := ExtClientCertificateType
	if server {
		t = ExtServerCertificateType
	}
	return Extension{t, []byte{typ}}
}

// ParseSelectedCertType decodes an EncryptedExtensions' single
// CertificateType.
func ParseSelectedCertType(data []byte) (uint8, error) {
	if len(data) != 1 {
		return 0, decodeErr("certificate type length %d", len(data))
	}
	return data[0], nil
}

// --- early_data (RFC 8446 §4.2.10) ---

// ParseMaxEarlyData decodes a NewSessionTicket's uint32
// max_early_data_size.
func ParseMaxEarlyData(data []byte) (uint32, error) {
	if len(data) != 4 {
		return 0, decodeErr("early_data length %d", len(data))
	}
	return uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3]), nil
}

// --- extensions whose data must be empty ---

func requireEmpty(data []byte, what string) error {
	if len(data) != 0 {
		return decodeErr("%s extension not empty", what)
	}
	return nil
}

// ---------------------------------------------------------------------------
// certificate_authorities (RFC 8446 §4.2.4)

// ParseCertificateAuthorities decodes certificate_authorities:
// DistinguishedName authorities<3..2^16-1>, each an
// opaque DistinguishedName<1..2^16-1> holding a DER X.501 Name. An empty
// list, an empty or non-SEQUENCE name, or trailing octets are decode_error.
// The names are returned as they came, DER, comparable with
// x509.Certificate.RawIssuer and RawSubject.
func ParseCertificateAuthorities(data []byte) ([][]byte, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() || len(list) < 3 {
		return nil, decodeErr("certificate_authorities list")
	}
	var names [][]byte
	for !list.Empty() {
		var dn cryptobyte.String
		if !list.ReadUint16LengthPrefixed(&dn) || len(dn) == 0 {
			return nil, decodeErr("certificate_authorities name")
		}
		der := []byte(dn)
		var seq cryptobyte.String
		if !dn.ReadASN1(&seq, asn1.SEQUENCE) || !dn.Empty() {
			return nil, decodeErr("certificate_authorities name is not a DER Name")
		}
		names = append(names, der)
	}
	return names, nil
}

// NewCertificateAuthoritiesExtension encodes certificate_authorities from
// DER distinguished names (at least one).
func NewCertificateAuthoritiesExtension(names [][]byte) Extension {
	return Extension{Type: ExtCertificateAuthorities, Data: build(func(b *builder) {
		b.AddUint16LengthPrefixed(func(b *builder) {
			for _, n := range names {
				b.AddUint16LengthPrefixed(func(b *builder) { b.AddBytes(n) })
			}
		})
	})}
}
