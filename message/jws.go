package message

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JWS header parameter names (RFC 7515 §4.1, RFC 7519 §4.1 and §5.3).
const (
	hdrAlg  = "alg"
	hdrKid  = "kid"
	hdrX5U  = "x5u"
	hdrX5C  = "x5c"
	hdrJWK  = "jwk"
	hdrJKU  = "jku"
	hdrCrit = "crit"
	hdrB64  = "b64"
	hdrIat  = "iat"
	hdrExp  = "exp"
	hdrNbf  = "nbf"
	hdrJti  = "jti"
)

// unprotectedForbidden are the parameters refused in an unprotected JWS
// header: whoever forwards the message could change them.
var unprotectedForbidden = []string{hdrAlg, hdrKid, hdrX5U, hdrX5C, hdrJWK, hdrJKU, hdrCrit, hdrB64, hdrIat, hdrExp, hdrNbf, hdrJti, hdrSeq, "x5t", "x5t#S256"}

// maxID bounds a message id.
const maxID = 255

// parseJWS decodes a JWS in compact or JSON serialisation and applies the
// header rules.
func parseJWS(msg []byte) (*parsed, error) {
	if len(msg) > 0 && msg[0] == '{' {
		return parseJWSJSON(msg)
	}
	return parseJWSCompact(msg)
}

func parseJWSCompact(msg []byte) (*parsed, error) {
	s := string(msg)
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fail(ReasonMalformed, "compact JWS has %d parts, want 3", len(parts))
	}
	p, err := jwsParts(parts[0], parts[1], parts[2], nil)
	if err != nil {
		return nil, err
	}
	p.format = JWSCompact
	return p, nil
}

// jwsParts decodes one signature's protected header, the payload and the
// signature (base64url, as in the message), refuses identity parameters
// in the unprotected header (JSON serialisation only), applies the header
// rules, and makes the signature check: the one decoding the message gets.
func jwsParts(protected, payload, signature string, unprotected json.RawMessage) (*parsed, error) {
	prot, err := b64(protected, "protected header")
	if err != nil {
		return nil, err
	}
	body, err := b64(payload, "payload")
	if err != nil {
		return nil, err
	}
	sig, err := b64(signature, "signature")
	if err != nil {
		return nil, err
	}
	if len(unprotected) > 0 && string(unprotected) != "null" {
		var u map[string]json.RawMessage
		if err := json.Unmarshal(unprotected, &u); err != nil {
			return nil, fail(ReasonMalformed, "unprotected header: %v", err)
		}
		for _, name := range unprotectedForbidden {
			if _, ok := u[name]; ok {
				return nil, fail(ReasonHeader, "%q in the unprotected header: it must be protected", name)
			}
		}
	}
	p, err := jwsHeader(prot)
	if err != nil {
		return nil, err
	}
	j := &jwsSignature{alg: p.alg, protected: protected, payload: payload, body: body, sig: sig}
	p.check = j.verify
	return p, nil
}

// jwsJSON is the JWS JSON serialisation, general or flattened (RFC 7515
// §7.2).
type jwsJSON struct {
	Payload    *string          `json:"payload"`
	Protected  string           `json:"protected,omitempty"`
	Header     json.RawMessage  `json:"header,omitempty"`
	Signature  string           `json:"signature,omitempty"`
	Signatures []jwsJSONSigPart `json:"signatures,omitempty"`
}

type jwsJSONSigPart struct {
	Protected string          `json:"protected"`
	Header    json.RawMessage `json:"header,omitempty"`
	Signature string          `json:"signature"`
}

func parseJWSJSON(msg []byte) (*parsed, error) {
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
	sig := jwsJSONSigPart{Protected: j.Protected, Header: j.Header, Signature: j.Signature}
	switch {
	case len(j.Signatures) > 1:
		return nil, fail(ReasonMalformed, "JWS JSON with %d signatures, want one", len(j.Signatures))
	case len(j.Signatures) == 1 && (j.Protected != "" || j.Header != nil || j.Signature != ""):
		return nil, fail(ReasonMalformed, "JWS JSON mixes the general and flattened serialisations")
	case len(j.Signatures) == 1:
		sig = j.Signatures[0]
	}
	if sig.Protected == "" {
		return nil, fail(ReasonHeader, "no protected header")
	}
	p, err := jwsParts(sig.Protected, *j.Payload, sig.Signature, sig.Header)
	if err != nil {
		return nil, err
	}
	p.format = JWSJSON
	return p, nil
}

// b64 decodes strict unpadded base64url (RFC 7515 §2).
func b64(s, what string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fail(ReasonMalformed, "%s: %v", what, err)
	}
	return b, nil
}

// jwsHeader applies the rules of docs/message-identities.md to a JWS
// protected header.
func jwsHeader(raw []byte) (*parsed, error) {
	if err := checkJSON(raw); err != nil {
		return nil, &Error{Reason: ReasonMalformed, Err: fmt.Errorf("protected header: %w", err)}
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fail(ReasonMalformed, "protected header: %v", err)
	}
	p := &parsed{}
	var alg string
	if err := jsonString(h, hdrAlg, &alg); err != nil {
		return nil, err
	}
	if !jwsAlgorithms[Algorithm(alg)] {
		if alg == "" {
			return nil, fail(ReasonAlgorithm, "no alg")
		}
		return nil, fail(ReasonAlgorithm, "alg %q is not accepted", alg)
	}
	p.alg = Algorithm(alg)
	if _, ok := h[hdrCrit]; ok {
		var crit []string
		if err := json.Unmarshal(h[hdrCrit], &crit); err != nil || len(crit) == 0 {
			return nil, fail(ReasonCritical, "crit must be a non-empty array of names")
		}
		return nil, fail(ReasonCritical, "crit lists %q, which this verifier does not understand", crit)
	}
	for _, name := range []string{hdrJWK, hdrJKU} {
		if _, ok := h[name]; ok {
			return nil, fail(ReasonHeader, "%q: the signer's key comes from DNS, never from the message", name)
		}
	}
	if _, ok := h[hdrB64]; ok {
		return nil, fail(ReasonHeader, "b64: unencoded payloads are not accepted")
	}
	var x5u, kid string
	if err := jsonString(h, hdrX5U, &x5u); err != nil {
		return nil, err
	}
	if err := jsonString(h, hdrKid, &kid); err != nil {
		return nil, err
	}
	if err := p.setIdentity(x5u, kid); err != nil {
		return nil, err
	}
	if v, ok := h[hdrX5C]; ok {
		var certs []string
		if err := json.Unmarshal(v, &certs); err != nil || len(certs) == 0 {
			return nil, fail(ReasonHeader, "x5c must be a non-empty array of base64 certificates")
		}
		var ders [][]byte
		for i, c := range certs {
			// RFC 7515 §4.1.6: base64, not base64url.
			der, err := base64.StdEncoding.Strict().DecodeString(c)
			if err != nil {
				return nil, fail(ReasonHeader, "x5c[%d]: %v", i, err)
			}
			ders = append(ders, der)
		}
		if err := p.setChain(ders); err != nil {
			return nil, err
		}
	}
	for _, c := range []struct {
		name string
		t    *time.Time
	}{{hdrIat, &p.iat}, {hdrExp, &p.exp}, {hdrNbf, &p.nbf}} {
		v, ok := h[c.name]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 0 {
			return nil, fail(ReasonHeader, "%s must be a non-negative integer NumericDate", c.name)
		}
		*c.t = time.Unix(n, 0)
	}
	if err := jsonString(h, hdrJti, &p.id); err != nil {
		return nil, err
	}
	var seq string
	if err := jsonString(h, hdrSeq, &seq); err != nil {
		return nil, err
	}
	if seq != "" {
		q, err := parseSeq(seq)
		if err != nil {
			return nil, err
		}
		p.seq = q
	}
	return p, nil
}

// jsonString reads the string member name of h into *out, if present.
func jsonString(h map[string]json.RawMessage, name string, out *string) error {
	v, ok := h[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, out); err != nil {
		return fail(ReasonHeader, "%s must be a string", name)
	}
	if *out == "" {
		return fail(ReasonHeader, "%s is empty", name)
	}
	return nil
}

// setChain parses a carried certificate chain, leaf first.
func (p *parsed) setChain(ders [][]byte) error {
	if len(ders) > maxChain {
		return fail(ReasonHeader, "chain of %d certificates, at most %d", len(ders), maxChain)
	}
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fail(ReasonHeader, "certificate %d: %v", i, err)
		}
		p.chain = append(p.chain, c)
	}
	return nil
}

// setIdentity reads the signer's name from x5u and kid (either may be
// empty, not both; equal when both are given).
func (p *parsed) setIdentity(x5u, kid string) error {
	switch {
	case x5u == "" && kid == "":
		return fail(ReasonHeader, "no signer: neither x5u nor kid holds a dns: URI")
	case x5u != "" && kid != "" && x5u != kid:
		return fail(ReasonHeader, "x5u %q and kid %q name different signers", x5u, kid)
	}
	uri := x5u
	if uri == "" {
		uri = kid
	}
	n, err := ParseURI(uri)
	if err != nil {
		return &Error{Reason: ReasonHeader, Err: fmt.Errorf("signer %q: %w", uri, err)}
	}
	p.name = n.String()
	return nil
}
