// Package record is the TLS 1.3 record layer (RFC 8446 §5): record framing,
// AEAD protection with per-record nonces, the TLSInnerPlaintext content type
// and padding, the size limits of RFC 8446 §5.1-5.2 and RFC 8449, and the
// sequence number rules of §5.3. Every refusal is an *alert.Error naming the
// alert RFC 8446 prescribes.
//
// A Conn reads and writes records on a stream; a Cipher protects one
// direction's records under one traffic secret.
package record

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/keysched"
)

// ContentType is the type of a record (RFC 8446 §5.1).
type ContentType uint8

// Content types (RFC 8446 §5.1).
const (
	TypeInvalid          ContentType = 0
	TypeChangeCipherSpec ContentType = 20
	TypeAlert            ContentType = 21
	TypeHandshake        ContentType = 22
	TypeApplicationData  ContentType = 23
)

func (t ContentType) String() string {
	switch t {
	case TypeInvalid:
		return "invalid"
	case TypeChangeCipherSpec:
		return "change_cipher_spec"
	case TypeAlert:
		return "alert"
	case TypeHandshake:
		return "handshake"
	case TypeApplicationData:
		return "application_data"
	}
	return fmt.Sprintf("content_type(%d)", uint8(t))
}

// Sizes (RFC 8446 §5.1, §5.2).
const (
	HeaderLen = 5 // type, legacy_record_version, length

	// MaxPlaintext is the largest TLSPlaintext.fragment: 2^14.
	MaxPlaintext = 1 << 14
	// MaxInnerPlaintext is the largest TLSInnerPlaintext (content, type
	// and padding): 2^14 + 1, also the largest record_size_limit TLS 1.3
	// allows (RFC 8449 §4).
	MaxInnerPlaintext = MaxPlaintext + 1
	// MaxCiphertext is the largest TLSCiphertext.encrypted_record:
	// 2^14 + 256.
	MaxCiphertext = MaxPlaintext + 256
	// MinRecordSizeLimit is the smallest record_size_limit a peer may
	// send (RFC 8449 §4); a smaller one is an illegal_parameter.
	MinRecordSizeLimit = 64

	// LegacyVersion is legacy_record_version of every record but the
	// first ClientHello (RFC 8446 §5.1).
	LegacyVersion = 0x0303
	// LegacyVersionClientHello may be the version of the record
	// carrying the first ClientHello (RFC 8446 §5.1).
	LegacyVersionClientHello = 0x0301
)

// Cipher suite identifiers (RFC 8446 §B.4).
const (
	TLS_AES_128_GCM_SHA256       uint16 = 0x1301
	TLS_AES_256_GCM_SHA384       uint16 = 0x1302
	TLS_CHACHA20_POLY1305_SHA256 uint16 = 0x1303
)

// Suite is a TLS 1.3 cipher suite: an AEAD and the hash of its key schedule.
type Suite struct {
	ID     uint16
	Name   string
	Hash   crypto.Hash
	KeyLen int
	// MaxRecords is how many records one key may protect before a
	// KeyUpdate is due (RFC 8446 §5.5: 2^24.5 full-size records for
	// AES-GCM; we rekey at 2^24). Zero means no practical limit
	// (ChaCha20-Poly1305: more than 2^64).
	MaxRecords uint64
	newAEAD    func(key []byte) (cipher.AEAD, error)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

var suites = []*Suite{
	{ID: TLS_AES_128_GCM_SHA256, Name: "TLS_AES_128_GCM_SHA256", Hash: crypto.SHA256, KeyLen: 16, MaxRecords: 1 << 24, newAEAD: newGCM},
	{ID: TLS_AES_256_GCM_SHA384, Name: "TLS_AES_256_GCM_SHA384", Hash: crypto.SHA384, KeyLen: 32, MaxRecords: 1 << 24, newAEAD: newGCM},
	{ID: TLS_CHACHA20_POLY1305_SHA256, Name: "TLS_CHACHA20_POLY1305_SHA256", Hash: crypto.SHA256, KeyLen: chacha20poly1305.KeySize, newAEAD: chacha20poly1305.New},
}

// SuiteByID returns the suite with the given identifier, or nil.
func SuiteByID(id uint16) *Suite {
	for _, s := range suites {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Suites returns the cipher suites in scope, in our order of preference.
func Suites() []*Suite {
	return append([]*Suite(nil), suites...)
}

// Cipher protects the records of one direction under one traffic secret.
// The sequence number starts at 0 and counts every record sealed or opened
// (RFC 8446 §5.3); a new traffic secret (after a KeyUpdate, or a change of
// epoch) means a new Cipher.
type Cipher struct {
	suite     *Suite
	aead      cipher.AEAD
	iv        [keysched.IVLength]byte
	seq       uint64
	exhausted bool // the sequence number would wrap
	nonceBuf  [keysched.IVLength]byte
	headerBuf [HeaderLen]byte // Seal's additional data, kept here so it does not escape per record
}

// NewCipher derives the key and IV of trafficSecret (RFC 8446 §7.3) for the
// suite.
func NewCipher(s *Suite, trafficSecret []byte) *Cipher {
	key, iv := keysched.TrafficKeys(s.Hash, trafficSecret, s.KeyLen)
	defer clear(key)
	return newCipherKeyIV(s, key, iv)
}

func newCipherKeyIV(s *Suite, key, iv []byte) *Cipher {
	aead, err := s.newAEAD(key)
	if err != nil {
		// Key lengths come from the suite table.
		panic("record: " + err.Error())
	}
	c := &Cipher{suite: s, aead: aead}
	copy(c.iv[:], iv)
	return c
}

// Suite returns the cipher's suite.
func (c *Cipher) Suite() *Suite { return c.suite }

// Seq returns the sequence number of the next record.
func (c *Cipher) Seq() uint64 { return c.seq }

// NeedsRekey reports whether the key has protected as many records as its
// suite allows (RFC 8446 §5.5); the sender must then send a KeyUpdate.
func (c *Cipher) NeedsRekey() bool {
	return c.suite.MaxRecords != 0 && c.seq >= c.suite.MaxRecords
}

// nonce is the per-record nonce of RFC 8446 §5.3: the 64-bit sequence
// number, big-endian, left-padded with zeros to iv_length, XORed with the IV.
func (c *Cipher) nonce() []byte {
	n := &c.nonceBuf
	*n = c.iv
	for i := 0; i < 8; i++ {
		n[keysched.IVLength-1-i] ^= byte(c.seq >> (8 * i))
	}
	return n[:]
}

// ErrSeqExhausted is returned once 2^64 records have used one key: RFC 8446
// §5.3 forbids wrapping the sequence number.
var ErrSeqExhausted = alert.Errorf(alert.InternalError, "record sequence number exhausted")

func (c *Cipher) step() error {
	if c.exhausted {
		return ErrSeqExhausted
	}
	if c.seq == ^uint64(0) {
		c.exhausted = true
	} else {
		c.seq++
	}
	return nil
}

// Seal appends to dst one complete protected record (header and
// TLSCiphertext.encrypted_record) carrying content of type typ followed by
// padding zero bytes (RFC 8446 §5.2, §5.4). The TLSInnerPlaintext,
// len(content)+1+padding, must not exceed limit (MaxInnerPlaintext, or the
// peer's record_size_limit); a caller that exceeds it has a bug and gets an
// internal_error.
func (c *Cipher) Seal(dst []byte, typ ContentType, content []byte, padding, limit int) ([]byte, error) {
	inner := len(content) + 1 + padding
	if padding < 0 || limit > MaxInnerPlaintext || inner > limit {
		return dst, alert.Errorf(alert.InternalError, "record of %d octets over the limit of %d", inner, limit)
	}
	if c.exhausted {
		return dst, ErrSeqExhausted
	}
	n := inner + c.aead.Overhead()
	header := c.headerBuf[:]
	header[0], header[1], header[2], header[3], header[4] = byte(TypeApplicationData), LegacyVersion>>8, LegacyVersion&0xff, byte(n>>8), byte(n)
	dst = append(dst, header...)
	plain := len(dst)
	dst = append(dst, content...)
	dst = append(dst, byte(typ))
	for range padding {
		dst = append(dst, 0)
	}
	// Sealing dst[plain:] onto dst[:plain] reuses the plaintext's storage,
	// the one overlap cipher.AEAD allows.
	dst = c.aead.Seal(dst[:plain], c.nonce(), dst[plain:], header)
	return dst, c.step()
}

// Open decrypts one protected record (header and encrypted_record, as
// framed by ReadRecord) in place and returns its real content type and
// content with the padding removed (RFC 8446 §5.2, §5.4). limit is the
// largest TLSInnerPlaintext accepted: MaxInnerPlaintext, or the
// record_size_limit we advertised (RFC 8449 §4).
//
// Errors: bad_record_mac when the record does not authenticate,
// record_overflow when it is too large, unexpected_message when the inner
// plaintext has no non-zero content type.
func (c *Cipher) Open(record []byte, limit int) (ContentType, []byte, error) {
	if len(record) < HeaderLen {
		return 0, nil, alert.Errorf(alert.DecodeError, "record shorter than its header")
	}
	header, body := record[:HeaderLen], record[HeaderLen:]
	if int(header[3])<<8|int(header[4]) != len(body) {
		return 0, nil, alert.Errorf(alert.DecodeError, "record length does not match its header")
	}
	if ContentType(header[0]) != TypeApplicationData {
		return 0, nil, alert.Errorf(alert.UnexpectedMessage, "protected record with outer type %v", ContentType(header[0]))
	}
	if len(body) > MaxCiphertext || len(body) > limit+256 {
		// RFC 8446 §5.2: more than 2^14+256 octets is a record_overflow;
		// RFC 8449 §4 allows the same for records larger than the
		// advertised limit plus the expansion.
		return 0, nil, alert.Errorf(alert.RecordOverflow, "protected record of %d octets", len(body))
	}
	if c.exhausted {
		return 0, nil, ErrSeqExhausted
	}
	if len(body) < c.aead.Overhead() {
		return 0, nil, alert.Errorf(alert.BadRecordMAC, "record shorter than the AEAD tag")
	}
	plain, err := c.aead.Open(body[:0], c.nonce(), body, header)
	if err != nil {
		return 0, nil, alert.Errorf(alert.BadRecordMAC, "record does not authenticate")
	}
	if err := c.step(); err != nil {
		return 0, nil, err
	}
	if len(plain) > limit {
		return 0, nil, alert.Errorf(alert.RecordOverflow, "inner plaintext of %d octets over the limit of %d", len(plain), limit)
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		// RFC 8446 §5.4: all-zero plaintext has no content type.
		return 0, nil, alert.Errorf(alert.UnexpectedMessage, "protected record without a content type")
	}
	return ContentType(plain[i]), plain[:i], nil
}
