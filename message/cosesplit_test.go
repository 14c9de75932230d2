package message

import (
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/veraison/go-cose"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
)

// parseCOSELibrary is the COSE_Sign1 decoder parseCOSE replaced: go-cose's
// decode (after the same deterministic-CBOR checks) and coseHeader's rules
// on its maps. The tests hold the two to the same readings.
func parseCOSELibrary(msg []byte) (*parsed, *cose.Sign1Message, error) {
	m, err := decodeSign1(msg)
	if err != nil {
		return nil, nil, err
	}
	p, err := coseHeader(m.Headers)
	if err != nil {
		return nil, nil, err
	}
	for _, l := range coseCountersignLabels {
		if _, ok := m.Headers.Unprotected[l]; ok {
			p.counter = func() (*parsed, error) { return parseCountersignature(m) }
			break
		}
	}
	return p, m, nil
}

// libraryVerify checks m's signature with go-cose.
func libraryVerify(m *cose.Sign1Message, pub crypto.PublicKey) error {
	alg, err := m.Headers.Protected.Algorithm()
	if err != nil {
		return err
	}
	v, err := cose.NewVerifier(alg, pub)
	if err != nil {
		return err
	}
	return m.Verify(nil, v)
}

// sameParsed reports how two readings of one message differ ("" when
// they agree).
func sameParsed(a, b *parsed) string {
	switch {
	case a.name != b.name:
		return "name " + a.name + " / " + b.name
	case a.alg != b.alg:
		return "alg"
	case !a.iat.Equal(b.iat) || !a.exp.Equal(b.exp) || !a.nbf.Equal(b.nbf):
		return "times"
	case a.id != b.id:
		return "id"
	case (a.seq == nil) != (b.seq == nil) || a.seq != nil && *a.seq != *b.seq:
		return "seq"
	case len(a.chain) != len(b.chain):
		return "chain"
	case (a.counter == nil) != (b.counter == nil):
		return "countersignature"
	}
	for i := range a.chain {
		if !a.chain[i].Equal(b.chain[i]) {
			return "chain"
		}
	}
	return ""
}

// TestCOSESignatureAgreesWithGoCose checks the Sig_structure parseCOSE
// builds against go-cose's verification of the same messages: the same
// verdict for the signed message and for every change to it.
func TestCOSESignatureAgreesWithGoCose(t *testing.T) {
	t.Parallel()
	creds := map[Algorithm]testident.Cred{
		ES256: testident.SelfSigned(t, nFull, identity.KeyECDSAP256),
		EdDSA: testident.SelfSigned(t, nEd, identity.KeyEd25519),
	}
	other := testident.SelfSigned(t, nFull, identity.KeyECDSAP256)
	for alg, c := range creds {
		for _, carry := range []bool{false, true} {
			s := &Signer{Name: nFull, Key: c.Key, Lifetime: 60e9}
			seq, err := NewSequence()
			if err != nil {
				t.Fatal(err)
			}
			s.Seq = seq
			if carry {
				s.Chain = []*x509.Certificate{c.Cert}
			}
			msg := mustSign(t, s, []byte("21.5"), COSE)
			last := len(msg) - 1 // ES256 and Ed25519 signatures are 64 bytes, last in the message
			flip := func(i int) []byte {
				b := append([]byte(nil), msg...)
				b[i] ^= 1
				return b
			}
			cases := map[string]struct {
				msg []byte
				key crypto.PublicKey
				ok  bool
			}{
				"signed":                       {msg, c.Key.Public(), true},
				"last byte flipped":            {flip(last), c.Key.Public(), false},
				"first signature byte flipped": {flip(last - 63), c.Key.Public(), false},
				"another key":                  {msg, other.Key.Public(), false},
			}
			for name, tc := range cases {
				p, err := parseCOSE(tc.msg)
				if err != nil {
					t.Fatalf("%s carry=%v %s: %v", alg, carry, name, err)
				}
				lp, m, err := parseCOSELibrary(tc.msg)
				if err != nil {
					t.Fatalf("%s carry=%v %s: library: %v", alg, carry, name, err)
				}
				if d := sameParsed(p, lp); d != "" {
					t.Fatalf("%s carry=%v %s: the readings differ in %s", alg, carry, name, d)
				}
				var ours error
				if fits(alg, tc.key) == nil {
					_, ours = p.check(tc.key)
				} else {
					ours = fits(alg, tc.key)
				}
				theirs := libraryVerify(m, tc.key)
				if (ours == nil) != tc.ok || (theirs == nil) != tc.ok {
					t.Fatalf("%s carry=%v %s: ours %v, go-cose %v, want ok=%v", alg, carry, name, ours, theirs, tc.ok)
				}
			}
		}
	}
}
