package ldapauth

import (
	"errors"
	"fmt"
	"io"
)

// BER as LDAP uses it (RFC 4511 §5.1): definite lengths only, one-octet
// tags (every LDAP tag number is below 31), no constructed strings. The
// reader is strict where LDAP allows it to be and lenient only where real
// clients need it: OpenLDAP's liblber writes lengths in the long form with
// more octets than needed, so a long form need not be minimal.

// BER identifier octets (X.690 §8.1.2): class in the top two bits, the
// constructed flag, then the tag number.
const (
	classUniversal   = 0x00
	classApplication = 0x40
	classContext     = 0x80
	classMask        = 0xC0
	constructed      = 0x20
	tagNumberMask    = 0x1F
)

// Universal tags (X.690 §8).
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0A
	tagSequence    = 0x30 // SEQUENCE, constructed
	tagSet         = 0x31 // SET, constructed
)

// maxDepth bounds the nesting of elements a message may have; filters
// are the only deep part, and real ones are a few levels deep.
const maxDepth = 32

// ErrProtocol is wrapped by every decoding error: the peer sent something
// that is not an LDAP message (RFC 4511 §4.1.1: protocolError).
var ErrProtocol = errors.New("ldap: protocol error")

// protoErr returns a decoding error wrapping ErrProtocol.
func protoErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, a...))
}

// element is one BER TLV: its identifier octet and its contents.
type element struct {
	tag     byte
	content []byte
}

func (e element) constructed() bool { return e.tag&constructed != 0 }

// readElement splits the first element off b.
func readElement(b []byte) (element, []byte, error) {
	if len(b) < 2 {
		return element{}, nil, protoErr("truncated element")
	}
	tag := b[0]
	if tag&tagNumberMask == tagNumberMask {
		return element{}, nil, protoErr("high tag number form (identifier 0x%02x)", tag)
	}
	n, hdr, err := parseLength(b[1:])
	if err != nil {
		return element{}, nil, err
	}
	rest := b[1+hdr:]
	if uint64(n) > uint64(len(rest)) {
		return element{}, nil, protoErr("element of %d octets, %d left", n, len(rest))
	}
	return element{tag: tag, content: rest[:n]}, rest[n:], nil
}

// parseLength reads a definite length (X.690 §8.1.3) at the start of b and
// returns it and the octets it took. Lengths beyond 2^31-1 are refused.
func parseLength(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, protoErr("truncated length")
	}
	first := b[0]
	if first < 0x80 {
		return int(first), 1, nil
	}
	k := int(first & 0x7F)
	switch {
	case k == 0:
		// RFC 4511 §5.1: only the definite form of length encoding.
		return 0, 0, protoErr("indefinite length")
	case k > 4:
		return 0, 0, protoErr("length of %d octets", k)
	case len(b) < 1+k:
		return 0, 0, protoErr("truncated length")
	}
	var n uint64
	for _, c := range b[1 : 1+k] {
		n = n<<8 | uint64(c)
	}
	if n > 1<<31-1 {
		return 0, 0, protoErr("length %d", n)
	}
	return int(n), 1 + k, nil
}

// readMessage reads one LDAPMessage's whole encoding from r: its
// identifier, its length and its contents, without reading beyond it (so
// that a TLS handshake can follow a StartTLS request on the same
// connection). A length over max is refused before anything more is read.
func readMessage(r io.Reader, max int) ([]byte, error) {
	var hdr [6]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return nil, err
	}
	if hdr[0] != tagSequence {
		return nil, protoErr("message starts with 0x%02x, not a SEQUENCE", hdr[0])
	}
	h := 2
	// A long-form length of 1 to 4 octets is read whole; any other form
	// parseLength refuses from its first octet.
	if k := int(hdr[1] & 0x7F); hdr[1] >= 0x80 && k >= 1 && k <= 4 {
		if _, err := io.ReadFull(r, hdr[2:2+k]); err != nil {
			return nil, noEOF(err)
		}
		h += k
	}
	n, _, err := parseLength(hdr[1:h])
	if err != nil {
		return nil, err
	}
	if n > max-h {
		return nil, &TooLargeError{Size: h + n, Max: max}
	}
	buf := make([]byte, h+n)
	copy(buf, hdr[:h])
	if _, err := io.ReadFull(r, buf[h:]); err != nil {
		return nil, noEOF(err)
	}
	return buf, nil
}

// TooLargeError is the error of a message whose length is over the limit;
// it wraps ErrProtocol.
type TooLargeError struct{ Size, Max int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("ldap: message of %d octets, at most %d accepted", e.Size, e.Max)
}

func (e *TooLargeError) Unwrap() error { return ErrProtocol }

// noEOF turns an end of stream inside a message into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// children splits the contents of a constructed element into its
// elements.
func (e element) children() ([]element, error) {
	if !e.constructed() {
		return nil, protoErr("element 0x%02x is not constructed", e.tag)
	}
	var out []element
	b := e.content
	for len(b) > 0 {
		c, rest, err := readElement(b)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		b = rest
	}
	return out, nil
}

// expect checks the identifier octet of e.
func (e element) expect(tag byte, what string) error {
	if e.tag != tag {
		return protoErr("%s: identifier 0x%02x, want 0x%02x", what, e.tag, tag)
	}
	return nil
}

// integer reads an INTEGER or ENUMERATED content that fits in an int32.
func (e element) integer(what string) (int64, error) {
	c := e.content
	if len(c) == 0 || len(c) > 5 {
		return 0, protoErr("%s: integer of %d octets", what, len(c))
	}
	var v int64
	if c[0]&0x80 != 0 {
		v = -1
	}
	for _, b := range c {
		v = v<<8 | int64(b)
	}
	if v < -1<<31 || v > 1<<31-1 {
		return 0, protoErr("%s: integer %d out of range", what, v)
	}
	return v, nil
}

// boolean reads a BOOLEAN content (X.690 §8.2: one octet, non-zero is
// TRUE).
func (e element) boolean(what string) (bool, error) {
	if len(e.content) != 1 {
		return false, protoErr("%s: boolean of %d octets", what, len(e.content))
	}
	return e.content[0] != 0, nil
}

// Encoding. Messages the server writes are built bottom-up with these.

// tlv encodes one element with a minimal length.
func tlv(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n+6)
	out = append(out, tag)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xFF:
		out = append(out, 0x81, byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x82, byte(n>>8), byte(n))
	case n <= 0xFFFFFF:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// encInt encodes an INTEGER or ENUMERATED (tag) in the fewest octets.
func encInt(tag byte, v int64) []byte {
	n := 1
	for x := v; x > 127 || x < -128; x >>= 8 {
		n++
	}
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return tlv(tag, b)
}

func encString(tag byte, s string) []byte { return tlv(tag, []byte(s)) }
