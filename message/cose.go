package message

import (
	"crypto"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// COSE header labels (RFC 9052 §3.1, RFC 9360 §2, RFC 9597 §2) and CWT
// claim keys (RFC 8392 §3.1).
const (
	labelAlg       int64 = 1
	labelCrit      int64 = 2
	labelKid       int64 = 4
	labelCWTClaims int64 = 15
	labelX5Bag     int64 = 32
	labelX5Chain   int64 = 33
	labelX5T       int64 = 34
	labelX5U       int64 = 35

	claimExp int64 = 4
	claimNbf int64 = 5
	claimIat int64 = 6
	claimCti int64 = 7
)

// coseSign1Tag is the CBOR tag of COSE_Sign1 (RFC 9052 §4.2).
const coseSign1Tag = 18

// coseUnprotectedForbidden are the labels refused in the unprotected
// header: whoever forwards the message could change them.
var coseUnprotectedForbidden = []int64{labelAlg, labelCrit, labelKid, labelCWTClaims, labelX5Bag, labelX5Chain, labelX5T, labelX5U}

// decodeSign1 decodes a COSE_Sign1 message, tagged (18) or untagged, after
// checking that it and its protected header are deterministic CBOR.
func decodeSign1(msg []byte) (*cose.Sign1Message, error) {
	if len(msg) == 0 {
		return nil, fail(ReasonMalformed, "empty message")
	}
	if err := checkCBOR(msg); err != nil {
		return nil, &Error{Reason: ReasonMalformed, Err: err}
	}
	m := &cose.Sign1Message{}
	switch {
	case msg[0] == 0xc0|coseSign1Tag: // tag 18, one-byte head (RFC 8949 §3)
		if err := m.UnmarshalCBOR(msg); err != nil {
			return nil, &Error{Reason: ReasonMalformed, Err: err}
		}
	case msg[0]>>5 == 4: // an untagged array
		var u cose.UntaggedSign1Message
		if err := u.UnmarshalCBOR(msg); err != nil {
			return nil, &Error{Reason: ReasonMalformed, Err: err}
		}
		*m = cose.Sign1Message(u)
	default:
		return nil, fail(ReasonMalformed, "not a COSE_Sign1 message (tag 18 or an untagged array)")
	}
	var inner []byte
	if err := cbor.Unmarshal(m.Headers.RawProtected, &inner); err != nil {
		return nil, fail(ReasonMalformed, "protected header: %v", err)
	}
	if len(inner) > 0 {
		if err := checkCBOR(inner); err != nil {
			return nil, &Error{Reason: ReasonMalformed, Err: fmt.Errorf("protected header: %w", err)}
		}
	}
	if m.Payload == nil {
		return nil, fail(ReasonMalformed, "detached payloads are not accepted")
	}
	return m, nil
}

// parseCOSE decodes a COSE_Sign1 and applies the header rules, in one
// strict pass over the CBOR and one over the parameters the rules read
// (splitCOSESign1, coseSign1.header); its check builds the Sig_structure from the
// same octets. A countersignature is decoded (by go-cose) only when the
// caller asks for it.
func parseCOSE(msg []byte) (*parsed, error) {
	s, err := splitCOSESign1(msg)
	if err != nil {
		return nil, err
	}
	p, counter, err := s.header()
	if err != nil {
		return nil, err
	}
	alg := p.alg
	p.check = func(pub crypto.PublicKey) ([]byte, error) { return s.verify(alg, pub) }
	if counter {
		p.counter = func() (*parsed, error) {
			m, err := decodeSign1(msg)
			if err != nil {
				return nil, err
			}
			return parseCountersignature(m)
		}
	}
	return p, nil
}

// coseHeader applies the header rules to the headers of a COSE_Sign1 or
// of a COSE_Countersignature.
func coseHeader(hdr cose.Headers) (*parsed, error) {
	for _, l := range coseUnprotectedForbidden {
		if _, ok := hdr.Unprotected[l]; ok {
			return nil, fail(ReasonHeader, "label %d in the unprotected header: it must be protected", l)
		}
	}
	if _, ok := hdr.Unprotected[hdrSeq]; ok {
		return nil, fail(ReasonHeader, "label %q in the unprotected header: it must be protected", hdrSeq)
	}
	h := hdr.Protected
	p := &parsed{format: COSE}
	calg, err := h.Algorithm()
	if err != nil {
		return nil, &Error{Reason: ReasonAlgorithm, Err: err}
	}
	alg, ok := coseAlgorithms[calg]
	if !ok {
		return nil, fail(ReasonAlgorithm, "COSE algorithm %v is not accepted", calg)
	}
	p.alg = alg
	if c, ok := h[labelCrit]; ok {
		return nil, fail(ReasonCritical, "crit lists %v, which this verifier does not understand", c)
	}
	var x5u, kid string
	if v, ok := h[labelX5U]; ok {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fail(ReasonHeader, "x5u (35) must be a non-empty text string")
		}
		x5u = s
	}
	if v, ok := h[labelKid]; ok {
		b, ok := v.([]byte)
		if !ok || len(b) == 0 {
			return nil, fail(ReasonHeader, "kid (4) must be a non-empty byte string")
		}
		kid = string(b)
	}
	if err := p.setIdentity(x5u, kid); err != nil {
		return nil, err
	}
	if v, ok := h[labelX5Chain]; ok {
		var ders [][]byte
		switch c := v.(type) {
		case []byte:
			ders = [][]byte{c} // RFC 9360 §2: one certificate as a bare bstr
		case []any:
			for _, e := range c {
				b, ok := e.([]byte)
				if !ok {
					return nil, fail(ReasonHeader, "x5chain (33) holds a %T, want byte strings", e)
				}
				ders = append(ders, b)
			}
			if len(ders) < 2 {
				return nil, fail(ReasonHeader, "x5chain (33): one certificate is sent as a bare byte string (RFC 9360 §2)")
			}
		default:
			return nil, fail(ReasonHeader, "x5chain (33) must be a byte string or an array of them")
		}
		if err := p.setChain(ders); err != nil {
			return nil, err
		}
	}
	if v, ok := h[hdrSeq]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, fail(ReasonHeader, "seq must be a text string")
		}
		seq, err := parseSeq(s)
		if err != nil {
			return nil, err
		}
		p.seq = seq
	}
	if v, ok := h[labelCWTClaims]; ok {
		claims, ok := v.(map[any]any)
		if !ok {
			return nil, fail(ReasonHeader, "CWT claims (15) must be a map")
		}
		for _, c := range []struct {
			key int64
			t   *time.Time
		}{{claimIat, &p.iat}, {claimExp, &p.exp}, {claimNbf, &p.nbf}} {
			v, ok := claims[c.key]
			if !ok {
				continue
			}
			n, ok := v.(int64)
			if !ok || n < 0 {
				return nil, fail(ReasonHeader, "CWT claim %d must be a non-negative integer NumericDate", c.key)
			}
			*c.t = time.Unix(n, 0)
		}
		if v, ok := claims[claimCti]; ok {
			b, ok := v.([]byte)
			if !ok || len(b) == 0 || len(b) > maxID {
				return nil, fail(ReasonHeader, "cti (7) must be a byte string of 1 to %d bytes", maxID)
			}
			p.id = hex.EncodeToString(b)
		}
	}
	return p, nil
}
