package message

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"time"
)

// coseSign1 is a COSE_Sign1 as the strict decoder read it: sub-slices of the
// message, no values decoded beyond the protected header's parameters.
// Its signature is checked over a Sig_structure built from exactly the
// octets the header rules read, as a JWS's is (jwsSignature).
type coseSign1 struct {
	// protectedItem is the protected header's bstr as encoded in the
	// message (head and contents), protected its contents.
	protectedItem, protected []byte
	// unprotected is the unprotected header map, encoded.
	unprotected []byte
	// payloadItem is the payload's bstr as encoded, payload its contents.
	payloadItem, payload []byte
	sig                  []byte
}

// splitCOSESign1 decodes a COSE_Sign1, tagged (18) or untagged, in one strict
// pass (checkCBOR: deterministic encoding, bounded nesting and sizes) and
// a second over its four element heads, without building maps.
func splitCOSESign1(msg []byte) (*coseSign1, error) {
	if len(msg) == 0 {
		return nil, fail(ReasonMalformed, "empty message")
	}
	if err := checkCBOR(msg); err != nil {
		return nil, &Error{Reason: ReasonMalformed, Err: err}
	}
	r := cborReader{cborChecker{data: msg}}
	major, arg := r.head()
	if major == cborTag {
		if arg != coseSign1Tag {
			return nil, fail(ReasonMalformed, "tag %d: not a COSE_Sign1 message (tag 18 or an untagged array)", arg)
		}
		major, arg = r.head()
	}
	if major != cborArray {
		return nil, fail(ReasonMalformed, "not a COSE_Sign1 message (tag 18 or an untagged array)")
	}
	if arg != 4 {
		return nil, fail(ReasonMalformed, "COSE_Sign1 of %d elements, want 4 (RFC 9052 §4.2)", arg)
	}
	var s coseSign1
	var ok bool
	if s.protectedItem, s.protected, ok = r.bytesItem(); !ok {
		return nil, fail(ReasonMalformed, "protected header: not a byte string")
	}
	if len(s.protected) > 0 {
		if err := checkCBOR(s.protected); err != nil {
			return nil, &Error{Reason: ReasonMalformed, Err: fmt.Errorf("protected header: %w", err)}
		}
		if s.protected[0]>>5 != cborMap {
			return nil, fail(ReasonMalformed, "protected header: not a map")
		}
	}
	start := r.pos
	if major, _ := r.peek(); major != cborMap {
		return nil, fail(ReasonMalformed, "unprotected header: not a map")
	}
	r.skip()
	s.unprotected = msg[start:r.pos]
	if r.pos < len(msg) && msg[r.pos] == cborSimple<<5|22 { // null (RFC 8949 §3.3)
		return nil, fail(ReasonMalformed, "detached payloads are not accepted")
	}
	if s.payloadItem, s.payload, ok = r.bytesItem(); !ok {
		return nil, fail(ReasonMalformed, "payload: not a byte string")
	}
	if _, s.sig, ok = r.bytesItem(); !ok {
		return nil, fail(ReasonMalformed, "signature: not a byte string")
	}
	return &s, nil
}

// sigStructure1Prefix opens the Sig_structure of a COSE_Sign1 (RFC 9052
// §4.4): an array of four, the context text "Signature1".
var sigStructure1Prefix = []byte{cborArray<<5 | 4, cborText<<5 | 10, 'S', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', '1'}

// emptyBstr is the external_aad of our messages: none (RFC 9052 §4.3).
const emptyBstr = cborBytes << 5

// tbsPool holds the buffers Sig_structures are built in.
var tbsPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// verify checks the signature with alg and pub and returns a copy of the
// payload. COSE's ES256 signature is R and S as fixed-length octets,
// concatenated (RFC 9053 §2.1), and its EdDSA signature Ed25519's (RFC
// 9053 §2.2): the encodings of JWS, whose check this shares.
func (s *coseSign1) verify(alg Algorithm, pub crypto.PublicKey) ([]byte, error) {
	bp := tbsPool.Get().(*[]byte)
	tbs := append((*bp)[:0], sigStructure1Prefix...)
	tbs = append(tbs, s.protectedItem...)
	tbs = append(tbs, emptyBstr)
	tbs = append(tbs, s.payloadItem...)
	err := verifyJWSSignature(alg, pub, tbs, s.sig)
	*bp = tbs[:0]
	tbsPool.Put(bp)
	if err != nil {
		if ReasonOf(err) != 0 {
			return nil, err
		}
		return nil, &Error{Reason: ReasonBadSignature, Err: err}
	}
	return bytes.Clone(s.payload), nil
}

// coseParams are the encoded values of the protected header parameters
// the header rules read (nil: absent).
type coseParams struct {
	alg, crit, kid, cwt, x5chain, x5u, seq []byte
}

// header applies the header rules of coseHeader to s, reading the
// protected header's parameters straight from their encodings. It
// reports whether the unprotected header holds a countersignature.
func (s *coseSign1) header() (*parsed, bool, error) {
	pp, counter, err := s.params()
	if err != nil {
		return nil, false, err
	}
	p, err := pp.rules()
	return p, counter, err
}

// params finds the protected header parameters the rules read, after
// refusing an unprotected header that holds any of them. It reports
// whether the unprotected header holds a countersignature.
func (s *coseSign1) params() (*coseParams, bool, error) {
	// The unprotected header: nothing the rules read may be there.
	counter := false
	r := cborReader{cborChecker{data: s.unprotected}}
	_, n := r.head()
	for i := uint64(0); i < n; i++ {
		l, text, err := r.label()
		if err != nil {
			return nil, false, err
		}
		switch {
		case text == hdrSeq:
			return nil, false, fail(ReasonHeader, "label %q in the unprotected header: it must be protected", hdrSeq)
		case text != "":
		case isLabel(l, coseUnprotectedForbidden):
			return nil, false, fail(ReasonHeader, "label %d in the unprotected header: it must be protected", l)
		case isLabel(l, coseCountersignLabels):
			counter = true
		}
		r.skip()
	}
	// The protected header.
	var pp coseParams
	r = cborReader{cborChecker{data: s.protected}}
	if len(s.protected) > 0 {
		_, n = r.head()
	} else {
		n = 0
	}
	for i := uint64(0); i < n; i++ {
		l, text, err := r.label()
		if err != nil {
			return nil, false, err
		}
		start := r.pos
		r.skip()
		v := s.protected[start:r.pos]
		switch {
		case text == hdrSeq:
			pp.seq = v
		case text != "":
		case l == labelAlg:
			pp.alg = v
		case l == labelCrit:
			pp.crit = v
		case l == labelKid:
			pp.kid = v
		case l == labelCWTClaims:
			pp.cwt = v
		case l == labelX5Chain:
			pp.x5chain = v
		case l == labelX5U:
			pp.x5u = v
		}
	}
	return &pp, counter, nil
}

// rules applies the header rules to the protected parameters, in the
// order and with the refusals of coseHeader.
func (pp *coseParams) rules() (*parsed, error) {
	p := &parsed{format: COSE}
	if pp.alg == nil {
		return nil, fail(ReasonAlgorithm, "no alg (1) in the protected header")
	}
	calg, ok := intValue(pp.alg)
	alg, known := coseAlgorithmsByLabel[calg]
	if !ok || !known {
		return nil, fail(ReasonAlgorithm, "COSE algorithm %x is not accepted", pp.alg)
	}
	p.alg = alg
	if pp.crit != nil {
		return nil, fail(ReasonCritical, "crit lists %x, which this verifier does not understand", pp.crit)
	}
	var x5u, kid string
	if pp.x5u != nil {
		s, ok := textValue(pp.x5u)
		if !ok || s == "" {
			return nil, fail(ReasonHeader, "x5u (35) must be a non-empty text string")
		}
		x5u = s
	}
	if pp.kid != nil {
		b, ok := bytesValue(pp.kid)
		if !ok || len(b) == 0 {
			return nil, fail(ReasonHeader, "kid (4) must be a non-empty byte string")
		}
		kid = string(b)
	}
	if err := p.setIdentity(x5u, kid); err != nil {
		return nil, err
	}
	if pp.x5chain != nil {
		var ders [][]byte
		r := cborReader{cborChecker{data: pp.x5chain}}
		switch major, n := r.peek(); major {
		case cborBytes:
			b, _ := bytesValue(pp.x5chain)
			ders = [][]byte{b} // RFC 9360 §2: one certificate as a bare bstr
		case cborArray:
			r.head()
			for i := uint64(0); i < n; i++ {
				major, _ := r.peek()
				_, b, ok := r.bytesItem()
				if !ok {
					return nil, fail(ReasonHeader, "x5chain (33) holds an item of major type %d, want byte strings", major)
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
	if pp.seq != nil {
		s, ok := textValue(pp.seq)
		if !ok {
			return nil, fail(ReasonHeader, "seq must be a text string")
		}
		seq, err := parseSeq(s)
		if err != nil {
			return nil, err
		}
		p.seq = seq
	}
	if pp.cwt != nil {
		if err := cwtClaims(pp.cwt, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// cwtClaims reads the CWT claims (RFC 8392 §3.1) the rules use from
// their encoded map: iat, exp, nbf and cti.
func cwtClaims(enc []byte, p *parsed) error {
	r := cborReader{cborChecker{data: enc}}
	major, n := r.head()
	if major != cborMap {
		return fail(ReasonHeader, "CWT claims (15) must be a map")
	}
	for i := uint64(0); i < n; i++ {
		key, text, err := r.label()
		if err != nil {
			return err
		}
		start := r.pos
		r.skip()
		v := enc[start:r.pos]
		if text != "" {
			continue
		}
		var t *time.Time
		switch key {
		case claimIat:
			t = &p.iat
		case claimExp:
			t = &p.exp
		case claimNbf:
			t = &p.nbf
		case claimCti:
			b, ok := bytesValue(v)
			if !ok || len(b) == 0 || len(b) > maxID {
				return fail(ReasonHeader, "cti (7) must be a byte string of 1 to %d bytes", maxID)
			}
			p.id = hex.EncodeToString(b)
			continue
		default:
			continue
		}
		n, ok := intValue(v)
		if !ok || n < 0 {
			return fail(ReasonHeader, "CWT claim %d must be a non-negative integer NumericDate", key)
		}
		*t = time.Unix(n, 0)
	}
	return nil
}

// coseAlgorithmsByLabel is coseAlgorithms by the algorithms' COSE labels.
var coseAlgorithmsByLabel = func() map[int64]Algorithm {
	m := make(map[int64]Algorithm, len(coseAlgorithms))
	for l, a := range coseAlgorithms {
		m[int64(l)] = a
	}
	return m
}()

func isLabel(l int64, in []int64) bool {
	for _, x := range in {
		if l == x {
			return true
		}
	}
	return false
}

// cborReader reads data items from CBOR that checkCBOR accepted: it trusts
// the encoding to be well formed, and never reads past the end whatever
// the bytes.
type cborReader struct{ cborChecker }

// head reads the next item's initial byte and argument; at the end or on
// a bad head it returns major type 7 (which no caller expects) and 0.
func (r *cborReader) head() (major byte, arg uint64) {
	major, _, arg, err := r.cborChecker.head()
	if err != nil {
		return cborSimple, 0
	}
	return major, arg
}

// peek is head without moving.
func (r *cborReader) peek() (major byte, arg uint64) {
	pos := r.pos
	major, arg = r.head()
	r.pos = pos
	return major, arg
}

// skip moves past the next item.
func (r *cborReader) skip() {
	if r.item(0) != nil {
		r.pos = len(r.data)
	}
}

// bytesItem reads a byte string: its encoding (head and contents) and its
// contents.
func (r *cborReader) bytesItem() (item, contents []byte, ok bool) {
	start := r.pos
	major, n := r.head()
	if major != cborBytes || n > uint64(len(r.data)-r.pos) {
		return nil, nil, false
	}
	contents = r.data[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return r.data[start:r.pos], contents, true
}

// label reads a map key that is a COSE label or CWT claim key (RFC 9052
// §1.4): an integer, or text (returned as text, l 0).
func (r *cborReader) label() (l int64, text string, err error) {
	major, n := r.head()
	switch {
	case major == cborUint && n <= math.MaxInt64:
		return int64(n), "", nil
	case major == cborNint && n <= math.MaxInt64:
		return -1 - int64(n), "", nil
	case major == cborText && n <= uint64(len(r.data)-r.pos):
		text = string(r.data[r.pos : r.pos+int(n)])
		r.pos += int(n)
		if text == "" {
			return 0, "", fail(ReasonMalformed, "empty text label")
		}
		return 0, text, nil
	}
	return 0, "", fail(ReasonMalformed, "header label of major type %d: want an integer or text (RFC 9052 §1.4)", major)
}

// intValue reads an encoded integer that fits an int64.
func intValue(enc []byte) (int64, bool) {
	r := cborReader{cborChecker{data: enc}}
	major, n := r.head()
	if r.pos != len(enc) || n > math.MaxInt64 {
		return 0, false
	}
	switch major {
	case cborUint:
		return int64(n), true
	case cborNint:
		return -1 - int64(n), true
	}
	return 0, false
}

// textValue reads an encoded text string.
func textValue(enc []byte) (string, bool) {
	r := cborReader{cborChecker{data: enc}}
	major, n := r.head()
	if major != cborText || n != uint64(len(enc)-r.pos) {
		return "", false
	}
	return string(enc[r.pos:]), true
}

// bytesValue reads an encoded byte string.
func bytesValue(enc []byte) ([]byte, bool) {
	r := cborReader{cborChecker{data: enc}}
	_, b, ok := r.bytesItem()
	if !ok || r.pos != len(enc) {
		return nil, false
	}
	return b, true
}
