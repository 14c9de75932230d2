package signer

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/miekg/dns"
)

// ErrWireUnsupported is returned by SignWire for a key algorithm it does
// not sign itself; Sign does.
var ErrWireUnsupported = errors.New("signer: algorithm not signed from wire form")

// ecdsaP256Octets is the length of r and of s in a DNSSEC ECDSA P-256
// signature (RFC 6605 §4: r and s, each 32 octets, concatenated).
const ecdsaP256Octets = 32

// SignWire is Sign over an RRset given in wire form, without dns.RR
// values: owner is the owner name in canonical wire form (lower case,
// uncompressed, RFC 4034 §6.2), t the type, ttl the RRset's TTL and
// rdatas the RDATA of each record, which must already be canonical (true
// of every type whose RDATA holds no domain name: TLSA, SMIMEA,
// OPENPGPKEY, SSHFP, NSEC3, DNSKEY, DS, A, AAAA). It returns the RRSIG
// records, one per key KeysFor(t) returns, each packed as TYPE CLASS TTL
// RDLENGTH RDATA without its owner, and their count. The signatures are
// the ones Sign makes (same fields; ECDSA signatures differ each time);
// TestSignWireMatchesSign holds it to that. Keys of algorithms other than
// ECDSA P-256 and Ed25519 make it return ErrWireUnsupported.
func (s *Signer) SignWire(owner []byte, t uint16, ttl uint32, rdatas [][]byte) ([]byte, int, error) {
	if len(rdatas) == 0 {
		return nil, 0, errors.New("signer: empty RRset")
	}
	ks := s.KeysFor(t)
	if len(ks) == 0 {
		return nil, 0, ErrNoKey
	}
	for _, k := range ks {
		if a := k.DNSKEY.Algorithm; a != dns.ECDSAP256SHA256 && a != dns.ED25519 {
			return nil, 0, ErrWireUnsupported
		}
	}
	labels, ok := wireLabels(owner)
	if !ok {
		return nil, 0, fmt.Errorf("signer: malformed owner name %x", owner)
	}
	signerName, err := s.signerWire()
	if err != nil {
		return nil, 0, err
	}
	// RFC 4034 §6.3: records in canonical order, their RDATA compared as
	// left-justified octet strings. One record (every NSEC3 record, most
	// identities) is in order already.
	sorted := rdatas
	if len(rdatas) > 1 {
		sorted = slices.Clone(rdatas)
		slices.SortFunc(sorted, bytes.Compare)
		sorted = slices.CompactFunc(sorted, bytes.Equal)
	}
	now := s.now()
	validity, _ := s.validityFor(t)
	incep := uint32(now.Add(-inceptionSkew).Unix())
	exp := uint32(now.Add(validity).Unix())
	// Each RRSIG: header (10), fixed RDATA (18 and the signer's name),
	// signature (64 with ECDSA P-256 and Ed25519).
	out := make([]byte, 0, len(ks)*(10+rrsigFixedLen+len(signerName)+2*ecdsaP256Octets))
	bp := signedDataPool.Get().(*[]byte)
	defer signedDataPool.Put(bp)
	for _, k := range ks {
		// The RRSIG record up to the signature (RFC 4034 §3.1), its
		// RDLENGTH filled in below.
		start := len(out)
		out = binary.BigEndian.AppendUint16(out, dns.TypeRRSIG)
		out = binary.BigEndian.AppendUint16(out, dns.ClassINET)
		out = binary.BigEndian.AppendUint32(out, ttl)
		out = append(out, 0, 0)
		out = binary.BigEndian.AppendUint16(out, t)
		out = append(out, k.DNSKEY.Algorithm, labels)
		out = binary.BigEndian.AppendUint32(out, ttl)
		out = binary.BigEndian.AppendUint32(out, exp)
		out = binary.BigEndian.AppendUint32(out, incep)
		out = binary.BigEndian.AppendUint16(out, k.Tag())
		out = append(out, signerName...)
		fixed := out[start+10:]
		// The signed data (RFC 4034 §3.1.8.1): that, then every record.
		data := append((*bp)[:0], fixed...)
		for _, rd := range sorted {
			data = append(data, owner...)
			data = binary.BigEndian.AppendUint16(data, t)
			data = binary.BigEndian.AppendUint16(data, dns.ClassINET)
			data = binary.BigEndian.AppendUint32(data, ttl)
			data = binary.BigEndian.AppendUint16(data, uint16(len(rd)))
			data = append(data, rd...)
		}
		*bp = data
		switch k.DNSKEY.Algorithm {
		case dns.ECDSAP256SHA256:
			h := sha256.Sum256(data)
			der, err := k.Signer.Sign(rand.Reader, h[:], crypto.SHA256)
			if err != nil {
				return nil, 0, fmt.Errorf("signer: sign: %w", err)
			}
			if out, err = appendECDSARaw(out, der); err != nil {
				return nil, 0, err
			}
		case dns.ED25519:
			sig, err := k.Signer.Sign(rand.Reader, data, crypto.Hash(0))
			if err != nil {
				return nil, 0, fmt.Errorf("signer: sign: %w", err)
			}
			out = append(out, sig...)
		}
		rdlen := len(out) - start - 10
		if rdlen > 0xffff {
			return nil, 0, errors.New("signer: RRSIG too long")
		}
		binary.BigEndian.PutUint16(out[start+8:], uint16(rdlen))
	}
	if s.Made != nil {
		s.Made.Add(int64(len(ks)))
	}
	return out, len(ks), nil
}

// rrsigFixedLen is the length of an RRSIG's RDATA before the signer's
// name (RFC 4034 §3.1: type covered, algorithm, labels, original TTL,
// expiration, inception, key tag).
const rrsigFixedLen = 18

// signedDataPool holds the buffers SignWire assembles the signed data in,
// so that signing a million RRsets does not allocate a million of them.
var signedDataPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// signerWire returns the signer's name in canonical wire form, packed
// once.
func (s *Signer) signerWire() ([]byte, error) {
	s.wireOnce.Do(func() {
		var sb [256]byte
		n, err := dns.PackDomainName(dns.CanonicalName(s.Zone), sb[:], 0, nil, false)
		s.wireName, s.wireErr = slices.Clone(sb[:n]), err
	})
	return s.wireName, s.wireErr
}

// appendECDSARaw appends to dst the ECDSA signature der, an ASN.1
// SEQUENCE of the INTEGERs r and s as crypto/ecdsa returns it, in the
// form DNSSEC uses (RFC 6605 §4): r and s as 32-octet big-endian
// numbers, concatenated.
func appendECDSARaw(dst, der []byte) ([]byte, error) {
	bad := func() ([]byte, error) {
		return dst, fmt.Errorf("signer: ECDSA signature %x is not a DER SEQUENCE of two INTEGERs", der)
	}
	// A P-256 signature is at most 72 octets: every length is in one
	// octet (X.690 §8.1.3.4, short form).
	if len(der) < 2 || der[0] != 0x30 || der[1] >= 0x80 || int(der[1]) != len(der)-2 {
		return bad()
	}
	rest := der[2:]
	for range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || rest[1] >= 0x80 || int(rest[1]) > len(rest)-2 || rest[1] == 0 {
			return bad()
		}
		v := rest[2 : 2+rest[1]]
		rest = rest[2+rest[1]:]
		if v[0]&0x80 != 0 {
			return bad() // negative
		}
		// A leading zero octet only keeps the sign positive.
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > ecdsaP256Octets {
			return bad()
		}
		for range ecdsaP256Octets - len(v) {
			dst = append(dst, 0)
		}
		dst = append(dst, v...)
	}
	if len(rest) != 0 {
		return bad()
	}
	return dst, nil
}

// wireLabels counts the labels of a wire-form name for the RRSIG Labels
// field (RFC 4034 §3.1.3): the root not counted, nor a leading "*".
func wireLabels(name []byte) (uint8, bool) {
	n := 0
	for off := 0; off < len(name); {
		l := int(name[off])
		if l == 0 {
			if off+1 != len(name) {
				return 0, false
			}
			if n > 0 && name[0] == 1 && name[1] == '*' {
				n--
			}
			return uint8(n), true
		}
		if l > 63 || off+1+l > len(name) {
			return 0, false
		}
		n++
		off += 1 + l
	}
	return 0, false
}
