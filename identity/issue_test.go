package identity

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedOptions() Options { return Options{Time: func() time.Time { return fixedNow }} }

func newKey(t *testing.T, kt KeyType) crypto.Signer {
	t.Helper()
	k, err := GenerateKey(kt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeCert(t *testing.T, dir, name string, c *x509.Certificate) string {
	t.Helper()
	return writeTemp(t, dir, name, MarshalCertificate(c))
}

func TestSelfSigned(t *testing.T) {
	for _, kt := range KeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			key := newKey(t, kt)
			name := MustParseName("sensor1._device.example.com")
			c, err := SelfSigned(name, key, fixedOptions())
			if err != nil {
				t.Fatal(err)
			}
			ids, err := CertificateIdentities(c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids.DNSNames, []string{name.String()}) || len(ids.UIDs)+len(ids.Emails)+len(ids.Mailboxes) != 0 {
				t.Errorf("identities = %+v", ids)
			}
			if c.IsCA || !c.BasicConstraintsValid {
				t.Errorf("self-signed device is a CA or lacks basicConstraints")
			}
			if c.Subject.CommonName != name.String() {
				t.Errorf("CN = %q", c.Subject.CommonName)
			}
			if !c.NotBefore.Equal(fixedNow.Add(-ClockSkew)) || !c.NotAfter.Equal(fixedNow.Add(DefaultValidity)) {
				t.Errorf("validity %v .. %v", c.NotBefore, c.NotAfter)
			}
			if err := c.CheckSignatureFrom(c); err == nil {
				t.Errorf("a non-CA certificate should not verify as its own issuer in crypto/x509")
			}
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Errorf("self-signature: %v", err)
			}
			dir := t.TempDir()
			p := writeCert(t, dir, "dev.pem", c)
			text := runOpenSSL(t, "x509", "-in", p, "-noout", "-text")
			for _, s := range []string{"DNS:sensor1._device.example.com", "CA:FALSE",
				"TLS Web Client Authentication, TLS Web Server Authentication", "Digital Signature"} {
				if !strings.Contains(text, s) {
					t.Errorf("openssl x509 -text lacks %q:\n%s", s, text)
				}
			}
			// openssl checks the self-signature when the certificate is its
			// own trust anchor.
			runOpenSSL(t, "verify", "-CAfile", p, "-partial_chain", "-attime", "1772366400", "-purpose", "sslclient", p)
		})
	}
}

func TestSerialsAndValidity(t *testing.T) {
	key := newKey(t, KeyECDSAP256)
	name := MustParseName("mta1.example.com")
	o := fixedOptions()
	o.Validity = 7 * 24 * time.Hour
	a, err := SelfSigned(name, key, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SelfSigned(name, key, o)
	if err != nil {
		t.Fatal(err)
	}
	if a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Error("two certificates got the same serial")
	}
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, c := range []*x509.Certificate{a, b} {
		if c.SerialNumber.Sign() <= 0 || c.SerialNumber.Cmp(limit) >= 0 {
			t.Errorf("serial %v out of range", c.SerialNumber)
		}
	}
	if got := a.NotAfter.Sub(a.NotBefore); got != o.Validity+ClockSkew {
		t.Errorf("validity span %v", got)
	}
}

func TestLongNameHasCriticalSAN(t *testing.T) {
	long := strings.Repeat("a", 60) + "._device." + strings.Repeat("b", 20) + ".example"
	name := MustParseName(long)
	c, err := SelfSigned(name, newKey(t, KeyEd25519), fixedOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Subject.Names) != 0 {
		t.Errorf("subject %v, want empty (CN would exceed 64 characters)", c.Subject)
	}
	p := writeCert(t, t.TempDir(), "c.pem", c)
	text := runOpenSSL(t, "x509", "-in", p, "-noout", "-text")
	if !strings.Contains(text, "X509v3 Subject Alternative Name: critical") || !strings.Contains(text, "DNS:"+long) {
		t.Errorf("openssl x509 -text:\n%s", text)
	}
}

// TestCAIssuance builds the two CA kinds and their end entities and has
// both openssl and crypto/x509 verify the paths.
func TestCAIssuance(t *testing.T) {
	for _, kt := range KeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			dir := t.TempDir()
			domain := MustParseName("example.com")
			caKey := newKey(t, kt)
			org, err := NewCA(OrgCA, domain, caKey, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !org.IsCA || org.MaxPathLen != 0 || !org.MaxPathLenZero || org.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("org CA constraints: IsCA=%v MaxPathLen=%d zero=%v ku=%v", org.IsCA, org.MaxPathLen, org.MaxPathLenZero, org.KeyUsage)
			}
			if !reflect.DeepEqual(org.PermittedDNSDomains, []string{"example.com"}) || !org.PermittedDNSDomainsCritical {
				t.Errorf("org CA name constraints %v critical=%v", org.PermittedDNSDomains, org.PermittedDNSDomainsCritical)
			}
			caPath := writeCert(t, dir, "ca.pem", org)
			devKey := newKey(t, KeyECDSAP256)
			dev, err := IssueDevice(MustParseName("sensor1._device.example.com"), devKey.Public(), Issuer{org, caKey}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			devPath := writeCert(t, dir, "dev.pem", dev)
			runOpenSSL(t, "verify", "-CAfile", caPath, "-purpose", "sslclient", devPath)
			runOpenSSL(t, "verify", "-CAfile", caPath, "-purpose", "sslserver", devPath)
			roots := x509.NewCertPool()
			roots.AddCert(org)
			if _, err := dev.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("crypto/x509 verify device: %v", err)
			}
			if !bytes.Equal(dev.AuthorityKeyId, org.SubjectKeyId) || len(org.SubjectKeyId) == 0 {
				t.Errorf("authority key id does not link to the CA")
			}

			userCA, err := NewCA(UserCA, domain, caKey, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if userCA.Subject.CommonName != "example.com user CA" {
				t.Errorf("user CA subject %q", userCA.Subject.CommonName)
			}
			ucaPath := writeCert(t, dir, "uca.pem", userCA)
			user, err := IssueUser(User{UID: "Alice", Mailbox: "alice@example.com", Domain: domain}, newKey(t, KeyEd25519).Public(), Issuer{userCA, caKey}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			userPath := writeCert(t, dir, "user.pem", user)
			runOpenSSL(t, "verify", "-CAfile", ucaPath, "-purpose", "sslclient", userPath)
			if out, err := tryOpenSSL("verify", "-CAfile", ucaPath, "-purpose", "sslserver", userPath); err == nil {
				t.Errorf("a user certificate verified for server use:\n%s", out)
			}
			text := runOpenSSL(t, "x509", "-in", userPath, "-noout", "-text")
			for _, s := range []string{"othername: userId::Alice", "DNS:example.com", "email:alice@example.com", "Subject: CN = alice@example.com"} {
				if !strings.Contains(text, s) {
					t.Errorf("openssl x509 -text lacks %q:\n%s", s, text)
				}
			}
			ids, err := CertificateIdentities(user)
			if err != nil {
				t.Fatal(err)
			}
			if u, err := ids.User("example.com"); err != nil || u != "alice@example.com" {
				t.Errorf("User = %q, %v", u, err)
			}
			// The device CA and the user CA share a key here on purpose:
			// the user certificate still does not chain to the device CA,
			// because its issuer name is the user CA's.
			if _, err := user.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Errorf("user certificate verified under the device CA")
			}
		})
	}
}

// TestNameConstraintsEnforced shows that the constraint NewCA writes is
// honoured by openssl and crypto/x509: a certificate for a name outside
// the domain, signed by the CA key behind IssueDevice's back, is refused.
func TestNameConstraintsEnforced(t *testing.T) {
	dir := t.TempDir()
	caKey := newKey(t, KeyECDSAP256)
	ca, err := NewCA(OrgCA, MustParseName("example.com"), caKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := IssueDevice(MustParseName("d1._device.example.net"), caKey.Public(), Issuer{ca, caKey}, Options{}); err == nil {
		t.Fatal("IssueDevice issued a name outside the CA's domain")
	}
	tmpl, err := leafTemplate(MustParseName("d1._device.example.net"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(7)
	der, err := x509.CreateCertificate(nil, tmpl, ca, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := x509.ParseCertificate(der)
	caPath := writeCert(t, dir, "ca.pem", ca)
	badPath := writeCert(t, dir, "bad.pem", bad)
	out, err := tryOpenSSL("verify", "-CAfile", caPath, badPath)
	if err == nil || !strings.Contains(out, "permitted subtree violation") {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	var ce x509.CertificateInvalidError
	if _, err := bad.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); !errors.As(err, &ce) || ce.Reason != x509.CANotAuthorizedForThisName {
		t.Errorf("crypto/x509 verify: %v", err)
	}
}

func TestIssuerCheck(t *testing.T) {
	caKey := newKey(t, KeyECDSAP256)
	ca, err := NewCA(OrgCA, MustParseName("example.com"), caKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	leafKey := newKey(t, KeyECDSAP256)
	leaf, err := SelfSigned(MustParseName("a.example.com"), leafKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		is     Issuer
		reason string
	}{
		{"ok", Issuer{ca, caKey}, ""},
		{"missing key", Issuer{Cert: ca}, "both required"},
		{"not a CA", Issuer{leaf, leafKey}, "not a CA"},
		{"wrong key", Issuer{ca, leafKey}, "does not belong"},
	}
	for _, tc := range tests {
		err := tc.is.Check()
		if tc.reason == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var ie *IssuerError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: err = %v, want IssuerError %q", tc.name, err, tc.reason)
		}
		if _, err := IssueDevice(MustParseName("b.example.com"), leafKey.Public(), tc.is, Options{}); err == nil {
			t.Errorf("%s: IssueDevice succeeded", tc.name)
		}
	}
}

func TestIssueUserMailboxes(t *testing.T) {
	caKey := newKey(t, KeyECDSAP256)
	domain := MustParseName("xn--bcher-kva.example")
	ca, err := NewCA(UserCA, domain, caKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	is := Issuer{ca, caKey}
	pub := newKey(t, KeyECDSAP256).Public()
	tests := []struct {
		name string
		u    User
		want Identities
		user string
		bad  string
	}{
		{
			name: "uid only",
			u:    User{UID: "Bob", Domain: domain},
			want: Identities{DNSNames: []string{"xn--bcher-kva.example"}, UIDs: []string{"Bob"}},
			user: "bob@bücher.example",
		},
		{
			name: "ASCII mailbox becomes rfc822Name with A-labels",
			u:    User{Mailbox: "Carol@xn--bcher-kva.example", Domain: domain},
			want: Identities{DNSNames: []string{"xn--bcher-kva.example"}, Emails: []string{"Carol@xn--bcher-kva.example"}},
			user: "carol@bücher.example",
		},
		{
			name: "non-ASCII mailbox becomes SmtpUTF8Mailbox",
			u:    User{Mailbox: "José@bücher.example", Domain: domain},
			want: Identities{DNSNames: []string{"xn--bcher-kva.example"}, Mailboxes: []string{"José@bücher.example"}},
			user: "josé@bücher.example",
		},
		{name: "nothing", u: User{Domain: domain}, bad: "uid or a mailbox"},
		{name: "uid with @", u: User{UID: "a@b", Domain: domain}, bad: `contains "@"`},
		{name: "uid with a space", u: User{UID: "a b", Domain: domain}, bad: "PRECIS"},
		{name: "uid with the Kelvin sign", u: User{UID: "\u212aate", Domain: domain}, bad: `would become "Kate"`},
		{name: "fullwidth uid", u: User{UID: "\uff41\uff4c\uff49\uff43\uff45", Domain: domain}, bad: `would become "alice"`},
		{name: "decomposed mailbox naming the user", u: User{Mailbox: "Jose\u0301@bücher.example", Domain: domain}, bad: "would become"},
		{name: "uid with newline", u: User{UID: "a\nb", Domain: domain}, bad: "control character"},
		{name: "mailbox at another domain", u: User{UID: "a", Mailbox: "a@example.org", Domain: domain}, bad: "not at the domain"},
		{name: "mailbox without @", u: User{Mailbox: "carol", Domain: domain}, bad: "not local@domain"},
		{name: "device domain", u: User{UID: "a", Domain: MustParseName("d._device.example")}, bad: "not a plain domain"},
		{name: "other domain", u: User{UID: "a", Domain: MustParseName("example.org")}, bad: "outside the CA's permitted names"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := IssueUser(tc.u, pub, is, Options{})
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("err = %v, want %q", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids, err := CertificateIdentities(c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*ids, tc.want) {
				t.Errorf("identities %+v, want %+v", *ids, tc.want)
			}
			if got, err := ids.User(domain.String()); err != nil || got != tc.user {
				t.Errorf("User = %q, %v; want %q", got, err, tc.user)
			}
		})
	}
}

func TestValidityClampedToCA(t *testing.T) {
	caKey := newKey(t, KeyECDSAP256)
	ca, err := NewCA(OrgCA, MustParseName("example.com"), caKey, Options{Validity: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, err := IssueDevice(MustParseName("a.example.com"), caKey.Public(), Issuer{ca, caKey}, Options{Validity: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !c.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("NotAfter %v, CA's %v", c.NotAfter, ca.NotAfter)
	}
}

func TestNewCSR(t *testing.T) {
	for _, kt := range KeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			key := newKey(t, kt)
			der, err := NewCSR(MustParseName("_smtp-client.mta1.example.com"), key, Options{})
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(csr.DNSNames, []string{"_smtp-client.mta1.example.com"}) {
				t.Errorf("DNSNames %q", csr.DNSNames)
			}
			p := writeTemp(t, t.TempDir(), "csr.der", der)
			text := runOpenSSL(t, "req", "-inform", "DER", "-in", p, "-verify", "-noout", "-text")
			if !strings.Contains(text, "DNS:_smtp-client.mta1.example.com") {
				t.Errorf("openssl req -text:\n%s", text)
			}
		})
	}
	if _, err := NewCSR(MustParseName("_user.example.com"), newKey(t, KeyEd25519), Options{}); err == nil {
		t.Error("CSR for a _user name succeeded")
	}
}

func TestNewCARejects(t *testing.T) {
	key := newKey(t, KeyECDSAP256)
	if _, err := NewCA(OrgCA, MustParseName("_user.example.com"), key, Options{}); err == nil {
		t.Error("CA for a _user name")
	}
	if _, err := NewCA(CAKind(9), MustParseName("example.com"), key, Options{}); err == nil {
		t.Error("CA of unknown kind")
	}
}

func TestKeysRoundTripWithOpenSSL(t *testing.T) {
	for _, kt := range KeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			key := newKey(t, kt)
			keyPEM, err := MarshalPrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Errorf("not PKCS#8 PEM: %.40s", keyPEM)
			}
			back, err := ParsePrivateKey(keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			type eq interface{ Equal(crypto.PrivateKey) bool }
			if !back.(eq).Equal(key) {
				t.Error("private key changed in the round trip")
			}
			pubPEM, err := MarshalPublicKey(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			// openssl derives the public key from our private key file; it
			// must be our SubjectPublicKeyInfo byte for byte.
			p := writeTemp(t, t.TempDir(), "key.pem", keyPEM)
			if got := runOpenSSL(t, "pkey", "-in", p, "-pubout"); got != string(pubPEM) {
				t.Errorf("openssl pkey -pubout:\n%s\nours:\n%s", got, pubPEM)
			}
		})
	}
	if _, err := ParseKeyType("dsa"); !errors.Is(err, ErrUnknownKeyType) {
		t.Errorf("ParseKeyType(dsa) = %v", err)
	}
	if kt, err := ParseKeyType("ED25519"); err != nil || kt != KeyEd25519 {
		t.Errorf("ParseKeyType(ED25519) = %v, %v", kt, err)
	}
}

func TestParsePrivateKeyForms(t *testing.T) {
	dir := t.TempDir()
	sec1 := filepath.Join(dir, "ec.pem")
	runOpenSSL(t, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", sec1)
	pkcs1 := filepath.Join(dir, "rsa.pem")
	runOpenSSL(t, "genrsa", "-traditional", "-out", pkcs1, "2048")
	small := filepath.Join(dir, "small.pem")
	runOpenSSL(t, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", small)
	dsa := filepath.Join(dir, "x448.pem")
	runOpenSSL(t, "genpkey", "-algorithm", "X448", "-out", dsa)
	enc := filepath.Join(dir, "enc.pem")
	runOpenSSL(t, "genpkey", "-algorithm", "ED25519", "-aes-128-cbc", "-pass", "pass:secret", "-out", enc)
	tests := []struct {
		path, reason string
	}{
		{sec1, ""},
		{pkcs1, ""},
		{small, "too small"},
		{dsa, "malformed PRIVATE KEY"},
		{enc, "encrypted private keys are not supported"},
	}
	for _, tc := range tests {
		data, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParsePrivateKey(data)
		if tc.reason == "" {
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(tc.path), err)
			}
			continue
		}
		var pe *PEMError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: err = %v, want %q", filepath.Base(tc.path), err, tc.reason)
		}
	}
	if _, err := ParsePrivateKey([]byte("not pem")); err == nil {
		t.Error("ParsePrivateKey accepted garbage")
	}
}

func TestParseCertificates(t *testing.T) {
	key := newKey(t, KeyECDSAP256)
	a, _ := SelfSigned(MustParseName("a.example"), key, Options{})
	b, _ := SelfSigned(MustParseName("b.example"), key, Options{})
	two := append(MarshalCertificate(a), MarshalCertificate(b)...)
	certs, err := ParseCertificates(append([]byte("# comment\n"), two...))
	if err != nil || len(certs) != 2 || !certs[0].Equal(a) || !certs[1].Equal(b) {
		t.Fatalf("ParseCertificates = %d, %v", len(certs), err)
	}
	if c, err := ParseCertificate(a.Raw); err != nil || !c.Equal(a) {
		t.Errorf("DER input: %v", err)
	}
	keyPEM, _ := MarshalPrivateKey(key)
	bad := []struct {
		name string
		in   []byte
		want string
	}{
		{"garbage", []byte("hello"), "no PEM CERTIFICATE block, and not a DER certificate"},
		{"key only", keyPEM, "no PEM CERTIFICATE block, only PRIVATE KEY"},
		{"truncated DER", []byte{0x30, 0x03, 0x02, 0x01}, "not a DER certificate: "},
		{"corrupt", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "certificate 1:"},
	}
	for _, tc := range bad {
		_, err := ParseCertificate(tc.in)
		var pe *PEMError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
