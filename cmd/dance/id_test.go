package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/tlsa"
)

// idRun runs the binary in-process.
func idRun(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// idMust runs the binary and fails the test unless it exits 0 with an
// empty stderr.
func idMust(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := idRun(t, "", args...)
	if code != 0 || errs != "" {
		t.Fatalf("dance %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// idShell runs a pipeline with bash and returns its standard output.
func idShell(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-o", "pipefail", "-c", script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, errb.String())
	}
	return out.String()
}

// idDigest returns the SHA2-256 hex digest that openssl computes of
// the DER the script's pipeline produces.
func idDigest(t *testing.T, pipeline string) string {
	t.Helper()
	out := idShell(t, pipeline+" | openssl dgst -sha256 -r")
	return strings.Fields(out)[0]
}

var idZoneLineRE = regexp.MustCompile(`^(\S+) 300 IN TLSA (\d) (\d) (\d) ([0-9a-f]{64})\n$`)

// idParseLine checks a printed record line and returns owner, "u s m" and hex.
func idParseLine(t *testing.T, line string) (owner, params, data string) {
	t.Helper()
	m := idZoneLineRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("output %q is not one TLSA zone-file line", line)
	}
	return m[1], m[2] + " " + m[3] + " " + m[4], m[5]
}

func idFileMode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// idMatchChain checks with package tlsa that the chain in certPath is
// authenticated by the printed record for name.
func idMatchChain(t *testing.T, line, certPath, name string) {
	t.Helper()
	rr, err := tlsa.Parse(line)
	if err != nil {
		t.Fatalf("tlsa.Parse(%q): %v", line, err)
	}
	data, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := identity.ParseCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	res := tlsa.Match(chain, []tlsa.Record{rr.Record}, tlsa.Options{Name: name})
	if !res.OK() {
		t.Fatalf("record %q does not authenticate %s as %s: %v %v", line, certPath, name, res.Reason, res.Err)
	}
}

func TestIDNewSelfSigned(t *testing.T) {
	for _, kt := range identity.KeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sensor1")
			line := idMust(t, "id", "new", "--name", "Sensor1._device.Example.com.", "--key", string(kt), "--out", dir)
			owner, params, data := idParseLine(t, line)
			if owner != "sensor1._device.example.com." || params != "3 1 1" {
				t.Fatalf("record %q", line)
			}
			cert := filepath.Join(dir, "cert.pem")
			want := idDigest(t, "openssl x509 -in "+cert+" -pubkey -noout | openssl pkey -pubin -outform DER")
			if data != want {
				t.Errorf("record data %s, openssl says %s", data, want)
			}
			// The key in key.pem is the certificate's.
			fromKey := idDigest(t, "openssl pkey -in "+filepath.Join(dir, "key.pem")+" -pubout -outform DER")
			if fromKey != want {
				t.Errorf("key.pem does not belong to cert.pem")
			}
			if m := idFileMode(t, filepath.Join(dir, "key.pem")); m != 0o600 {
				t.Errorf("key.pem mode %v", m)
			}
			if m := idFileMode(t, cert); m != 0o644 {
				t.Errorf("cert.pem mode %v", m)
			}
			if m := idFileMode(t, dir); m != 0o700 {
				t.Errorf("directory mode %v", m)
			}
			text := idShell(t, "openssl x509 -in "+cert+" -noout -text")
			if !strings.Contains(text, "DNS:sensor1._device.example.com") {
				t.Errorf("certificate lacks the SAN:\n%s", text)
			}
			idMatchChain(t, line, cert, "sensor1._device.example.com")
			// crypto/tls loads the pair as written.
			if _, err := tls.LoadX509KeyPair(cert, filepath.Join(dir, "key.pem")); err != nil {
				t.Errorf("tls.LoadX509KeyPair: %v", err)
			}
		})
	}
}

func TestIDNewNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	idMust(t, "id", "new", "--name", "a.example.com", "--out", dir)
	key1, _ := os.ReadFile(filepath.Join(dir, "key.pem"))
	cert1, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))

	out, errs, code := idRun(t, "", "id", "new", "--name", "a.example.com", "--out", dir)
	if code != 2 || out != "" {
		t.Fatalf("second run: exit %d, stdout %q", code, out)
	}
	want := "dance: error: " + filepath.Join(dir, "key.pem") + ": file exists\ndance: hint: use --force to replace it, or choose another --out\n"
	if errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	key2, _ := os.ReadFile(filepath.Join(dir, "key.pem"))
	cert2, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if !bytes.Equal(key1, key2) || !bytes.Equal(cert1, cert2) {
		t.Fatal("a refused run changed the files")
	}
	// Only cert.pem present: still refused, nothing written.
	os.Remove(filepath.Join(dir, "key.pem"))
	if _, errs, code := idRun(t, "", "id", "new", "--name", "a.example.com", "--out", dir); code != 2 || !strings.Contains(errs, "cert.pem: file exists") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "key.pem")); err == nil {
		t.Fatal("key.pem written although cert.pem was refused")
	}
	idMust(t, "id", "new", "--name", "a.example.com", "--out", dir, "--force")
	key3, _ := os.ReadFile(filepath.Join(dir, "key.pem"))
	if len(key3) == 0 || bytes.Equal(key1, key3) {
		t.Fatal("--force did not write a new key")
	}
	if m := idFileMode(t, filepath.Join(dir, "key.pem")); m != 0o600 {
		t.Errorf("key.pem mode %v after --force", m)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory has %d entries, want key.pem and cert.pem", len(entries))
	}
}

func TestIDNewRPKAndCSR(t *testing.T) {
	dir := t.TempDir()
	rpk := filepath.Join(dir, "rpk")
	line := idMust(t, "id", "new", "--name", "_xot.ns1.example.net", "--key", "ed25519", "--rpk", "--out", rpk)
	owner, params, data := idParseLine(t, line)
	if owner != "_xot.ns1.example.net." || params != "3 1 1" {
		t.Fatalf("record %q", line)
	}
	if _, err := os.Stat(filepath.Join(rpk, "cert.pem")); err == nil {
		t.Error("--rpk wrote cert.pem")
	}
	pub := filepath.Join(rpk, "pubkey.pem")
	if got := idDigest(t, "openssl pkey -pubin -in "+pub+" -outform DER"); got != data {
		t.Errorf("record %s, openssl digest of pubkey.pem %s", data, got)
	}
	if !strings.Contains(idShell(t, "openssl pkey -in "+filepath.Join(rpk, "key.pem")+" -noout -text"), "ED25519") {
		t.Error("key.pem is not an Ed25519 key")
	}

	csr := filepath.Join(dir, "csr")
	line = idMust(t, "id", "new", "--name", "mta1.example.com", "--key", "rsa2048", "--csr", "--out", csr)
	_, params, data = idParseLine(t, line)
	p := filepath.Join(csr, "csr.pem")
	text := idShell(t, "openssl req -in "+p+" -verify -noout -text 2>&1")
	if !strings.Contains(text, "verify OK") || !strings.Contains(text, "DNS:mta1.example.com") {
		t.Errorf("openssl req:\n%s", text)
	}
	if got := idDigest(t, "openssl req -in "+p+" -pubkey -noout | openssl pkey -pubin -outform DER"); got != data || params != "3 1 1" {
		t.Errorf("record %q does not match the CSR key %s", line, got)
	}
}

func TestCANewAndIssue(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	caLine := idMust(t, "ca", "new", "--name", "Example.com", "--out", ca)
	owner, params, data := idParseLine(t, caLine)
	if owner != "*._device.example.com." || params != "2 0 1" {
		t.Fatalf("CA record %q", caLine)
	}
	caCert := filepath.Join(ca, "cert.pem")
	if got := idDigest(t, "openssl x509 -in "+caCert+" -outform DER"); got != data {
		t.Errorf("CA record %s, openssl digest %s", data, got)
	}
	text := idShell(t, "openssl x509 -in "+caCert+" -noout -text")
	for _, s := range []string{"CA:TRUE, pathlen:0", "Certificate Sign", "X509v3 Name Constraints: critical", "Permitted:", "DNS:example.com"} {
		if !strings.Contains(text, s) {
			t.Errorf("CA certificate lacks %q:\n%s", s, text)
		}
	}
	if m := idFileMode(t, filepath.Join(ca, "key.pem")); m != 0o600 {
		t.Errorf("CA key mode %v", m)
	}

	// A device issued by the CA: the chain verifies, both records work.
	dev := filepath.Join(dir, "dev")
	devLine := idMust(t, "id", "new", "--name", "sensor2._device.example.com", "--ca", caCert, "--ca-key", filepath.Join(ca, "key.pem"), "--out", dev)
	owner, params, _ = idParseLine(t, devLine)
	if owner != "sensor2._device.example.com." || params != "3 1 1" {
		t.Fatalf("device record %q", devLine)
	}
	devCert := filepath.Join(dev, "cert.pem")
	idShell(t, "openssl verify -CAfile "+caCert+" -purpose sslclient "+devCert)
	data2, _ := os.ReadFile(devCert)
	chain, err := identity.ParseCertificates(data2)
	if err != nil || len(chain) != 2 {
		t.Fatalf("cert.pem holds %d certificates (%v), want leaf and CA", len(chain), err)
	}
	idMatchChain(t, devLine, devCert, "sensor2._device.example.com")
	pair, err := tls.LoadX509KeyPair(devCert, filepath.Join(dev, "key.pem"))
	if err != nil || len(pair.Certificate) != 2 {
		t.Errorf("tls.LoadX509KeyPair: %d certificates, %v", len(pair.Certificate), err)
	}
	idMatchChain(t, caLine, devCert, "sensor2._device.example.com")

	taLine := idMust(t, "id", "new", "--name", "sensor3._device.example.com", "--ca", caCert, "--ca-key", filepath.Join(ca, "key.pem"), "--record", "dane-ta", "--out", filepath.Join(dir, "dev3"))
	if want := strings.Replace(caLine, "*._device.example.com.", "sensor3._device.example.com.", 1); taLine != want {
		t.Errorf("--record dane-ta printed %q, want %q", taLine, want)
	}

	// A device outside the CA's domain is refused before anything is written.
	out, errs, code := idRun(t, "", "id", "new", "--name", "x._device.example.org", "--ca", caCert, "--ca-key", filepath.Join(ca, "key.pem"), "--out", filepath.Join(dir, "x"))
	if code != 2 || out != "" || !strings.Contains(errs, "outside the CA's permitted names") {
		t.Errorf("outside name: exit %d stdout %q stderr %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "x", "key.pem")); err == nil {
		t.Error("key.pem written for a refused certificate")
	}
}

func TestUserCA(t *testing.T) {
	dir := t.TempDir()
	uca := filepath.Join(dir, "uca")
	caLine := idMust(t, "ca", "new", "--name", "example.com", "--user", "--key", "ed25519", "--out", uca)
	owner, params, _ := idParseLine(t, caLine)
	if owner != "_user.example.com." || params != "2 0 1" {
		t.Fatalf("user CA record %q", caLine)
	}
	alice := filepath.Join(dir, "alice")
	line := idMust(t, "id", "new", "--user", "Alice", "--domain", "example.com", "--mailbox", "alice@example.com",
		"--ca", filepath.Join(uca, "cert.pem"), "--ca-key", filepath.Join(uca, "key.pem"), "--out", alice)
	if line != caLine {
		t.Errorf("user record %q, want the user CA's %q", line, caLine)
	}
	cert := filepath.Join(alice, "cert.pem")
	idShell(t, "openssl verify -CAfile "+filepath.Join(uca, "cert.pem")+" -purpose sslclient "+cert)
	// The user CA's record authenticates the chain for the domain named in
	// the certificate (the claimed name is _user.example.com).
	idMatchChain(t, line, cert, "example.com")

	// --hashed: the user's own key at the RFC 7929 style owner name.
	bob := filepath.Join(dir, "bob")
	hline := idMust(t, "id", "new", "--user", "Bob", "--domain", "example.com", "--hashed",
		"--ca", filepath.Join(uca, "cert.pem"), "--ca-key", filepath.Join(uca, "key.pem"), "--out", bob)
	howner, hparams, hdata := idParseLine(t, hline)
	lp := filepath.Join(dir, "lp")
	os.WriteFile(lp, []byte("bob"), 0o600)
	hash := idDigest(t, "cat "+lp)[:56]
	if howner != hash+"._user.example.com." || hparams != "3 1 1" {
		t.Errorf("--hashed record %q, want owner %s._user.example.com.", hline, hash)
	}
	if want := idDigest(t, "openssl x509 -in "+filepath.Join(bob, "cert.pem")+" -pubkey -noout | openssl pkey -pubin -outform DER"); hdata != want {
		t.Errorf("--hashed record data %s, want %s", hdata, want)
	}

	out := idMust(t, "id", "show", cert)
	for _, s := range []string{"dns: example.com (host)\n", "uid: Alice\n", "email: alice@example.com\n", "user: alice@example.com\n", "ca: false\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("id show lacks %q:\n%s", s, out)
		}
	}
}

func TestIDShow(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	idShell(t, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "+filepath.Join(dir, "k.pem")+
		" -out "+cert+" -days 2 -subj /CN=alice -addext basicConstraints=critical,CA:FALSE -addext 'subjectAltName=otherName:0.9.2342.19200300.100.1.1;UTF8:Alice,DNS:Example.com,DNS:bad_name.example,IP:192.0.2.1' 2>/dev/null")
	spki := idDigest(t, "openssl x509 -in "+cert+" -pubkey -noout | openssl pkey -pubin -outform DER")

	out := idMust(t, "id", "show", cert)
	for _, s := range []string{"subject: CN=alice\n", "ca: false\n", "key: ECDSA P-256\n", "dns: example.com (host)\n",
		"dns: bad_name.example (not a DANCE name: character not allowed", "uid: Alice\n", "ip: 192.0.2.1\n",
		"user: alice@example.com\n", "tlsa: 3 1 1 " + spki + "\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("id show lacks %q:\n%s", s, out)
		}
	}

	data, _ := os.ReadFile(cert)
	jout, errs, code := idRun(t, string(data), "id", "show", "--json", "-")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res struct {
		File     string   `json:"file"`
		IsCA     bool     `json:"is_ca"`
		DNSNames []string `json:"dns_names"`
		UIDs     []string `json:"uids"`
		Users    []string `json:"users"`
		Names    []struct {
			Name, Kind, Error string
		} `json:"names"`
		TLSA string `json:"tlsa"`
	}
	if err := json.Unmarshal([]byte(jout), &res); err != nil {
		t.Fatalf("%v\n%s", err, jout)
	}
	if res.File != "stdin" || res.IsCA || len(res.DNSNames) != 2 || res.UIDs[0] != "Alice" ||
		len(res.Users) != 1 || res.Users[0] != "alice@example.com" || res.TLSA != "3 1 1 "+spki ||
		res.Names[0].Kind != "host" || res.Names[1].Error == "" {
		t.Errorf("JSON %+v", res)
	}

	// A CA shows its 2 0 1 record.
	ca := filepath.Join(dir, "ca")
	caLine := idMust(t, "ca", "new", "--name", "example.org", "--out", ca)
	_, _, caData := idParseLine(t, caLine)
	out = idMust(t, "id", "show", filepath.Join(ca, "cert.pem"))
	if !strings.Contains(out, "ca: true\n") || !strings.Contains(out, "tlsa: 2 0 1 "+caData+"\n") {
		t.Errorf("CA id show:\n%s", out)
	}

	// No SAN: shown, with no identity.
	nosan := filepath.Join(dir, "nosan.pem")
	idShell(t, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "+filepath.Join(dir, "k2.pem")+" -out "+nosan+" -days 2 -subj /CN=x.example 2>/dev/null")
	out = idMust(t, "id", "show", nosan)
	if !strings.Contains(out, "identities: none (no subjectAltName)\n") || strings.Contains(out, "dns:") {
		t.Errorf("no-SAN id show:\n%s", out)
	}
}

// idBadSANCert returns a certificate whose SAN holds an otherName uid that
// is an INTEGER: crypto/x509 accepts it (it skips otherName), the identity
// reader must not.
func idBadSANCert(t *testing.T) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	san, _ := hex.DecodeString("3013a011060a0992268993f22c640101a003020105")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bad"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: identity.OIDSubjectAltName, Value: san}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestIDErrors(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	idMust(t, "ca", "new", "--name", "example.com", "--out", ca)
	caCert, caKey := filepath.Join(ca, "cert.pem"), filepath.Join(ca, "key.pem")
	leaf := filepath.Join(dir, "leaf")
	idMust(t, "id", "new", "--name", "leaf.example.com", "--out", leaf)
	other := filepath.Join(dir, "other")
	idMust(t, "ca", "new", "--name", "example.com", "--out", other)
	badSAN := filepath.Join(dir, "badsan.pem")
	os.WriteFile(badSAN, idBadSANCert(t), 0o644)
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o644)
	out := filepath.Join(dir, "out")
	long := strings.Repeat("a", 64) + ".example"

	tests := []struct {
		name   string
		args   []string
		stderr string // substring of the one error line
		hint   string
	}{
		{"no name", []string{"id", "new", "--out", out}, "--name or --user is required", ""},
		{"no out", []string{"id", "new", "--name", "a.example"}, "--out DIR is required", ""},
		{"name and user", []string{"id", "new", "--name", "a.example", "--user", "u", "--out", out}, "exclusive", ""},
		{"escape", []string{"id", "new", "--name", `a\065.example`, "--out", out}, "escapes (\\DDD, \\X) are not allowed", ""},
		{"U-label", []string{"id", "new", "--name", "bücher.example", "--out", out}, "A-labels", ""},
		{"long label", []string{"id", "new", "--name", long, "--out", out}, "label longer than 63 octets", ""},
		{"user name", []string{"id", "new", "--name", "_user.example.com", "--out", out}, "is a user name", "--user UID --domain DOMAIN"},
		{"bad shape", []string{"id", "new", "--name", "a._tcp.example.com", "--out", out}, "underscore labels only", ""},
		{"key type", []string{"id", "new", "--name", "a.example", "--key", "dsa", "--out", out}, `--key: unknown key type "dsa"`, ""},
		{"days", []string{"id", "new", "--name", "a.example", "--days", "0", "--out", out}, "--days must be between", ""},
		{"days not a number", []string{"id", "new", "--name", "a.example", "--days", "x", "--out", out}, "invalid value", "--help"},
		{"unknown flag", []string{"id", "new", "--name", "a.example", "--bogus", "--out", out}, "unknown flag --bogus", "--help"},
		{"positional", []string{"id", "new", "--name", "a.example", "--out", out, "extra"}, `unexpected argument "extra"`, ""},
		{"ca without key", []string{"id", "new", "--name", "a.example.com", "--ca", caCert, "--out", out}, "--ca and --ca-key go together", ""},
		{"missing ca", []string{"id", "new", "--name", "a.example.com", "--ca", filepath.Join(dir, "nope.pem"), "--ca-key", caKey, "--out", out}, "nope.pem: no such file or directory", ""},
		{"ca not a cert", []string{"id", "new", "--name", "a.example.com", "--ca", garbage, "--ca-key", caKey, "--out", out}, garbage + ": certificate: no PEM CERTIFICATE block, and not a DER certificate", ""},
		{"ca key not a key", []string{"id", "new", "--name", "a.example.com", "--ca", caCert, "--ca-key", caCert, "--out", out}, caCert + ": private key: no PEM private key block", ""},
		{"ca is a leaf", []string{"id", "new", "--name", "a.example.com", "--ca", filepath.Join(leaf, "cert.pem"), "--ca-key", filepath.Join(leaf, "key.pem"), "--out", out}, "not a CA", ""},
		{"ca wrong key", []string{"id", "new", "--name", "a.example.com", "--ca", caCert, "--ca-key", filepath.Join(other, "key.pem"), "--out", out}, "private key does not belong to the certificate", ""},
		{"rpk with ca", []string{"id", "new", "--name", "a.example.com", "--rpk", "--ca", caCert, "--ca-key", caKey, "--out", out}, "--rpk makes no certificate", ""},
		{"rpk and csr", []string{"id", "new", "--name", "a.example.com", "--rpk", "--csr", "--out", out}, "exclusive", ""},
		{"user without ca", []string{"id", "new", "--user", "alice", "--domain", "example.com", "--out", out}, "--user needs --ca and --ca-key", ""},
		{"user without domain", []string{"id", "new", "--user", "alice", "--ca", caCert, "--ca-key", caKey, "--out", out}, "--user needs --domain", ""},
		{"user bad domain", []string{"id", "new", "--user", "alice", "--domain", "d._device.example.com", "--ca", caCert, "--ca-key", caKey, "--out", out}, "not a plain domain", ""},
		{"user with @", []string{"id", "new", "--user", "a@b", "--domain", "example.com", "--ca", caCert, "--ca-key", caKey, "--out", out}, `contains "@"`, ""},
		{"hashed user PRECIS refuses", []string{"id", "new", "--user", "\uff41lice", "--hashed", "--domain", "example.com", "--ca", caCert, "--ca-key", caKey, "--out", out}, "--user: user name", ""},
		{"record ta without ca", []string{"id", "new", "--name", "a.example", "--record", "dane-ta", "--out", out}, "--record dane-ta is for devices issued with --ca", ""},
		{"hashed without user", []string{"id", "new", "--name", "a.example", "--hashed", "--out", out}, "--hashed goes with --user", ""},
		{"record unknown", []string{"id", "new", "--name", "a.example", "--record", "pkix-ee", "--out", out}, "--record must be", ""},
		{"ca no name", []string{"ca", "new", "--out", out}, "--name DOMAIN is required", ""},
		{"ca device name", []string{"ca", "new", "--name", "x._device.example.com", "--out", out}, "is a device name", ""},
		{"ca bad owner", []string{"ca", "new", "--name", "example.com", "--owner", "a..b", "--out", out}, "--owner: invalid name", ""},
		{"ca exists", []string{"ca", "new", "--name", "example.com", "--out", ca}, "key.pem: file exists", "--force"},
		{"show no arg", []string{"id", "show"}, "want exactly one certificate file", ""},
		{"show missing", []string{"id", "show", filepath.Join(dir, "nope.pem")}, "nope.pem: no such file or directory", ""},
		{"show key", []string{"id", "show", caKey}, caKey + ": certificate: no PEM CERTIFICATE block, only PRIVATE KEY", ""},
		{"show garbage", []string{"id", "show", garbage}, "no PEM CERTIFICATE block, and not a DER certificate", ""},
		{"show bad SAN", []string{"id", "show", badSAN}, badSAN + ": subjectAltName: otherName uid: unsupported string type", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := idRun(t, "", tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if !strings.HasPrefix(lines[0], "dance: error: ") || !strings.Contains(lines[0], tc.stderr) {
				t.Errorf("stderr %q, want an error line containing %q", stderr, tc.stderr)
			}
			if len(lines) > 2 || (len(lines) == 2 && !strings.HasPrefix(lines[1], "dance: hint: ")) {
				t.Errorf("stderr is not one error line (and a hint): %q", stderr)
			}
			if tc.hint != "" && (len(lines) != 2 || !strings.Contains(lines[1], tc.hint)) {
				t.Errorf("stderr %q, want a hint containing %q", stderr, tc.hint)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		entries, _ := os.ReadDir(out)
		if len(entries) != 0 {
			t.Errorf("failed runs left files in %s: %d entries", out, len(entries))
		}
	}
}

func TestIDHelp(t *testing.T) {
	for _, args := range [][]string{{"id", "new", "--help"}, {"id", "show", "--help"}, {"id", "rotate", "--help"}, {"ca", "new", "--help"}} {
		out, errs, code := idRun(t, "", args...)
		if code != 0 || errs != "" {
			t.Fatalf("%v: exit %d %q", args, code, errs)
		}
		for _, s := range []string{"USAGE\n  dance " + args[0] + " " + args[1], "EXAMPLES\n", "EXIT CODES\n", "  2  bad usage"} {
			if !strings.Contains(out, s) {
				t.Errorf("%v help lacks %q", args, s)
			}
		}
	}
	for _, noun := range []string{"id", "ca"} {
		_, errs, code := idRun(t, "", noun)
		if code != 2 || !strings.Contains(errs, "COMMANDS") || !strings.Contains(errs, "new") {
			t.Errorf("dance %s: exit %d, stderr %q", noun, code, errs)
		}
	}
}
