package message

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
)

// TestJWSSignatureAgreesWithGoJose checks the signature step against
// go-jose's own verification, for each algorithm, on the signed message
// and on altered ones: both accept the one and refuse the others.
func TestJWSSignatureAgreesWithGoJose(t *testing.T) {
	t.Parallel()
	creds := map[Algorithm]testident.Cred{
		ES256: testident.SelfSigned(t, nFull, identity.KeyECDSAP256),
		ES384: p384(t, nES384),
		EdDSA: testident.SelfSigned(t, nEd, identity.KeyEd25519),
		PS256: testident.SelfSigned(t, nRSA, identity.KeyRSA2048),
	}
	other := testident.SelfSigned(t, nFull, identity.KeyECDSAP256)
	for alg, c := range creds {
		s := &Signer{Name: nFull, Key: c.Key}
		msg := string(mustSign(t, s, []byte("21.5"), JWSCompact))
		parts := strings.Split(msg, ".")
		sig, _ := b64(parts[2], "")
		flip := func(i int) string {
			b := append([]byte(nil), sig...)
			b[i] ^= 1
			return enc(b)
		}
		cases := map[string]struct {
			msg string
			key crypto.PublicKey
			ok  bool
		}{
			"signed":               {msg, c.Key.Public(), true},
			"first byte flipped":   {parts[0] + "." + parts[1] + "." + flip(0), c.Key.Public(), false},
			"last byte flipped":    {parts[0] + "." + parts[1] + "." + flip(len(sig)-1), c.Key.Public(), false},
			"signature cut short":  {parts[0] + "." + parts[1] + "." + enc(sig[:len(sig)-1]), c.Key.Public(), false},
			"signature lengthened": {parts[0] + "." + parts[1] + "." + enc(append(append([]byte(nil), sig...), 0)), c.Key.Public(), false},
			"payload changed":      {parts[0] + "." + enc([]byte("99.9")) + "." + parts[2], c.Key.Public(), false},
			"another key":          {msg, other.Key.Public(), false},
			"empty signature":      {parts[0] + "." + parts[1] + ".", c.Key.Public(), false},
		}
		if alg == ES256 {
			// The same R and S in DER, as crypto/ecdsa's SignASN1 gives
			// them: valid elsewhere, not a JWS signature (RFC 7518 §3.4).
			der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
			if err != nil {
				t.Fatal(err)
			}
			cases["DER signature"] = struct {
				msg string
				key crypto.PublicKey
				ok  bool
			}{parts[0] + "." + parts[1] + "." + enc(der), c.Key.Public(), false}
			// A genuine ES256 signature by the key, over other bytes.
			d := sha256.Sum256([]byte("other"))
			r, s2, err := ecdsa.Sign(rand.Reader, c.Key.(*ecdsa.PrivateKey), d[:])
			if err != nil {
				t.Fatal(err)
			}
			raw := append(r.FillBytes(make([]byte, 32)), s2.FillBytes(make([]byte, 32))...)
			cases["signature over other bytes"] = struct {
				msg string
				key crypto.PublicKey
				ok  bool
			}{parts[0] + "." + parts[1] + "." + enc(raw), c.Key.Public(), false}
		}
		for name, tc := range cases {
			var ours error
			p, err := parseJWS([]byte(tc.msg))
			if err != nil {
				ours = err
			} else {
				_, ours = p.check(tc.key)
			}
			var lib error
			obj, err := jose.ParseSignedCompact(tc.msg, joseAlgorithms)
			if err != nil {
				lib = err
			} else {
				_, lib = obj.Verify(tc.key)
			}
			if (ours == nil) != tc.ok || (lib == nil) != tc.ok {
				t.Errorf("%s %s: ours %v, go-jose %v, want ok=%v", alg, name, ours, lib, tc.ok)
			}
		}
	}
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestJWSSignatureAlgorithmKeyMismatch: a signature made by the key, in
// the shape alg asks for, is refused when alg is not the key's algorithm
// (a P-256 key signing a SHA-384 digest as "ES384", a P-384 key signing
// as "ES256", a 1024-bit RSA key as "PS256", a key type alg does not
// name).
func TestJWSSignatureAlgorithmKeyMismatch(t *testing.T) {
	t.Parallel()
	input := []byte("eyJhbGciOiJFUzM4NCJ9.MjEuNQ")
	ecSign := func(curve elliptic.Curve, digest []byte) (crypto.PublicKey, []byte) {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		size := (curve.Params().BitSize + 7) / 8
		return &k.PublicKey, append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
	}
	d256, d384 := sha256.Sum256(input), sha512.Sum384(input)
	p256Pub, p256As384 := ecSign(elliptic.P256(), d384[:])
	p384Pub, p384As256 := ecSign(elliptic.P384(), d256[:])
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	shortSig, err := rsa.SignPSS(rand.Reader, short, crypto.SHA256, d256[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		alg  Algorithm
		pub  crypto.PublicKey
		sig  []byte
	}{
		{"ES384 with a P-256 key", ES384, p256Pub, p256As384},
		{"ES256 with a P-384 key", ES256, p384Pub, p384As256},
		{"PS256 with a 1024-bit key", PS256, &short.PublicKey, shortSig},
		{"ES256 with an Ed25519 key", ES256, edPub, ed25519.Sign(edKey, input)},
		{"EdDSA with a P-256 key", EdDSA, p256Pub, p256As384},
		{"PS256 with a P-256 key", PS256, p256Pub, p256As384},
		{"an unknown alg", "ES512", p256Pub, p256As384},
	} {
		if err := verifyJWSSignature(c.alg, c.pub, input, c.sig); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	// The same signatures verify under the right algorithm, so the
	// refusals above are the mismatch and nothing else.
	if err := verifyJWSSignature(EdDSA, edPub, input, ed25519.Sign(edKey, input)); err != nil {
		t.Errorf("EdDSA with its key: %v", err)
	}
}
