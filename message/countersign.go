package message

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// hdrCountersigns is the protected header parameter of a countersignature
// that names the signature it countersigns: the base64url SHA-256 digest
// of that signature's octets (docs/message-identities.md,
// "Countersignatures"). A JWS signature covers only its own protected
// header and the payload (RFC 7515 §5.1); this parameter is what binds the
// second signature to the first, so that the first cannot be swapped for
// another signature over the same payload.
const hdrCountersigns = "countersigns"

// Countersigned is an accepted countersigned message: the payload, its
// original signer (the sensor) and its countersigner (the gateway that
// authenticated and forwarded it), each authenticated by its own DNS
// name.
type Countersigned struct {
	// Payload is the signed content, the same for both signatures.
	Payload []byte `json:"-"`
	// Signer is the first signature's signer, Countersigner the second's.
	Signer        *Verified `json:"signer"`
	Countersigner *Verified `json:"countersigner"`
}

// Countersign adds s's signature to msg. For a JWS with one signature
// (compact or JSON) it returns the general JWS JSON serialisation with two
// signatures (RFC 7515 §7.2.1): msg's first, s's second, whose protected
// header names msg's signature by its digest. For a COSE_Sign1 it returns
// the same message with s's RFC 9338 countersignature (version 2, which
// covers msg's signature) in its unprotected header.
//
// Countersign does not verify msg: a gateway authenticates the message it
// received (Verifier.Verify) before it countersigns it, since its
// signature says "I authenticated the signer of this".
func (s *Signer) Countersign(msg []byte) ([]byte, error) {
	if len(msg) > 0 && msg[0] != '{' && !isBase64URL(msg[0]) {
		h, err := s.header()
		if err != nil {
			return nil, err
		}
		return s.countersignCOSE(msg, h)
	}
	first, payload, err := splitJWS(bytes.TrimRight(msg, " \t\r\n"))
	if err != nil {
		return nil, err
	}
	sig, err := b64(first.Signature, "signature")
	if err != nil {
		return nil, err
	}
	body, err := b64(payload, "payload")
	if err != nil {
		return nil, err
	}
	h, err := s.header()
	if err != nil {
		return nil, err
	}
	h.countersigns = digest(sig)
	own, err := s.signJWS(body, JWSJSON, h)
	if err != nil {
		return nil, err
	}
	var flat jwsJSON
	if err := json.Unmarshal(own, &flat); err != nil {
		return nil, fmt.Errorf("message: countersignature: %w", err)
	}
	if flat.Payload == nil || *flat.Payload != payload {
		return nil, errors.New("message: countersignature: the payload changed in signing")
	}
	out := struct {
		Payload    string           `json:"payload"`
		Signatures []jwsJSONSigPart `json:"signatures"`
	}{payload, []jwsJSONSigPart{first, {Protected: flat.Protected, Signature: flat.Signature}}}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return b, nil
}

// digest is the value of hdrCountersigns for a signature.
func digest(sig []byte) string {
	d := sha256.Sum256(sig)
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// splitJWS returns the one signature of a compact or JSON JWS, and its
// payload (base64url, as in the message).
func splitJWS(msg []byte) (jwsJSONSigPart, string, error) {
	var none jwsJSONSigPart
	if len(msg) == 0 {
		return none, "", fail(ReasonMalformed, "empty message")
	}
	if msg[0] != '{' {
		parts := strings.Split(string(msg), ".")
		if len(parts) != 3 {
			return none, "", fail(ReasonMalformed, "compact JWS has %d parts, want 3", len(parts))
		}
		return jwsJSONSigPart{Protected: parts[0], Signature: parts[2]}, parts[1], nil
	}
	j, err := decodeJWSJSON(msg)
	if err != nil {
		return none, "", err
	}
	switch {
	case len(j.Signatures) > 1:
		return none, "", fail(ReasonMalformed, "JWS JSON with %d signatures, want one", len(j.Signatures))
	case len(j.Signatures) == 1:
		return j.Signatures[0], *j.Payload, nil
	}
	return jwsJSONSigPart{Protected: j.Protected, Header: j.Header, Signature: j.Signature}, *j.Payload, nil
}

// decodeJWSJSON decodes a JWS JSON serialisation strictly, with its
// payload present.
func decodeJWSJSON(msg []byte) (*jwsJSON, error) {
	if err := checkJSON(msg); err != nil {
		return nil, &Error{Reason: ReasonMalformed, Err: err}
	}
	var j jwsJSON
	if err := json.Unmarshal(msg, &j); err != nil {
		return nil, &Error{Reason: ReasonMalformed, Err: err}
	}
	if j.Payload == nil {
		return nil, fail(ReasonMalformed, "JWS JSON without a payload (detached payloads are not accepted)")
	}
	if len(j.Signatures) > 0 && (j.Protected != "" || j.Header != nil || j.Signature != "") {
		return nil, fail(ReasonMalformed, "JWS JSON mixes the general and flattened serialisations")
	}
	return &j, nil
}

// VerifyCountersigned authenticates a countersigned message (what
// Signer.Countersign makes): exactly two signatures over one payload,
// the second naming the first by its digest; each is verified as Verify
// verifies a message (header rules, allow-list, validated TLSA lookup,
// signature, time window), and only when both pass are both message ids
// remembered against replay. A message with one signature, or with the
// second removed, is refused (ReasonCountersignature).
func (v *Verifier) VerifyCountersigned(ctx context.Context, msg []byte) (*Countersigned, error) {
	if len(msg) > v.cfg.MaxSize {
		return nil, fail(ReasonTooLarge, "%d bytes, at most %d", len(msg), v.cfg.MaxSize)
	}
	if len(msg) == 0 {
		return nil, fail(ReasonMalformed, "empty message")
	}
	if msg[0] != '{' && !isBase64URL(msg[0]) {
		return v.verifyCountersignedCOSE(ctx, msg)
	}
	if msg[0] != '{' {
		return nil, fail(ReasonCountersignature, "a countersigned JWS is in the general JSON serialisation")
	}
	j, err := decodeJWSJSON(msg)
	if err != nil {
		return nil, err
	}
	if len(j.Signatures) != 2 {
		return nil, fail(ReasonCountersignature, "%d signatures, want two (the signer's and the countersigner's)", len(j.Signatures))
	}
	first, second := j.Signatures[0], j.Signatures[1]
	// The binding is checked first: no DNS traffic for a message whose
	// signatures do not belong together.
	sig, err := b64(first.Signature, "first signature")
	if err != nil {
		return nil, err
	}
	prot, err := b64(second.Protected, "countersignature's protected header")
	if err != nil {
		return nil, err
	}
	if err := checkJSON(prot); err != nil {
		return nil, &Error{Reason: ReasonMalformed, Err: fmt.Errorf("countersignature's protected header: %w", err)}
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(prot, &h); err != nil {
		return nil, fail(ReasonMalformed, "countersignature's protected header: %v", err)
	}
	var named string
	if err := jsonString(h, hdrCountersigns, &named); err != nil {
		return nil, &Error{Reason: ReasonCountersignature, Err: err}
	}
	if named == "" {
		return nil, fail(ReasonCountersignature, "the second signature's protected header has no %q", hdrCountersigns)
	}
	if subtle.ConstantTimeCompare([]byte(named), []byte(digest(sig))) != 1 {
		return nil, fail(ReasonCountersignature, "the second signature countersigns another signature than the first")
	}
	var out Countersigned
	var untils [2]time.Time
	for i, part := range []jwsJSONSigPart{first, second} {
		flat, err := json.Marshal(jwsJSON{Payload: j.Payload, Protected: part.Protected, Header: part.Header, Signature: part.Signature})
		if err != nil {
			return nil, fmt.Errorf("message: %w", err)
		}
		m, until, err := v.verify(ctx, flat)
		if err != nil {
			if i == 1 {
				return nil, fmt.Errorf("countersignature: %w", err)
			}
			return nil, err
		}
		untils[i] = until
		if i == 0 {
			out.Signer, out.Payload = m, m.Payload
		} else {
			out.Countersigner = m
		}
	}
	return v.remember(&out, untils)
}

// remember adds both message ids of an accepted countersigned message to
// the replay memory, both or neither: a countersignature whose id is
// refused (a replay, or its signer out of room) spends nothing, so that it
// cannot burn the id of the genuine message it rides on.
func (v *Verifier) remember(out *Countersigned, untils [2]time.Time) (*Countersigned, error) {
	i, err := v.replay.addAll([]replayEntry{
		{out.Signer.Signer.Name, out.Signer.ID, untils[0]},
		{out.Countersigner.Signer.Name, out.Countersigner.ID, untils[1]},
	}, v.now())
	switch {
	case err != nil && i == 1:
		return nil, fmt.Errorf("countersignature: %w", err)
	case err != nil:
		return nil, err
	}
	return out, nil
}

// verifyCountersignedCOSE authenticates a COSE_Sign1 with one RFC 9338
// countersignature: the message as Verify does, then the countersignature
// (bound to the message's signature by what it covers) the same way.
func (v *Verifier) verifyCountersignedCOSE(ctx context.Context, msg []byte) (*Countersigned, error) {
	p, err := parseCOSE(msg)
	if err != nil {
		return nil, err
	}
	if p.counter == nil {
		return nil, fail(ReasonCountersignature, "one signature, want two (the signer's and a countersignature, label 11)")
	}
	// The countersignature's header rules before any DNS traffic.
	cp, err := p.counter()
	if err != nil {
		return nil, fmt.Errorf("countersignature: %w", err)
	}
	var out Countersigned
	var untils [2]time.Time
	if out.Signer, untils[0], err = v.authenticate(ctx, p); err != nil {
		return nil, err
	}
	out.Payload = out.Signer.Payload
	if out.Countersigner, untils[1], err = v.authenticate(ctx, cp); err != nil {
		return nil, fmt.Errorf("countersignature: %w", err)
	}
	return v.remember(&out, untils)
}
