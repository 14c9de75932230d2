package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/tlsa"
)

// tlsaTestNow is the clock of the tlsa CLI tests; --at passes it.
var tlsaTestNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type tlsaTestCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var tlsaTestSerial int64

func tlsaIssue(t *testing.T, cn string, dns []string, ca bool, parent *tlsaTestCert) *tlsaTestCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tlsaTestSerial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(tlsaTestSerial),
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              dns,
		NotBefore:             tlsaTestNow.Add(-time.Hour),
		NotAfter:              tlsaTestNow.Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  ca,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	var signer crypto.Signer = key
	issuer := tmpl
	if parent != nil {
		signer, issuer = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsaTestCert{cert: c, key: key}
}

func tlsaWrite(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func tlsaPEM(typ string, ders ...[]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	return out
}

type tlsaCLICase struct {
	name   string
	args   []string
	stdin  string
	code   int
	stdout []string // substrings stdout must contain
	stderr []string // substrings stderr must contain
	check  func(t *testing.T, stdout string)
}

func tlsaRunCases(t *testing.T, cases []tlsaCLICase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout %q lacks %q", out.String(), s)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr %q lacks %q", errb.String(), s)
				}
			}
			if tc.code != 0 && len(tc.stderr) > 0 && strings.Count(strings.TrimSpace(errb.String()), "\n") > 1 {
				t.Errorf("error is more than an error and a hint line: %q", errb.String())
			}
			if strings.Contains(errb.String(), "goroutine") || strings.Contains(errb.String(), "panic") {
				t.Errorf("stack trace on stderr: %s", errb.String())
			}
			if tc.check != nil {
				tc.check(t, out.String())
			}
		})
	}
}

func TestTLSAGen(t *testing.T) {
	dir := t.TempDir()
	ca := tlsaIssue(t, "Example CA", nil, true, nil)
	leaf := tlsaIssue(t, "dev1", []string{"dev1._device.example.com"}, false, ca)
	two := tlsaIssue(t, "two", []string{"a.example.com", "b.example.com"}, false, ca)
	leafFile := tlsaWrite(t, dir, "leaf.pem", tlsaPEM("CERTIFICATE", leaf.cert.Raw))
	chainFile := tlsaWrite(t, dir, "chain.pem", tlsaPEM("CERTIFICATE", leaf.cert.Raw, ca.cert.Raw))
	derFile := tlsaWrite(t, dir, "leaf.der", leaf.cert.Raw)
	twoFile := tlsaWrite(t, dir, "two.pem", tlsaPEM("CERTIFICATE", two.cert.Raw))
	spki, _ := x509.MarshalPKIXPublicKey(&leaf.key.PublicKey)
	pubFile := tlsaWrite(t, dir, "pub.pem", tlsaPEM("PUBLIC KEY", spki))
	p8, _ := x509.MarshalPKCS8PrivateKey(leaf.key)
	p8File := tlsaWrite(t, dir, "key.pem", tlsaPEM("PRIVATE KEY", p8))
	sec1, _ := x509.MarshalECPrivateKey(leaf.key)
	sec1File := tlsaWrite(t, dir, "eckey.pem", tlsaPEM("EC PRIVATE KEY", sec1))
	garbage := tlsaWrite(t, dir, "garbage.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	truncated := tlsaWrite(t, dir, "truncated.der", leaf.cert.Raw[:len(leaf.cert.Raw)/2])
	combined := tlsaWrite(t, dir, "combined.pem", append(tlsaPEM("PRIVATE KEY", p8), tlsaPEM("CERTIFICATE", leaf.cert.Raw)...))
	text := tlsaWrite(t, dir, "text.txt", []byte("hello\n"))
	// An RSA key below identity.MinRSABits, in both private key forms:
	// the CLI reads keys through the library and inherits its refusal.
	shortRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	shortP8, _ := x509.MarshalPKCS8PrivateKey(shortRSA)
	shortP8File := tlsaWrite(t, dir, "short-p8.pem", tlsaPEM("PRIVATE KEY", shortP8))
	shortP1File := tlsaWrite(t, dir, "short-p1.pem", tlsaPEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(shortRSA)))

	want := func(c *x509.Certificate, u tlsa.Usage, s tlsa.Selector, m tlsa.MatchingType, owner string, ttl uint32) string {
		r, err := tlsa.ForCertificate(c, u, s, m)
		if err != nil {
			t.Fatal(err)
		}
		return r.ZoneLine(owner, ttl) + "\n"
	}
	exact := func(lines ...string) func(*testing.T, string) {
		return func(t *testing.T, out string) {
			if w := strings.Join(lines, ""); out != w {
				t.Errorf("stdout\n%s\nwant\n%s", out, w)
			}
		}
	}
	ee := want(leaf.cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256, "dev1._device.example.com", 300)
	tlsaRunCases(t, []tlsaCLICase{
		{name: "default 3 1 1, owner from the SAN", args: []string{"tlsa", "gen", "--cert", leafFile}, check: exact(ee)},
		{name: "chain: first certificate", args: []string{"tlsa", "gen", "--cert", chainFile}, check: exact(ee)},
		{name: "DER certificate", args: []string{"tlsa", "gen", "--cert", derFile}, check: exact(ee)},
		{name: "stdin", args: []string{"tlsa", "gen", "--cert", "-"}, stdin: string(tlsaPEM("CERTIFICATE", leaf.cert.Raw)), check: exact(ee)},
		{name: "public key", args: []string{"tlsa", "gen", "--pubkey", pubFile, "--name", "dev1._device.example.com"}, check: exact(ee)},
		{name: "PKCS #8 private key", args: []string{"tlsa", "gen", "--pubkey", p8File, "--name", "dev1._device.example.com."}, check: exact(ee)},
		{name: "SEC 1 private key", args: []string{"tlsa", "gen", "--pubkey", sec1File, "--name", "dev1._device.example.com"}, check: exact(ee)},
		{name: "CA record, name and TTL", args: []string{"tlsa", "gen", "--cert", chainFile, "--usage", "DANE-TA", "--selector", "0", "--mtype", "SHA2-512", "--name", "_user.example.com", "--ttl", "60"},
			check: exact(want(leaf.cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA512, "_user.example.com", 60))},
		{name: "lists print every combination", args: []string{"tlsa", "gen", "--cert", leafFile, "--usage", "3,2", "--selector", "Cert,SPKI", "--mtype", "0,1,2"},
			check: func(t *testing.T, out string) {
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != 12 {
					t.Fatalf("%d lines, want 12", len(lines))
				}
				i := 0
				for _, u := range []tlsa.Usage{tlsa.DANEEE, tlsa.DANETA} {
					for _, s := range []tlsa.Selector{tlsa.SelectorCert, tlsa.SelectorSPKI} {
						for _, m := range []tlsa.MatchingType{tlsa.MatchFull, tlsa.MatchSHA256, tlsa.MatchSHA512} {
							w := want(leaf.cert, u, s, m, "dev1._device.example.com", 300)
							if lines[i]+"\n" != w {
								t.Errorf("line %d: %s, want %s", i, lines[i], w)
							}
							if strings.ContainsAny(lines[i], "()") {
								t.Errorf("line %d has parentheses", i)
							}
							rr, err := tlsa.Parse(lines[i])
							if err != nil || rr.Owner != "dev1._device.example.com." {
								t.Errorf("line %d does not parse back: %v", i, err)
							}
							i++
						}
					}
				}
			}},
		{name: "two SANs need --name", args: []string{"tlsa", "gen", "--cert", twoFile}, code: 2, stderr: []string{"--name is required", "2 SAN dNSNames"}},
		{name: "pubkey needs --name", args: []string{"tlsa", "gen", "--pubkey", pubFile}, code: 2, stderr: []string{"--name is required"}},
		{name: "pubkey with selector Cert", args: []string{"tlsa", "gen", "--pubkey", pubFile, "--selector", "Cert", "--name", "x.example"}, code: 2, stderr: []string{"selector Cert does not apply"}},
		{name: "cert and pubkey", args: []string{"tlsa", "gen", "--cert", leafFile, "--pubkey", pubFile}, code: 2, stderr: []string{"exactly one of --cert and --pubkey"}},
		{name: "neither", args: []string{"tlsa", "gen"}, code: 2, stderr: []string{"exactly one of --cert and --pubkey"}},
		{name: "unknown usage", args: []string{"tlsa", "gen", "--cert", leafFile, "--usage", "7"}, code: 2, stderr: []string{"--usage 7"}},
		{name: "bad mnemonic", args: []string{"tlsa", "gen", "--cert", leafFile, "--mtype", "SHA-1"}, code: 2, stderr: []string{`--mtype "SHA-1"`}},
		{name: "unknown selector", args: []string{"tlsa", "gen", "--cert", leafFile, "--selector", "2"}, code: 2, stderr: []string{"--selector 2"}},
		{name: "missing file", args: []string{"tlsa", "gen", "--cert", filepath.Join(dir, "nope.pem")}, code: 2, stderr: []string{"nope.pem", "no such file"}},
		{name: "malformed PEM", args: []string{"tlsa", "gen", "--cert", garbage}, code: 2, stderr: []string{"garbage.pem", "certificate 1"}},
		{name: "not PEM", args: []string{"tlsa", "gen", "--cert", text}, code: 2, stderr: []string{"text.txt", "no PEM CERTIFICATE block"}},
		{name: "key file as cert", args: []string{"tlsa", "gen", "--cert", p8File}, code: 2, stderr: []string{"key.pem", "no PEM CERTIFICATE block, only PRIVATE KEY"}},
		{name: "truncated DER", args: []string{"tlsa", "gen", "--cert", truncated}, code: 2, stderr: []string{"truncated.der", "not a DER certificate"}},
		{name: "key and certificate in one file", args: []string{"tlsa", "gen", "--cert", combined}, check: exact(ee)},
		{name: "short RSA key, PKCS #8", args: []string{"tlsa", "gen", "--pubkey", shortP8File, "--name", "x.example"}, code: 2, stderr: []string{"short-p8.pem", "1024 bits is too small"}},
		{name: "short RSA key, PKCS #1", args: []string{"tlsa", "gen", "--pubkey", shortP1File, "--name", "x.example"}, code: 2, stderr: []string{"short-p1.pem", "1024 bits is too small"}},
		{name: "cert file as key", args: []string{"tlsa", "gen", "--pubkey", leafFile, "--name", "x.example"}, code: 2, stderr: []string{"leaf.pem", "use --cert"}},
		{name: "name with an escape", args: []string{"tlsa", "gen", "--cert", leafFile, "--name", `a\.b.example`}, code: 2, stderr: []string{"--name"}},
		{name: "name too long", args: []string{"tlsa", "gen", "--cert", leafFile, "--name", strings.Repeat("a.", 130) + "example"}, code: 2, stderr: []string{"at most 253"}},
		{name: "TTL too large", args: []string{"tlsa", "gen", "--cert", leafFile, "--ttl", "4294967295"}, code: 2, stderr: []string{"--ttl"}},
		{name: "stray argument", args: []string{"tlsa", "gen", "--cert", leafFile, "extra"}, code: 2, stderr: []string{`unexpected argument "extra"`}},
		{name: "help", args: []string{"tlsa", "gen", "--help"}, stdout: []string{"EXAMPLES", "EXIT CODES", "--name"}},
	})
}

func TestTLSAMatch(t *testing.T) {
	dir := t.TempDir()
	root := tlsaIssue(t, "Example Root", nil, true, nil)
	ca := tlsaIssue(t, "Example Devices CA", nil, true, root)
	leaf := tlsaIssue(t, "dev1", []string{"dev1._device.example.com"}, false, ca)
	anon := tlsaIssue(t, "anon", nil, false, ca)
	const owner = "dev1._device.example.com"
	rec := func(c *x509.Certificate, u tlsa.Usage, s tlsa.Selector, m tlsa.MatchingType) tlsa.Record {
		r, err := tlsa.ForCertificate(c, u, s, m)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ee := rec(leaf.cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
	ta := rec(ca.cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)
	pkixEE := rec(leaf.cert, tlsa.PKIXEE, tlsa.SelectorSPKI, tlsa.MatchSHA512)
	taRootFull := rec(root.cert, tlsa.DANETA, tlsa.SelectorSPKI, tlsa.MatchFull)

	eeFile := tlsaWrite(t, dir, "ee.tlsa", []byte("; the device's own key\n"+ee.ZoneLine(owner, 300)+"\n"))
	bareEE := tlsaWrite(t, dir, "bare.tlsa", []byte(ee.String()+" # bare RDATA\n"))
	taFile := tlsaWrite(t, dir, "ta.tlsa", []byte(ta.ZoneLine(owner, 300)+"\n"))
	bareTA := tlsaWrite(t, dir, "bare-ta.tlsa", []byte(ta.String()+"\n"))
	rootFile := tlsaWrite(t, dir, "root-key.tlsa", []byte(taRootFull.ZoneLine(owner, 300)+"\n"))
	pkixFile := tlsaWrite(t, dir, "pkix.tlsa", []byte(pkixEE.ZoneLine(owner, 300)+"\n"))
	unusable := tlsaWrite(t, dir, "unusable.tlsa", []byte(owner+". IN TLSA 4 1 1 "+strings.Repeat("ab", 32)+"\n"+owner+". IN TLSA 3 1 9 ab\n"))
	empty := tlsaWrite(t, dir, "empty.tlsa", []byte("# nothing\n"))
	badTLSA := tlsaWrite(t, dir, "bad.tlsa", []byte(ee.String()+"\n3 1 1 abc\n"))
	chain := tlsaWrite(t, dir, "chain.pem", tlsaPEM("CERTIFICATE", leaf.cert.Raw, ca.cert.Raw))
	leafOnly := tlsaWrite(t, dir, "leaf.pem", tlsaPEM("CERTIFICATE", leaf.cert.Raw))
	anonChain := tlsaWrite(t, dir, "anon.pem", tlsaPEM("CERTIFICATE", anon.cert.Raw, ca.cert.Raw))
	reversed := tlsaWrite(t, dir, "reversed.pem", tlsaPEM("CERTIFICATE", ca.cert.Raw, leaf.cert.Raw))
	roots := tlsaWrite(t, dir, "roots.pem", tlsaPEM("CERTIFICATE", root.cert.Raw))
	spki, _ := x509.MarshalPKIXPublicKey(&leaf.key.PublicKey)
	rpk := tlsaWrite(t, dir, "rpk.pem", tlsaPEM("PUBLIC KEY", spki))
	badRPK := tlsaWrite(t, dir, "badrpk.pem", tlsaPEM("PUBLIC KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x01}))
	garbage := tlsaWrite(t, dir, "garbage.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	at := []string{"--at", tlsaTestNow.Format(time.RFC3339)}
	later := []string{"--at", tlsaTestNow.Add(72 * time.Hour).Format(time.RFC3339)}
	args := func(a ...string) []string { return append([]string{"tlsa", "match"}, a...) }
	withAt := func(a ...string) []string { return append(args(a...), at...) }

	type verdict struct {
		Result string `json:"result"`
		Depth  *int   `json:"depth"`
		Record string `json:"record"`
		Detail string `json:"detail"`
	}
	jsonIs := func(result string, depth int, record string) func(*testing.T, string) {
		return func(t *testing.T, out string) {
			if strings.Count(out, "\n") != 1 {
				t.Errorf("not one line: %q", out)
			}
			var v verdict
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			if v.Result != result || v.Depth == nil || *v.Depth != depth || v.Record != record {
				t.Errorf("got %+v, want %s %d %q", v, result, depth, record)
			}
			if result != "match" && v.Detail == "" {
				t.Errorf("negative verdict without detail")
			}
		}
	}
	tlsaRunCases(t, []tlsaCLICase{
		{name: "DANE-EE", args: args("--tlsa", eeFile, "--chain", chain), stdout: []string{"match: " + ee.String(), "DANE-EE SPKI SHA2-256", "depth 0"}},
		{name: "DANE-EE bare RDATA, json", args: args("--tlsa", bareEE, "--chain", leafOnly, "--json"), check: jsonIs("match", 0, ee.String())},
		{name: "DANE-EE from stdin", args: args("--tlsa", "-", "--chain", leafOnly, "--json"), stdin: ee.String(), check: jsonIs("match", 0, ee.String())},
		{name: "DANE-EE ignores time", args: args("--tlsa", eeFile, "--chain", chain, "--json", "--at", "2099-01-01T00:00:00Z"), check: jsonIs("match", 0, ee.String())},
		{name: "DANE-TA, name from the owner", args: withAt("--tlsa", taFile, "--chain", chain, "--json"), check: jsonIs("match", 1, ta.String())},
		{name: "DANE-TA bare, name given", args: withAt("--tlsa", bareTA, "--chain", chain, "--json", "--name", owner), check: jsonIs("match", 1, ta.String())},
		{name: "DANE-TA bare without name", args: withAt("--tlsa", bareTA, "--chain", chain, "--json"), code: 1, check: jsonIs("name-mismatch", -1, ta.String())},
		{name: "DANE-TA other name", args: withAt("--tlsa", taFile, "--chain", chain, "--name", "dev2._device.example.com"), code: 1, stdout: []string{"name-mismatch: " + ta.String(), "dev2._device.example.com"}},
		{name: "DANE-TA anonymous leaf", args: withAt("--tlsa", taFile, "--chain", anonChain, "--json"), code: 1, check: jsonIs("name-mismatch", -1, ta.String())},
		{name: "DANE-TA expired at --at", args: append(args("--tlsa", taFile, "--chain", chain, "--json"), later...), code: 1, check: jsonIs("untrusted", -1, ta.String())},
		{name: "DANE-TA server EKU", args: withAt("--tlsa", taFile, "--chain", chain, "--json", "--eku", "server"), code: 1, check: jsonIs("untrusted", -1, ta.String())},
		{name: "DANE-TA any EKU", args: withAt("--tlsa", taFile, "--chain", chain, "--json", "--eku", "any"), check: jsonIs("match", 1, ta.String())},
		{name: "DANE-TA key only in the record", args: withAt("--tlsa", rootFile, "--chain", chain, "--json"), check: jsonIs("match", 2, taRootFull.String())},
		{name: "no match", args: withAt("--tlsa", eeFile, "--chain", anonChain, "--json"), code: 1, check: jsonIs("no-match", -1, "")},
		{name: "no match, text", args: withAt("--tlsa", eeFile, "--chain", anonChain), code: 1, stdout: []string{"no-match: "}},
		{name: "PKIX-EE with roots", args: withAt("--tlsa", pkixFile, "--chain", chain, "--roots", roots, "--json"), check: jsonIs("match", 0, pkixEE.String())},
		{name: "PKIX-EE without roots", args: withAt("--tlsa", pkixFile, "--chain", chain, "--json"), code: 1, check: jsonIs("no-usable-records", -1, "")},
		{name: "unusable records", args: withAt("--tlsa", unusable, "--chain", chain, "--json"), code: 1, check: jsonIs("no-usable-records", -1, "")},
		{name: "no records", args: withAt("--tlsa", empty, "--chain", chain, "--json"), code: 1, check: jsonIs("no-usable-records", -1, "")},
		{name: "raw public key", args: args("--tlsa", eeFile, "--chain", rpk, "--json"), check: jsonIs("match", 0, ee.String())},
		{name: "raw public key and DANE-TA", args: args("--tlsa", taFile, "--chain", rpk, "--json"), code: 1, check: jsonIs("no-usable-records", -1, "")},
		{name: "malformed raw public key", args: args("--tlsa", eeFile, "--chain", badRPK), code: 2, stderr: []string{"badrpk.pem", "public key"}},
		{name: "chain in the wrong order", args: args("--tlsa", eeFile, "--chain", reversed), code: 2, stderr: []string{"reversed.pem", "not in order", "hint"}},
		{name: "malformed TLSA file", args: args("--tlsa", badTLSA, "--chain", chain), code: 2, stderr: []string{badTLSA + ":2:", "odd number of hex digits"}},
		{name: "malformed chain", args: args("--tlsa", eeFile, "--chain", garbage), code: 2, stderr: []string{"garbage.pem"}},
		{name: "missing chain file", args: args("--tlsa", eeFile, "--chain", filepath.Join(dir, "nope.pem")), code: 2, stderr: []string{"nope.pem"}},
		{name: "missing roots file", args: args("--tlsa", eeFile, "--chain", chain, "--roots", filepath.Join(dir, "nope-roots.pem")), code: 2, stderr: []string{"nope-roots.pem"}},
		{name: "roots file not PEM", args: args("--tlsa", eeFile, "--chain", chain, "--roots", eeFile), code: 2, stderr: []string{"ee.tlsa", "no PEM CERTIFICATE block"}},
		{name: "bad --at", args: args("--tlsa", eeFile, "--chain", chain, "--at", "yesterday"), code: 2, stderr: []string{"--at", "RFC 3339"}},
		{name: "bad --eku", args: args("--tlsa", eeFile, "--chain", chain, "--eku", "email"), code: 2, stderr: []string{"--eku"}},
		{name: "missing --tlsa", args: args("--chain", chain), code: 2, stderr: []string{"--tlsa and --chain are required"}},
		{name: "both stdin", args: args("--tlsa", "-", "--chain", "-"), code: 2, stderr: []string{"stdin"}},
		{name: "unknown flag", args: args("--tlsa", eeFile, "--chain", chain, "--bogus"), code: 2, stderr: []string{"--bogus"}},
		{name: "help", args: args("--help"), stdout: []string{"EXAMPLES", "EXIT CODES", "no-usable-records"}},
	})
}

// TestTLSAMatchVectors runs the tlsa package's openssl-made vectors through
// the command line: the same verdict and depth must come out as JSON, with
// exit 0 for a match and 1 otherwise.
func TestTLSAMatchVectors(t *testing.T) {
	dir := filepath.Join("..", "..", "tlsa", "testdata", "match")
	files, err := filepath.Glob(filepath.Join(dir, "*.vec"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	tmp := t.TempDir()
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".vec"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			head := map[string]string{}
			for _, l := range strings.Split(string(data), "\n") {
				if k, v, ok := strings.Cut(strings.TrimPrefix(l, "# "), ": "); ok && strings.HasPrefix(l, "# ") {
					head[k] = v
				}
			}
			var chain []byte
			for _, f := range strings.Fields(head["chain"]) {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				chain = append(chain, b...)
			}
			chainFile := tlsaWrite(t, tmp, filepath.Base(file)+".pem", chain)
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"tlsa", "match", "--tlsa", file, "--chain", chainFile,
				"--name", head["name"], "--at", head["at"], "--json"}, strings.NewReader(""), &out, &errb)
			var v struct {
				Result string `json:"result"`
				Depth  int    `json:"depth"`
			}
			if err := json.Unmarshal(out.Bytes(), &v); err != nil {
				t.Fatalf("stdout %q: %v (stderr %q)", out.String(), err, errb.String())
			}
			wantCode := 1
			if head["expect"] == "match" {
				wantCode = 0
			}
			if v.Result != head["expect"] || strconv.Itoa(v.Depth) != head["depth"] || code != wantCode {
				t.Errorf("got %s depth %d exit %d, want %s depth %s exit %d", v.Result, v.Depth, code, head["expect"], head["depth"], wantCode)
			}
		})
	}
}
