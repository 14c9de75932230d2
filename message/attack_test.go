package message

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/verify"
)

var b64u = base64.RawURLEncoding

// craftJWS signs the given protected header bytes and payload with an
// ES256 key, whatever the header says: the attacker's tool.
func craftJWS(t *testing.T, key crypto.Signer, header string, payload []byte) string {
	t.Helper()
	input := b64u.EncodeToString([]byte(header)) + "." + b64u.EncodeToString(payload)
	return input + "." + b64u.EncodeToString(es256(t, key, []byte(input)))
}

// es256 is a JWS ES256 signature (RFC 7518 §3.4: r||s, 32 bytes each).
func es256(t *testing.T, key crypto.Signer, input []byte) []byte {
	t.Helper()
	d := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), d[:])
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// hdr builds a JSON protected header for the sensor nFull, with extra
// members (a nil value drops a member).
func (w *world) hdr(extra map[string]any) string {
	h := map[string]any{"alg": "ES256", "x5u": "dns:" + nFull + "?type=TLSA", "iat": w.clock.Now().Unix(), "jti": randomID()}
	for k, v := range extra {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	b, _ := json.Marshal(h)
	return string(b)
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return b64u.EncodeToString(b)
}

// craftCOSE signs a COSE_Sign1 with the given headers and an ES256 key,
// whatever the headers say (RFC 9052 §4.4 Sig_structure).
func craftCOSE(t *testing.T, key crypto.Signer, prot cose.ProtectedHeader, unprot cose.UnprotectedHeader, payload []byte) []byte {
	t.Helper()
	pm := map[any]any{}
	for k, v := range prot {
		if a, ok := v.(cose.Algorithm); ok {
			v = int64(a)
		}
		pm[k] = v
	}
	inner, err := refDeterministicCBOR.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	return craftCOSERaw(t, key, inner, unprot, payload)
}

// craftCOSERaw signs a COSE_Sign1 whose protected header is inner, as is.
func craftCOSERaw(t *testing.T, key crypto.Signer, inner []byte, unprot cose.UnprotectedHeader, payload []byte) []byte {
	t.Helper()
	if unprot == nil {
		unprot = cose.UnprotectedHeader{}
	}
	tbs, err := refDeterministicCBOR.Marshal([]any{"Signature1", inner, []byte{}, payload})
	if err != nil {
		t.Fatal(err)
	}
	out, err := refDeterministicCBOR.Marshal(cbor.Tag{Number: coseSign1Tag, Content: []any{inner, map[any]any(unprot), payload, es256(t, key, tbs)}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (w *world) coseHdr(extra map[any]any) cose.ProtectedHeader {
	uri := "dns:" + nFull + "?type=TLSA"
	h := cose.ProtectedHeader{labelAlg: cose.AlgorithmES256, labelX5U: uri, labelKid: []byte(uri),
		labelCWTClaims: map[any]any{claimIat: w.clock.Now().Unix(), claimCti: []byte(randomID())}}
	for k, v := range extra {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// TestAttacks tries to get a message past each check; every one must be
// refused with its reason.
func TestAttacks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	attacker := testident.SelfSigned(t, nFull, identity.KeyECDSAP256)
	good := w.signer(nFull, w.full, false)
	payload := []byte("21.5")

	tamper := func(m []byte) []byte {
		parts := strings.Split(string(m), ".")
		parts[1] = b64u.EncodeToString([]byte("99.9"))
		return []byte(strings.Join(parts, "."))
	}
	goodCOSE := mustSign(t, good, payload, COSE)
	tamperedCOSE := []byte(strings.Replace(string(goodCOSE), "21.5", "99.9", 1))
	hmacKey := w.full.SPKI()
	hsInput := b64u.EncodeToString([]byte(w.hdr(map[string]any{"alg": "HS256"}))) + "." + b64u.EncodeToString(payload)
	mac := hmac.New(sha256.New, hmacKey)
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + b64u.EncodeToString(mac.Sum(nil))
	jsonWith := func(protected string, unprotected map[string]any) []byte {
		in := b64u.EncodeToString([]byte(protected)) + "." + b64u.EncodeToString(payload)
		b, _ := json.Marshal(map[string]any{
			"payload":   b64u.EncodeToString(payload),
			"protected": b64u.EncodeToString([]byte(protected)),
			"header":    unprotected,
			"signature": b64u.EncodeToString(es256(t, w.full.Key, []byte(in))),
		})
		return b
	}
	uri := "dns:" + nFull + "?type=TLSA"
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}

	for _, c := range []struct {
		name string
		msg  []byte
		want error
	}{
		// Controls: the attacker's tools make messages that pass when
		// nothing is wrong with them.
		{"control: crafted JWS", []byte(craftJWS(t, w.full.Key, w.hdr(nil), payload)), nil},
		{"control: crafted JWS JSON", jsonWith(w.hdr(nil), map[string]any{"x-note": "unprotected, harmless"}), nil},
		{"control: JWS JSON, general serialisation", general(jsonWith(w.hdr(nil), nil)), nil},
		{"JWS JSON mixing general and flattened", mixed(jsonWith(w.hdr(nil), nil)), ErrMalformed},
		{"control: kid alone names the signer", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"x5u": nil, "kid": uri}), payload)), nil},
		{"control: COSE kid alone", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelX5U: nil}), nil, payload), nil},
		{"control: URI in upper case, with class", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"x5u": "DNS:SENSOR1._device.example.test.?CLASS=IN;Type=tlsa"}), payload)), nil},
		{"dns: URI with type twice", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"x5u": "dns:" + nFull + "?type=TLSA;type=TLSA"}), payload)), ErrHeader},
		{"control: crafted COSE", craftCOSE(t, w.full.Key, w.coseHdr(nil), nil, payload), nil},
		{"forged: signed by another key", []byte(craftJWS(t, attacker.Key, w.hdr(nil), payload)), ErrBadSignature},
		{"forged: another key carried in a self-made certificate", mustSign(t, w.signer(nFull, attacker, true), payload, JWSCompact), verify.ErrNoMatch},
		{"forged: COSE signed by another key", craftCOSE(t, attacker.Key, w.coseHdr(nil), nil, payload), ErrBadSignature},
		{"tampered payload", tamper(mustSign(t, good, payload, JWSCompact)), ErrBadSignature},
		{"tampered COSE payload", tamperedCOSE, ErrBadSignature},
		{"alg none", []byte(b64u.EncodeToString([]byte(w.hdr(map[string]any{"alg": "none"}))) + "." + b64u.EncodeToString(payload) + "."), ErrAlgorithm},
		{"alg none with a signature", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"alg": "none"}), payload)), ErrAlgorithm},
		{"alg HS256 keyed with the public key", []byte(hs256), ErrAlgorithm},
		{"alg ES384 for a P-256 key", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"alg": "ES384"}), payload)), ErrKeyMismatch},
		{"alg EdDSA for a P-256 key", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"alg": "EdDSA"}), payload)), ErrKeyMismatch},
		{"COSE alg EdDSA for a P-256 key", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelAlg: cose.AlgorithmEdDSA}), nil, payload), ErrKeyMismatch},
		{"COSE alg ES384", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelAlg: cose.AlgorithmES384}), nil, payload), ErrAlgorithm},
		{"no alg", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"alg": nil}), payload)), ErrAlgorithm},
		{"unprotected kid (JWS JSON)", jsonWith(w.hdr(map[string]any{"x5u": nil, "kid": uri}), map[string]any{"kid": "dns:" + nEd + "?type=TLSA"}), ErrHeader},
		{"unprotected x5u (JWS JSON)", jsonWith(w.hdr(nil), map[string]any{"x5u": uri}), ErrHeader},
		{"identity only unprotected (JWS JSON)", jsonWith(w.hdr(map[string]any{"x5u": nil}), map[string]any{"x5u": uri}), ErrHeader},
		{"unprotected kid (COSE)", craftCOSE(t, w.full.Key, w.coseHdr(nil), cose.UnprotectedHeader{labelKid: []byte(uri)}, payload), ErrHeader},
		{"identity only unprotected (COSE)", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelX5U: nil, labelKid: nil}), cose.UnprotectedHeader{labelKid: []byte(uri)}, payload), ErrHeader},
		{"unprotected x5chain (COSE)", craftCOSE(t, w.full.Key, w.coseHdr(nil), cose.UnprotectedHeader{labelX5Chain: attacker.Cert.Raw}, payload), ErrHeader},
		{"embedded jwk", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"jwk": jwk}), payload)), ErrHeader},
		{"embedded jwk unprotected", jsonWith(w.hdr(nil), map[string]any{"jwk": jwk}), ErrHeader},
		{"jku", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"jku": "https://attacker.example/keys"}), payload)), ErrHeader},
		{"crit unknown", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"crit": []string{"x-dance"}, "x-dance": 1}), payload)), ErrCritical},
		{"crit empty", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"crit": []string{}}), payload)), ErrCritical},
		{"crit unprotected", jsonWith(w.hdr(nil), map[string]any{"crit": []string{"exp"}}), ErrHeader},
		{"COSE crit unknown", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelCrit: []any{int64(-70000)}, int64(-70000): true}), nil, payload), ErrCritical},
		{"b64 false", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"b64": false}), payload)), ErrHeader},
		{"no identity", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"x5u": nil}), payload)), ErrHeader},
		{"x5u and kid disagree", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"kid": "dns:" + nEd + "?type=TLSA"}), payload)), ErrHeader},
		{"x5u over https", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"x5u": "https://example.test/cert.pem"}), payload)), ErrHeader},
		{"dns: URI with an authority", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"x5u": "dns://192.0.2.1/" + nFull + "?type=TLSA"}), payload)), ErrHeader},
		{"dns: URI without type", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"x5u": "dns:" + nFull}), payload)), ErrHeader},
		{"dns: URI of type A", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"x5u": "dns:" + nFull + "?type=A"}), payload)), ErrHeader},
		{"dns: URI percent-encoded", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"x5u": "dns:sensor%31._device.example.test?type=TLSA"}), payload)), ErrHeader},
		{"no iat", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"iat": nil}), payload)), ErrMissingClaim},
		{"no jti", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"jti": nil}), payload)), ErrMissingClaim},
		{"iat not a number", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"iat": "now"}), payload)), ErrHeader},
		{"expired by exp", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"exp": w.clock.Now().Add(-time.Minute).Unix()}), payload)), ErrExpired},
		{"too old", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"iat": w.clock.Now().Add(-DefaultMaxAge - DefaultSkew - time.Second).Unix()}), payload)), ErrExpired},
		{"issued in the future", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"iat": w.clock.Now().Add(time.Hour).Unix()}), payload)), ErrNotYetValid},
		{"not before the future", []byte(craftJWS(t, w.full.Key, w.hdr(map[string]any{"nbf": w.clock.Now().Add(time.Hour).Unix()}), payload)), ErrNotYetValid},
		{"COSE expired", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelCWTClaims: map[any]any{claimIat: w.clock.Now().Add(-time.Hour).Unix(), claimCti: []byte("x")}}), nil, payload), ErrExpired},
		{"COSE no cti", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelCWTClaims: map[any]any{claimIat: w.clock.Now().Unix()}}), nil, payload), ErrMissingClaim},
		{"duplicate member in the protected header", []byte(craftJWS(t, w.full.Key, strings.Replace(w.hdr(nil), `{"alg":"ES256",`, `{"alg":"ES256","alg":"none",`, 1), payload)), ErrMalformed},
		{"duplicate payload member (JWS JSON)", []byte(strings.Replace(string(jsonWith(w.hdr(nil), nil)), `{"header":null,`, `{"payload":"OTkuOQ","header":null,`, 1)), ErrMalformed},
		{"padded base64", []byte(craftJWS(t, w.full.Key, w.hdr(nil), payload) + "=="), ErrMalformed},
		{"standard base64 alphabet", []byte(strings.NewReplacer("-", "+", "_", "/").Replace(craftJWS(t, w.full.Key, w.hdr(map[string]any{"jti": "??>>??>>"}), []byte("???>>>")))), ErrMalformed},
		{"two signatures (JWS JSON)", []byte(`{"payload":"eA","signatures":[{"protected":"e30","signature":"eA"},{"protected":"e30","signature":"eA"}]}`), ErrMalformed},
		{"deeply nested JSON", []byte(`{"payload":"eA","protected":"e30","signature":"eA","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`), ErrMalformed},
		{"deeply nested protected header", []byte(craftJWS(t, w.full.Key, strings.Replace(w.hdr(nil), `{`, `{"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`,`, 1), payload)), ErrMalformed},
		{"deeply nested CBOR", append([]byte{0xd2, 0x84, 0x40, 0xa0}, append([]byte(strings.Repeat("\x81", 40)), 0x40, 0x40)...), ErrMalformed},
		{"COSE_Sign (tag 98) instead of COSE_Sign1", append([]byte{0xd8, 0x62}, goodCOSE[1:]...), ErrMalformed},
		{"CBOR after the message", append(append([]byte{}, goodCOSE...), 0x00), ErrMalformed},
		{"non-deterministic CBOR: long-form length", nonMinimal(t, goodCOSE), ErrMalformed},
		{"non-deterministic CBOR: unsorted protected map", unsortedProtected(t, w, false), ErrMalformed},
		{"control: the same protected map sorted", unsortedProtected(t, w, true), nil},
		{"COSE_Sign1 of three elements", []byte{0xd2, 0x83, 0x40, 0xa0, 0x40}, ErrMalformed},
		{"COSE detached payload", []byte{0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40}, ErrMalformed},
		{"COSE payload not a byte string", []byte{0xd2, 0x84, 0x40, 0xa0, 0x61, 'x', 0x40}, ErrMalformed},
		{"COSE unprotected header not a map", []byte{0xd2, 0x84, 0x40, 0x80, 0x40, 0x40}, ErrMalformed},
		{"COSE protected header not a map", craftCOSERaw(t, w.full.Key, []byte{0x81, 0x01}, nil, payload), ErrMalformed},
		{"COSE protected header not in a byte string", []byte{0xd2, 0x84, 0xa0, 0xa0, 0x40, 0x40}, ErrMalformed},
		{"COSE text label empty", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{"": 1}), nil, payload), ErrMalformed},
		{"COSE alg as text", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelAlg: "ES256"}), nil, payload), ErrAlgorithm},
		{"COSE no alg", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelAlg: nil}), nil, payload), ErrAlgorithm},
		{"COSE x5u not text", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelX5U: []byte("dns:" + nFull + "?type=TLSA")}), nil, payload), ErrHeader},
		{"COSE kid empty", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelX5U: nil, labelKid: []byte{}}), nil, payload), ErrHeader},
		{"COSE x5chain of one in an array", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelX5Chain: []any{w.full.Cert.Raw}}), nil, payload), ErrHeader},
		{"COSE x5chain holding text", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelX5Chain: []any{w.full.Cert.Raw, "x"}}), nil, payload), ErrHeader},
		{"COSE seq not text", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{hdrSeq: int64(1)}), nil, payload), ErrHeader},
		{"COSE seq unprotected", craftCOSE(t, w.full.Key, w.coseHdr(nil), cose.UnprotectedHeader{hdrSeq: "s.1"}, payload), ErrHeader},
		{"COSE CWT claims not a map", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelCWTClaims: []any{}}), nil, payload), ErrHeader},
		{"COSE iat negative", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelCWTClaims: map[any]any{claimIat: int64(-1), claimCti: []byte("x")}}), nil, payload), ErrHeader},
		{"COSE iat as text", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelCWTClaims: map[any]any{claimIat: "now", claimCti: []byte("x")}}), nil, payload), ErrHeader},
		{"COSE cti too long", craftCOSE(t, w.full.Key, w.coseHdr(map[any]any{labelCWTClaims: map[any]any{claimIat: w.clock.Now().Unix(), claimCti: make([]byte, maxID+1)}}), nil, payload), ErrHeader},
		{"COSE crit unprotected", craftCOSE(t, w.full.Key, w.coseHdr(nil), cose.UnprotectedHeader{labelCrit: []any{int64(4)}}, payload), ErrHeader},
		{"control: COSE with an unknown unprotected label", craftCOSE(t, w.full.Key, w.coseHdr(nil), cose.UnprotectedHeader{int64(-70000): 1, "note": "x"}, payload), nil},
		{"empty", nil, ErrMalformed},
		{"too large", []byte(strings.Repeat("A", DefaultMaxSize+1)), ErrTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := w.verifier(t, Config{})
			_, err := v.Verify(ctx, c.msg)
			if c.want == nil && err != nil || !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// general rewrites a flattened JWS JSON serialisation in the general one
// (RFC 7515 §7.2.1), with its one signature in "signatures".
func general(flat []byte) []byte {
	var f map[string]any
	json.Unmarshal(flat, &f)
	sig := map[string]any{"protected": f["protected"], "signature": f["signature"]}
	if f["header"] != nil {
		sig["header"] = f["header"]
	}
	b, _ := json.Marshal(map[string]any{"payload": f["payload"], "signatures": []any{sig}})
	return b
}

// mixed keeps the flattened signature beside the general one.
func mixed(flat []byte) []byte {
	var g map[string]any
	json.Unmarshal(general(flat), &g)
	var f map[string]any
	json.Unmarshal(flat, &f)
	g["signature"] = f["signature"]
	b, _ := json.Marshal(g)
	return b
}

// nonMinimal re-encodes the payload length of a COSE_Sign1 whose payload
// is shorter than 24 bytes with a one-byte argument: the same value, not
// the shortest form (RFC 8949 §4.2.1).
func nonMinimal(t *testing.T, m []byte) []byte {
	t.Helper()
	i := strings.Index(string(m), "\x4421.5")
	if i < 0 {
		t.Fatal("payload not found")
	}
	return append(append(append([]byte{}, m[:i]...), 0x58, 0x04), m[i+1:]...)
}

// unsortedProtected signs a COSE_Sign1 whose protected map lists its keys
// out of the deterministic order; the signature is good.
func unsortedProtected(t *testing.T, w *world, sorted bool) []byte {
	t.Helper()
	uri := "dns:" + nFull + "?type=TLSA"
	// {35: uri, 1: -7, 15: {6: iat, 7: cti}}: 35 (0x18 0x23) sorts after 1.
	det, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	// Sorted keys (RFC 8949 §4.2.1): a Go map iterates in random order.
	claims, _ := det.Marshal(map[int64]any{claimIat: w.clock.Now().Unix(), claimCti: []byte("u1")})
	u, _ := cbor.Marshal(uri)
	x5u := append([]byte{0x18, 0x23}, u...)
	alg := []byte{0x01, 0x26}
	cwt := append([]byte{0x0f}, claims...)
	inner := []byte{0xa3}
	if sorted {
		inner = append(append(append(inner, alg...), cwt...), x5u...)
	} else {
		inner = append(append(append(inner, x5u...), alg...), cwt...)
	}
	return craftCOSERaw(t, w.full.Key, inner, nil, []byte("21.5"))
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReplay checks that a message is accepted once, that its id is
// remembered only while it could be accepted, and that a full memory
// refuses rather than forgets.
func TestReplay(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v := w.verifier(t, Config{ReplayPerSigner: 2})
	s := w.signer(nFull, w.full, false)
	for _, f := range []Format{JWSCompact, COSE} {
		m := mustSign(t, s, []byte("x"), f)
		if _, err := v.Verify(ctx, m); err != nil {
			t.Fatalf("%v first: %v", f, err)
		}
		if _, err := v.Verify(ctx, m); !errors.Is(err, ErrReplayed) {
			t.Fatalf("%v replayed: %v", f, err)
		}
	}
	// Two ids remembered: a third message of the same signer is refused
	// while they could still be accepted.
	if _, err := v.Verify(ctx, mustSign(t, s, []byte("y"), JWSCompact)); !errors.Is(err, ErrReplayFull) {
		t.Fatalf("full: %v", err)
	}
	// Another signer has its own share.
	if _, err := v.Verify(ctx, mustSign(t, w.signer(nEd, w.ed, false), []byte("y"), JWSCompact)); err != nil {
		t.Fatalf("another signer: %v", err)
	}
	// Once the first messages can no longer be accepted, their ids are
	// dropped for new messages; the old ones are refused as expired.
	old := mustSign(t, s, []byte("z"), JWSCompact)
	w.clock.Advance(DefaultMaxAge + DefaultSkew + time.Second)
	if _, err := v.Verify(ctx, mustSign(t, s, []byte("y"), JWSCompact)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if _, err := v.Verify(ctx, old); !errors.Is(err, ErrExpired) {
		t.Fatalf("old message: %v", err)
	}
}

// TestTruncated cuts valid messages at every length: each must be refused
// as malformed (or, for a JWS cut inside its signature, as a bad
// signature), and nothing may panic.
func TestTruncated(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v := w.verifier(t, Config{})
	for _, f := range []Format{JWSCompact, JWSJSON, COSE} {
		m := mustSign(t, w.signer(nDigest, w.digest, true), []byte("21.5"), f)
		for n := 0; n < len(m); n++ {
			_, err := v.Verify(ctx, m[:n])
			if err == nil {
				t.Fatalf("%v cut at %d accepted", f, n)
			}
			if r := ReasonOf(err); r != ReasonMalformed && r != ReasonBadSignature && r != ReasonHeader {
				t.Fatalf("%v cut at %d: %v", f, n, err)
			}
		}
	}
}
