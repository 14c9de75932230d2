package sigalg

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/trace"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

const testdata = "../../testdata/"

// TestSignedContentLayout is the example of RFC 8446 §4.4.3: a server
// CertificateVerify over a transcript hash of 32 octets of 01.
func TestSignedContentLayout(t *testing.T) {
	want := strings.Repeat("20", 64) +
		"544c5320312e332c207365727665722043657274696669636174655665726966" + "79" +
		"00" + strings.Repeat("01", 32)
	got := hex.EncodeToString(SignedContent(ServerContext, bytes.Repeat([]byte{1}, 32)))
	if got != want {
		t.Fatalf("content\n got %s\nwant %s", got, want)
	}
}

type flight struct {
	msgs map[string][][]byte
	tr   *trace.Trace
}

func load(t *testing.T, file string) flight {
	t.Helper()
	tr, err := trace.Load(testdata + file)
	if err != nil {
		t.Fatal(err)
	}
	f := flight{map[string][][]byte{}, tr}
	for _, s := range tr.Steps {
		if strings.HasPrefix(s.Action, "construct a") && strings.HasSuffix(s.Action, "handshake message") {
			f.msgs[s.Order[0]] = append(f.msgs[s.Order[0]], s.Values[s.Order[0]])
		}
	}
	return f
}

func leafKey(t *testing.T, certMsg []byte) crypto.PublicKey {
	t.Helper()
	var c wire.Certificate
	if err := c.Unmarshal(certMsg); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(c.Entries[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	return cert.PublicKey
}

func hashOf(msgs ...[]byte) []byte {
	h := sha256.New()
	for _, m := range msgs {
		h.Write(m)
	}
	return h.Sum(nil)
}

// TestRFC8448ServerSignature verifies the server's CertificateVerify of RFC
// 8448 §3 (rsa_pss_rsae_sha256) over ClientHello..Certificate, and refuses
// it once anything it covers changes.
func TestRFC8448ServerSignature(t *testing.T) {
	f := load(t, "rfc8448-section3.txt")
	var ch wire.ClientHello
	if err := ch.Unmarshal(f.msgs["ClientHello"][0]); err != nil {
		t.Fatal(err)
	}
	var cv wire.CertificateVerify
	if err := cv.Unmarshal(f.msgs["CertificateVerify"][0]); err != nil {
		t.Fatal(err)
	}
	pub := leafKey(t, f.msgs["Certificate"][0])
	th := hashOf(f.msgs["ClientHello"][0], f.msgs["ServerHello"][0], f.msgs["EncryptedExtensions"][0], f.msgs["Certificate"][0])
	if err := Verify(pub, cv.Algorithm, ch.SignatureAlgorithms, ServerContext, th, cv.Signature); err != nil {
		t.Fatalf("RFC 8448 signature refused: %v", err)
	}

	bad := bytes.Clone(cv.Signature)
	bad[10] ^= 1
	wantAlert(t, Verify(pub, cv.Algorithm, ch.SignatureAlgorithms, ServerContext, th, bad), alert.DecryptError)
	wantAlert(t, Verify(pub, cv.Algorithm, ch.SignatureAlgorithms, ClientContext, th, cv.Signature), alert.DecryptError)
	th2 := bytes.Clone(th)
	th2[0] ^= 1
	wantAlert(t, Verify(pub, cv.Algorithm, ch.SignatureAlgorithms, ServerContext, th2, cv.Signature), alert.DecryptError)
	wantAlert(t, Verify(pub, cv.Algorithm, []uint16{wire.SigEd25519}, ServerContext, th, cv.Signature), alert.IllegalParameter)
	wantAlert(t, Verify(pub, wire.SigRSAPKCS1SHA256, []uint16{wire.SigRSAPKCS1SHA256}, ServerContext, th, cv.Signature), alert.IllegalParameter)
}

// TestTraceClientSignature verifies the client's CertificateVerify of the
// client authentication trace over ClientHello..client Certificate.
func TestTraceClientSignature(t *testing.T) {
	f := load(t, "draft-tls13-vectors-clientauth.txt")
	var cv wire.CertificateVerify
	if err := cv.Unmarshal(f.msgs["CertificateVerify"][1]); err != nil {
		t.Fatal(err)
	}
	var cr wire.CertificateRequest
	if err := cr.Unmarshal(f.msgs["CertificateRequest"][0]); err != nil {
		t.Fatal(err)
	}
	th := hashOf(f.msgs["ClientHello"][0], f.msgs["ServerHello"][0], f.msgs["EncryptedExtensions"][0],
		f.msgs["CertificateRequest"][0], f.msgs["Certificate"][0], f.msgs["CertificateVerify"][0], f.msgs["Finished"][0],
		f.msgs["Certificate"][1])
	pub := leafKey(t, f.msgs["Certificate"][1])
	if err := Verify(pub, cv.Algorithm, cr.SignatureAlgorithms, ClientContext, th, cv.Signature); err != nil {
		t.Fatalf("client signature refused: %v", err)
	}
	wantAlert(t, Verify(pub, cv.Algorithm, cr.SignatureAlgorithms, ServerContext, th, cv.Signature), alert.DecryptError)
}

func wantAlert(t *testing.T, err error, want alert.Description) {
	t.Helper()
	got, ok := alert.Of(err)
	if !ok || got != want {
		t.Fatalf("err = %v, want alert %v", err, want)
	}
}

func TestSignVerifyEveryScheme(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	th := bytes.Repeat([]byte{7}, 48)
	for sig, key := range map[uint16]crypto.Signer{
		wire.SigECDSASecp256r1SHA256: p256,
		wire.SigECDSASecp384r1SHA384: p384,
		wire.SigEd25519:              ed,
		wire.SigRSAPSSRSAESHA256:     rsaKey,
		wire.SigRSAPSSRSAESHA384:     rsaKey,
		wire.SigRSAPSSRSAESHA512:     rsaKey,
	} {
		s, err := Sign(nil, key, sig, ClientContext, th)
		if err != nil {
			t.Fatalf("%#04x: %v", sig, err)
		}
		if err := Verify(key.Public(), sig, Schemes(), ClientContext, th, s); err != nil {
			t.Fatalf("%#04x: own signature refused: %v", sig, err)
		}
		s[len(s)/2] ^= 0x40
		wantAlert(t, Verify(key.Public(), sig, Schemes(), ClientContext, th, s), alert.DecryptError)
	}
	// A key of the wrong type or curve neither signs nor verifies.
	if _, err := Sign(nil, p384, wire.SigECDSASecp256r1SHA256, ClientContext, th); err == nil {
		t.Fatal("P-384 key signed as ecdsa_secp256r1_sha256")
	}
	if _, err := Sign(nil, rsaKey, wire.SigRSAPKCS1SHA256, ClientContext, th); err == nil {
		t.Fatal("rsa_pkcs1_sha256 used for a CertificateVerify")
	}
	s, _ := Sign(nil, p256, wire.SigECDSASecp256r1SHA256, ClientContext, th)
	wantAlert(t, Verify(p384.Public(), wire.SigECDSASecp256r1SHA256, Schemes(), ClientContext, th, s), alert.IllegalParameter)
	wantAlert(t, Verify(ed.Public(), wire.SigRSAPSSRSAESHA256, Schemes(), ClientContext, th, s), alert.IllegalParameter)
}

// TestFitsRSAKeySize: RSA-PSS with a salt as long as the hash needs a
// modulus of at least 2*hLen+2 octets (RFC 8017 §9.1.1), so a 1024-bit key
// fits rsa_pss_rsae_sha256 and _sha384 but not _sha512, and is never
// chosen for it.
func TestFitsRSAKeySize(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for sig, want := range map[uint16]bool{
		wire.SigRSAPSSRSAESHA256: true,
		wire.SigRSAPSSRSAESHA384: true,
		wire.SigRSAPSSRSAESHA512: false,
	} {
		if got := Fits(sig, k.Public()); got != want {
			t.Errorf("Fits(%#04x, 1024-bit RSA) = %v, want %v", sig, got, want)
		}
	}
}
