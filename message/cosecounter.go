package message

import (
	"crypto"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Countersignatures of COSE_Sign1 messages are RFC 9338 COSE_Countersignature
// structures in the message's unprotected header, label 11
// (Countersignature version 2). Its Countersign_structure covers the
// message's protected header, the payload and, as other_fields, the
// message's signature (RFC 9338 §3.3), so the countersignature is bound to
// the one signature it countersigns with no parameter of our own, and the
// signer's COSE_Sign1 travels unchanged: its signature still verifies as
// it did. (A COSE_Sign with two signatures would not do that: its
// signatures cover the body, not each other, and a COSE_Sign1 signature
// cannot become a COSE_Sign one, whose Sig_structure differs.)
const labelCountersignatureV2 = cose.HeaderLabelCounterSignatureV2

// coseCountersignLabels are the unprotected labels that hold
// countersignatures (RFC 9338 §3.1, §3.2; RFC 9052 §3.1 for the
// deprecated 7): a countersigned message carries exactly one, at
// labelCountersignatureV2.
var coseCountersignLabels = []int64{cose.HeaderLabelCounterSignature, cose.HeaderLabelCounterSignature0, cose.HeaderLabelCounterSignatureV2, cose.HeaderLabelCounterSignature0V2}

// countersignCOSE adds s's RFC 9338 countersignature to a COSE_Sign1.
func (s *Signer) countersignCOSE(msg []byte, h *header) ([]byte, error) {
	m, err := decodeSign1(msg)
	if err != nil {
		return nil, err
	}
	for _, l := range coseCountersignLabels {
		if _, ok := m.Headers.Unprotected[l]; ok {
			return nil, fail(ReasonCountersignature, "the message carries a countersignature already (label %d)", l)
		}
	}
	signer, prot, err := s.coseSigner(h)
	if err != nil {
		return nil, err
	}
	cs := cose.NewCountersignature()
	cs.Headers.Protected = prot
	if err := cs.Sign(s.rand(), signer, m, nil); err != nil {
		return nil, fmt.Errorf("message: countersignature: %w", err)
	}
	if m.Headers.Unprotected == nil {
		m.Headers.Unprotected = cose.UnprotectedHeader{}
	}
	m.Headers.Unprotected[labelCountersignatureV2] = cs
	m.Headers.RawUnprotected = nil // encode the header with the countersignature, not as received
	out, err := m.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	if err := checkCBOR(out); err != nil {
		return nil, fmt.Errorf("message: countersigned message: %w", err)
	}
	return out, nil
}

// parseCountersignature applies the header rules to the one
// countersignature of m and makes its check, bound to m.
func parseCountersignature(m *cose.Sign1Message) (*parsed, error) {
	var cs *cose.Countersignature
	for _, l := range coseCountersignLabels {
		v, ok := m.Headers.Unprotected[l]
		if !ok {
			continue
		}
		c, ok := v.(*cose.Countersignature)
		if l != labelCountersignatureV2 || !ok {
			return nil, fail(ReasonCountersignature, "label %d holds %T; one Countersignature version 2 (label 11) is accepted", l, v)
		}
		cs = c
	}
	if cs == nil {
		return nil, fail(ReasonCountersignature, "no countersignature (label 11 in the unprotected header)")
	}
	if len(cs.Headers.Unprotected) > 0 {
		return nil, fail(ReasonCountersignature, "the countersignature's unprotected header is not empty")
	}
	var inner []byte
	if err := cbor.Unmarshal(cs.Headers.RawProtected, &inner); err != nil {
		return nil, fail(ReasonMalformed, "countersignature's protected header: %v", err)
	}
	if len(inner) == 0 {
		return nil, fail(ReasonHeader, "the countersignature has no protected header")
	}
	if err := checkCBOR(inner); err != nil {
		return nil, &Error{Reason: ReasonMalformed, Err: fmt.Errorf("countersignature's protected header: %w", err)}
	}
	p, err := coseHeader(cs.Headers)
	if err != nil {
		return nil, err
	}
	p.check = func(pub crypto.PublicKey) ([]byte, error) {
		alg, err := cs.Headers.Protected.Algorithm()
		if err != nil {
			return nil, &Error{Reason: ReasonAlgorithm, Err: err}
		}
		v, err := cose.NewVerifier(alg, pub)
		if err != nil {
			return nil, &Error{Reason: ReasonKeyMismatch, Err: err}
		}
		if err := cs.Verify(v, m, nil); err != nil {
			return nil, &Error{Reason: ReasonBadSignature, Err: err}
		}
		return m.Payload, nil
	}
	return p, nil
}
