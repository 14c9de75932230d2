package message

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// TestSignVerify signs with every algorithm, format and way a record can
// select the key, and checks who the verifier says signed.
func TestSignVerify(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v := w.verifier(t, Config{})
	payload := []byte(`{"temperature":21.5}`)
	type tc struct {
		name    string
		s       *Signer
		formats []Format
		alg     Algorithm
		keyFrom string
		usage   tlsa.Usage
		mtype   tlsa.MatchingType
		user    string
	}
	jws := []Format{JWSCompact, JWSJSON}
	all := []Format{JWSCompact, JWSJSON, COSE}
	issuedChain := &Signer{Name: nIssued, Key: w.issued.Key, Chain: []*x509.Certificate{w.issued.Cert, w.org.Cert}, Time: w.clock.Now}
	alice := &Signer{Name: nUsers, Key: w.alice.Key, Chain: []*x509.Certificate{w.alice.Cert, w.users.Cert}, Time: w.clock.Now}
	for _, c := range []tc{
		{"3 1 0 ES256 key from the record", w.signer(nFull, w.full, false), all, ES256, "record", tlsa.DANEEE, tlsa.MatchFull, ""},
		{"3 1 0 EdDSA key from the record", w.signer(nEd, w.ed, false), all, EdDSA, "record", tlsa.DANEEE, tlsa.MatchFull, ""},
		{"3 1 0 PS256 key from the record", w.signer(nRSA, w.rsa, false), jws, PS256, "record", tlsa.DANEEE, tlsa.MatchFull, ""},
		{"3 1 0 ES384 key from the record", w.signer(nES384, w.es384, false), jws, ES384, "record", tlsa.DANEEE, tlsa.MatchFull, ""},
		{"3 1 0 with a carried certificate", w.signer(nFull, w.full, true), all, ES256, "certificate", tlsa.DANEEE, tlsa.MatchFull, ""},
		{"3 1 1 with a carried certificate", w.signer(nDigest, w.digest, true), all, ES256, "certificate", tlsa.DANEEE, tlsa.MatchSHA256, ""},
		{"3 0 1 with a carried certificate", w.signer(nCert, w.cert, true), all, EdDSA, "certificate", tlsa.DANEEE, tlsa.MatchSHA256, ""},
		{"2 0 1 with the chain", issuedChain, all, ES256, "certificate", tlsa.DANETA, tlsa.MatchSHA256, ""},
		{"user CA 2 0 1", alice, all, ES256, "certificate", tlsa.DANETA, tlsa.MatchSHA256, "alice@example.test"},
	} {
		for _, f := range c.formats {
			t.Run(c.name+"/"+f.String(), func(t *testing.T) {
				m, err := v.Verify(ctx, mustSign(t, c.s, payload, f))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(m.Payload, payload) || m.Format != f || m.Algorithm != c.alg || m.KeyFrom != c.keyFrom {
					t.Errorf("got payload %q format %v alg %v key from %s", m.Payload, m.Format, m.Algorithm, m.KeyFrom)
				}
				if m.Signer.Name != identity.MustParseName(c.s.Name).String() || m.Signer.Record.Usage != c.usage || m.Signer.Record.MatchingType != c.mtype || m.Signer.User != c.user {
					t.Errorf("signer %+v", m.Signer)
				}
				if m.IssuedAt.Unix() != w.clock.Now().Unix() || m.ID == "" {
					t.Errorf("issued at %v id %q", m.IssuedAt, m.ID)
				}
			})
		}
	}
}

// TestSignRefuses checks what a Signer will not sign.
func TestSignRefuses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for name, s := range map[string]*Signer{
		"no key":               {Name: nFull},
		"bad name":             {Name: "sensor1..example", Key: w.full.Key},
		"chain of another key": {Name: nFull, Key: w.full.Key, Chain: []*x509.Certificate{w.digest.Cert}},
		"RSA in COSE":          {Name: nRSA, Key: w.rsa.Key},
	} {
		if _, err := s.Sign([]byte("x"), COSE); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

// TestVerifyNoKey checks that a digest record without a carried
// certificate gives no key, and that the core's refusals come through.
func TestVerifyNoKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v := w.verifier(t, Config{})
	for _, c := range []struct {
		name string
		s    *Signer
		want error
		core error
	}{
		{"3 1 1 without the certificate", w.signer(nDigest, w.digest, false), ErrNoKey, verify.ErrNoUsableRecords},
		{"revoked", &Signer{Name: nRevoked, Key: w.full.Key, Time: w.clock.Now}, ErrSigner, verify.ErrRevoked},
		{"revoked, certificate carried", &Signer{Name: nRevoked, Key: w.full.Key, Chain: []*x509.Certificate{w.full.Cert}, Time: w.clock.Now}, ErrSigner, verify.ErrRevoked},
		{"never published", &Signer{Name: nGone, Key: w.full.Key, Time: w.clock.Now}, ErrSigner, verify.ErrNoRecord},
		{"not allowed", &Signer{Name: "sensor1._device.other.test", Key: w.full.Key, Time: w.clock.Now}, ErrSigner, verify.ErrNotAllowed},
		{"carried certificate of another name's key", &Signer{Name: nDigest, Key: w.full.Key, Chain: []*x509.Certificate{w.full.Cert}, Time: w.clock.Now}, ErrSigner, verify.ErrNoMatch},
	} {
		for _, f := range []Format{JWSCompact, COSE} {
			_, err := v.Verify(ctx, mustSign(t, c.s, []byte("x"), f))
			if !errors.Is(err, c.want) || !errors.Is(err, c.core) {
				t.Errorf("%s/%v: got %v, want %v and %v", c.name, f, err, c.want, c.core)
			}
		}
	}
}
