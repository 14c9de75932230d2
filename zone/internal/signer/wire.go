package signer

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"

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
	var sb [256]byte
	n, err := dns.PackDomainName(dns.CanonicalName(s.Zone), sb[:], 0, nil, false)
	if err != nil {
		return nil, 0, err
	}
	signerName := sb[:n]
	// RFC 4034 §6.3: records in canonical order, their RDATA compared as
	// left-justified octet strings.
	sorted := slices.Clone(rdatas)
	slices.SortFunc(sorted, bytes.Compare)
	sorted = slices.CompactFunc(sorted, bytes.Equal)
	now := s.now()
	validity, _ := s.validityFor(t)
	incep := uint32(now.Add(-inceptionSkew).Unix())
	exp := uint32(now.Add(validity).Unix())
	var out []byte
	var data []byte
	for _, k := range ks {
		// RRSIG RDATA up to the signature (RFC 4034 §3.1).
		var fixed []byte
		fixed = binary.BigEndian.AppendUint16(fixed, t)
		fixed = append(fixed, k.DNSKEY.Algorithm, labels)
		fixed = binary.BigEndian.AppendUint32(fixed, ttl)
		fixed = binary.BigEndian.AppendUint32(fixed, exp)
		fixed = binary.BigEndian.AppendUint32(fixed, incep)
		fixed = binary.BigEndian.AppendUint16(fixed, k.Tag())
		fixed = append(fixed, signerName...)
		// The signed data (RFC 4034 §3.1.8.1): that, then every record.
		data = append(data[:0], fixed...)
		for _, rd := range sorted {
			data = append(data, owner...)
			data = binary.BigEndian.AppendUint16(data, t)
			data = binary.BigEndian.AppendUint16(data, dns.ClassINET)
			data = binary.BigEndian.AppendUint32(data, ttl)
			data = binary.BigEndian.AppendUint16(data, uint16(len(rd)))
			data = append(data, rd...)
		}
		var sig []byte
		switch k.DNSKEY.Algorithm {
		case dns.ECDSAP256SHA256:
			h := sha256.Sum256(data)
			der, err := k.Signer.Sign(rand.Reader, h[:], crypto.SHA256)
			if err != nil {
				return nil, 0, fmt.Errorf("signer: sign: %w", err)
			}
			var rs struct{ R, S *big.Int }
			if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
				return nil, 0, fmt.Errorf("signer: ECDSA signature: %v", err)
			}
			sig = make([]byte, 2*ecdsaP256Octets)
			rs.R.FillBytes(sig[:ecdsaP256Octets])
			rs.S.FillBytes(sig[ecdsaP256Octets:])
		case dns.ED25519:
			if sig, err = k.Signer.Sign(rand.Reader, data, crypto.Hash(0)); err != nil {
				return nil, 0, fmt.Errorf("signer: sign: %w", err)
			}
		}
		rdlen := len(fixed) + len(sig)
		if rdlen > 0xffff {
			return nil, 0, errors.New("signer: RRSIG too long")
		}
		out = binary.BigEndian.AppendUint16(out, dns.TypeRRSIG)
		out = binary.BigEndian.AppendUint16(out, dns.ClassINET)
		out = binary.BigEndian.AppendUint32(out, ttl)
		out = binary.BigEndian.AppendUint16(out, uint16(rdlen))
		out = append(out, fixed...)
		out = append(out, sig...)
	}
	if s.Made != nil {
		s.Made.Add(int64(len(ks)))
	}
	return out, len(ks), nil
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
