package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
)

// Signature opens every version 2 header (spec §2.2): it cannot be mistaken
// for the start of HTTP, TLS, SSH or a version 1 header.
var Signature = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// Version and command nibbles of the 13th byte (spec §2.2).
const (
	version2     = 0x20
	cmdLocal     = 0x00
	cmdProxy     = 0x01
	famUnspec    = 0x00
	famInet      = 0x10
	famInet6     = 0x20
	protoUnspec  = 0x00
	protoStream  = 0x01
	inetAddrLen  = 12 // 4+4+2+2
	inet6AddrLen = 36 // 16+16+2+2
	fixedLen     = 16 // signature, ver_cmd, fam, len
)

// TLV types (spec §2.2.1 to §2.2.7).
const (
	TypeALPN      = 0x01
	TypeAuthority = 0x02
	TypeCRC32C    = 0x03
	TypeNoop      = 0x04
	TypeUniqueID  = 0x05
	TypeSSL       = 0x20
	// TypeMinCustom and TypeMaxCustom bound the range the spec reserves for
	// application-specific data (§2.2.8); the proxy's identity TLV is in it.
	TypeMinCustom = 0xE0
	TypeMaxCustom = 0xEF
)

// Sub-types inside a TypeSSL TLV (spec §2.2.5).
const (
	SubtypeSSLVersion = 0x21
	SubtypeSSLCN      = 0x22
	SubtypeSSLCipher  = 0x23
	SubtypeSSLSigAlg  = 0x24
	SubtypeSSLKeyAlg  = 0x25
)

// Bits of the client field of a TypeSSL TLV (spec §2.2.5).
const (
	ClientSSL      = 0x01
	ClientCertConn = 0x02
	ClientCertSess = 0x04
)

// MaxHeaderLen is the largest header: the length field is 16 bits.
const MaxHeaderLen = fixedLen + 0xFFFF

// TLV is one type-length-value entry after the addresses.
type TLV struct {
	Type  byte
	Value []byte
}

// Header is a version 2 header. A Header with Local set (the LOCAL command)
// carries no addresses: the connection is the proxy's own, e.g. a health
// check. Otherwise Source and Destination are the client's address and the
// address the client connected to; both must be valid and of one family
// (IPv4-mapped IPv6 addresses count as IPv4).
type Header struct {
	Local       bool
	Source      netip.AddrPort
	Destination netip.AddrPort
	TLVs        []TLV
}

// SSL builds the value of a TypeSSL TLV (spec §2.2.5): client is a
// combination of ClientSSL, ClientCertConn and ClientCertSess, verified
// says whether the client certificate was verified (the field is 0 then),
// and sub holds sub-TLVs such as SubtypeSSLVersion.
func SSL(client byte, verified bool, sub ...TLV) []byte {
	b := []byte{client, 0, 0, 0, 1}
	if verified {
		b[4] = 0
	}
	for _, t := range sub {
		b = appendTLV(b, t)
	}
	return b
}

// FormatError says why a header cannot be written or was not accepted.
type FormatError struct{ Reason string }

func (e *FormatError) Error() string { return "proxy protocol v2: " + e.Reason }

// ErrNoHeader is returned by Read when the stream does not start with the
// version 2 signature.
var ErrNoHeader = errors.New("proxy protocol v2: no header signature")

// Marshal encodes h. With crc set, a TypeCRC32C TLV is appended whose value
// is the CRC-32c of the whole header (spec §2.2.3), so the receiver can
// detect corruption.
func (h *Header) Marshal(crc bool) ([]byte, error) {
	b := make([]byte, fixedLen, 64)
	copy(b, Signature[:])
	if h.Local {
		b[12] = version2 | cmdLocal
		b[13] = famUnspec | protoUnspec
	} else {
		src, dst := h.Source.Addr().Unmap(), h.Destination.Addr().Unmap()
		if !src.IsValid() || !dst.IsValid() {
			return nil, &FormatError{"a PROXY header needs both addresses"}
		}
		b[12] = version2 | cmdProxy
		switch {
		case src.Is4() && dst.Is4():
			b[13] = famInet | protoStream
			s, d := src.As4(), dst.As4()
			b = append(b, s[:]...)
			b = append(b, d[:]...)
		case src.Is6() && dst.Is6():
			b[13] = famInet6 | protoStream
			s, d := src.As16(), dst.As16()
			b = append(b, s[:]...)
			b = append(b, d[:]...)
		default:
			// One side IPv4, the other IPv6: say both in IPv6, the IPv4 one
			// mapped, rather than lose the addresses.
			b[13] = famInet6 | protoStream
			s, d := src.As16(), dst.As16()
			b = append(b, s[:]...)
			b = append(b, d[:]...)
		}
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	}
	for _, t := range h.TLVs {
		if len(t.Value) > 0xFFFF {
			return nil, &FormatError{fmt.Sprintf("TLV 0x%02x is %d bytes long, more than 65535", t.Type, len(t.Value))}
		}
		if t.Type == TypeCRC32C && crc {
			return nil, &FormatError{"CRC32C TLV given and asked for"}
		}
		b = appendTLV(b, t)
	}
	crcAt := 0
	if crc {
		b = appendTLV(b, TLV{Type: TypeCRC32C, Value: make([]byte, 4)})
		crcAt = len(b) - 4
	}
	n := len(b) - fixedLen
	if n > 0xFFFF {
		return nil, &FormatError{fmt.Sprintf("header is %d bytes long after the fixed part, more than 65535", n)}
	}
	binary.BigEndian.PutUint16(b[14:16], uint16(n))
	if crc {
		binary.BigEndian.PutUint32(b[crcAt:], crc32.Checksum(b, castagnoli))
	}
	return b, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendTLV(b []byte, t TLV) []byte {
	b = append(b, t.Type)
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
	return append(b, t.Value...)
}

// TLV returns the value of the first TLV of type typ, and whether there is one.
func (h *Header) TLV(typ byte) ([]byte, bool) {
	for _, t := range h.TLVs {
		if t.Type == typ {
			return t.Value, true
		}
	}
	return nil, false
}

// Read reads one version 2 header from r and nothing after it. It returns
// ErrNoHeader if the first 12 bytes are not the signature, and a
// *FormatError for a malformed header: an unknown version or command, an
// address block shorter than its family needs, a truncated TLV, or a CRC32C
// TLV that does not match. Address families other than TCP over IPv4 and
// IPv6 are accepted with their addresses ignored, as the spec says a
// receiver must (§2.2).
func Read(r *bufio.Reader) (*Header, error) {
	fixed, err := r.Peek(fixedLen)
	m := min(len(fixed), len(Signature))
	if !bytes.Equal(fixed[:m], Signature[:m]) {
		return nil, ErrNoHeader
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(fixed) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(fixed[14:16]))
	buf := make([]byte, fixedLen+n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return Parse(buf)
}

// Parse decodes a whole header held in b (exactly one header, nothing
// after it). See Read for what is refused.
func Parse(b []byte) (*Header, error) {
	if len(b) < fixedLen || !bytes.Equal(b[:len(Signature)], Signature[:]) {
		return nil, ErrNoHeader
	}
	if b[12]&0xF0 != version2 {
		return nil, &FormatError{fmt.Sprintf("version %d, want 2", b[12]>>4)}
	}
	n := int(binary.BigEndian.Uint16(b[14:16]))
	if len(b) != fixedLen+n {
		return nil, &FormatError{fmt.Sprintf("length field says %d bytes, have %d", n, len(b)-fixedLen)}
	}
	h := &Header{}
	rest := b[fixedLen:]
	switch b[12] & 0x0F {
	case cmdLocal:
		h.Local = true
	case cmdProxy:
	default:
		return nil, &FormatError{fmt.Sprintf("unknown command 0x%x", b[12]&0x0F)}
	}
	var addrLen int
	switch b[13] & 0xF0 {
	case famInet:
		addrLen = inetAddrLen
	case famInet6:
		addrLen = inet6AddrLen
	case famUnspec:
	default:
		// AF_UNIX (216 bytes of addresses) and unknown families: skip the
		// whole block; the receiver cannot use them for a TCP peer.
		addrLen = -1
	}
	if addrLen > len(rest) {
		return nil, &FormatError{fmt.Sprintf("address block needs %d bytes, have %d", addrLen, len(rest))}
	}
	if addrLen == -1 {
		// Unknown family: no TLVs can be located either.
		return h, nil
	}
	if !h.Local && addrLen > 0 && b[13]&0x0F == protoStream {
		a := rest[:addrLen]
		half := (addrLen - 4) / 2
		src, _ := netip.AddrFromSlice(a[:half])
		dst, _ := netip.AddrFromSlice(a[half : 2*half])
		h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(a[2*half:]))
		h.Destination = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(a[2*half+2:]))
	}
	tlvs := rest[addrLen:]
	for off := 0; off < len(tlvs); {
		if len(tlvs)-off < 3 {
			return nil, &FormatError{"truncated TLV header"}
		}
		typ := tlvs[off]
		l := int(binary.BigEndian.Uint16(tlvs[off+1 : off+3]))
		if len(tlvs)-off-3 < l {
			return nil, &FormatError{fmt.Sprintf("TLV 0x%02x says %d bytes, have %d", typ, l, len(tlvs)-off-3)}
		}
		v := tlvs[off+3 : off+3+l]
		if typ == TypeCRC32C {
			if l != 4 {
				return nil, &FormatError{fmt.Sprintf("CRC32C TLV of %d bytes, want 4", l)}
			}
			want := binary.BigEndian.Uint32(v)
			c := bytes.Clone(b)
			clear(c[fixedLen+addrLen+off+3 : fixedLen+addrLen+off+7])
			if got := crc32.Checksum(c, castagnoli); got != want {
				return nil, &FormatError{fmt.Sprintf("CRC32C 0x%08x does not match the header's 0x%08x", want, got)}
			}
		}
		h.TLVs = append(h.TLVs, TLV{Type: typ, Value: bytes.Clone(v)})
		off += 3 + l
	}
	return h, nil
}
