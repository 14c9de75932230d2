package tlsa

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var allUsages = []Usage{PKIXTA, PKIXEE, DANETA, DANEEE}
var allSelectors = []Selector{SelectorCert, SelectorSPKI}
var allMtypes = []MatchingType{MatchFull, MatchSHA256, MatchSHA512}

// sh runs a shell pipeline and returns its standard output.
func sh(t *testing.T, script string) []byte {
	t.Helper()
	cmd := exec.Command("sh", "-e", "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return out
}

// opensslSelected returns what openssl extracts for selector s from a PEM
// certificate file: the DER certificate or the DER SubjectPublicKeyInfo.
func opensslSelected(t *testing.T, certFile string, s Selector) []byte {
	if s == SelectorCert {
		return sh(t, fmt.Sprintf("openssl x509 -in %q -outform DER", certFile))
	}
	return sh(t, fmt.Sprintf("openssl x509 -in %q -pubkey -noout | openssl pkey -pubin -outform DER", certFile))
}

// opensslDigest digests a file with openssl dgst and returns the raw digest.
func opensslDigest(t *testing.T, file, alg string) []byte {
	out := strings.Fields(string(sh(t, fmt.Sprintf("openssl dgst -%s -r %q", alg, file))))
	if len(out) == 0 {
		t.Fatalf("openssl dgst printed nothing")
	}
	d, err := hex.DecodeString(out[0])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestForCertificateOpenSSL checks every selector and matching type, for
// several key types, against digests computed by the openssl command line.
func TestForCertificateOpenSSL(t *testing.T) {
	for _, kind := range []string{"p256", "p384", "ed25519", "rsa2048"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			c := issue(t, certSpec{cn: "k", dns: []string{leafName}, key: newKey(t, kind)}, nil)
			certFile := writePEM(t, dir, "cert.pem", c.cert)
			for _, s := range allSelectors {
				sel := opensslSelected(t, certFile, s)
				selFile := filepath.Join(dir, fmt.Sprintf("sel%d.der", s))
				if err := os.WriteFile(selFile, sel, 0o644); err != nil {
					t.Fatal(err)
				}
				want := map[MatchingType][]byte{
					MatchFull:   sel,
					MatchSHA256: opensslDigest(t, selFile, "sha256"),
					MatchSHA512: opensslDigest(t, selFile, "sha512"),
				}
				for _, m := range allMtypes {
					for _, u := range allUsages {
						r := mustRecord(t, c.cert, u, s, m)
						if r.Usage != u || r.Selector != s || r.MatchingType != m {
							t.Errorf("%v %v %v: fields %d %d %d", u, s, m, r.Usage, r.Selector, r.MatchingType)
						}
						if !bytes.Equal(r.Data, want[m]) {
							t.Errorf("%v %v %v: data %x, openssl %x", u, s, m, r.Data, want[m])
						}
					}
					if s == SelectorSPKI {
						r, err := ForPublicKey(c.key.Public(), DANEEE, m)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(r.Data, want[m]) || r.Selector != SelectorSPKI {
							t.Errorf("ForPublicKey %v: %s, openssl %x", m, r, want[m])
						}
						r2, err := ForSPKI(sel, DANEEE, m)
						if err != nil || !r2.Equal(r) {
							t.Errorf("ForSPKI %v: %s, %v; want %s", m, r2, err, r)
						}
					}
				}
			}
		})
	}
}

// TestForCertificateLdnsDane cross-checks every usage, selector and
// matching type against ldns-dane, which also exercises Parse on its
// output (tab-separated zone lines and the RFC 3597 generic form).
func TestForCertificateLdnsDane(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	// ldns-dane takes the leaf for usages 1 and 3 and the last certificate
	// of the file for usages 0 and 2.
	chainFile := writePEM(t, dir, "chain.pem", p.leaf.cert, p.inter.cert, p.root.cert)
	for _, u := range allUsages {
		for _, s := range allSelectors {
			for _, m := range allMtypes {
				target := p.leaf.cert
				if u == PKIXTA || u == DANETA {
					target = p.root.cert
				}
				want := mustRecord(t, target, u, s, m)
				for _, generic := range []bool{false, true} {
					flag := ""
					if generic {
						flag = "-b"
					}
					out := sh(t, fmt.Sprintf("ldns-dane %s -n -s -c %q create %s 443 %d %d %d", flag, chainFile, leafName, u, s, m))
					rr, err := Parse(string(out))
					if err != nil {
						t.Fatalf("parse ldns-dane output %q: %v", out, err)
					}
					if !rr.Record.Equal(want) {
						t.Errorf("%d %d %d generic=%v: ldns-dane %s, ours %s", u, s, m, generic, rr.Record, want)
					}
					if rr.Owner != "_443._tcp."+leafName+"." || !rr.HasTTL {
						t.Errorf("ldns-dane owner/TTL: %q %v", rr.Owner, rr.HasTTL)
					}
				}
			}
		}
	}
}

// TestForCertificateDanetool cross-checks against GnuTLS danetool, for
// certificates and for a bare public key.
func TestForCertificateDanetool(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	leafFile := writePEM(t, dir, "leaf.pem", p.leaf.cert)
	caFile := writePEM(t, dir, "ca.pem", p.inter.cert)
	der, err := x509MarshalPKIX(p.leaf.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, u := range allUsages {
		for _, s := range allSelectors {
			for _, m := range []MatchingType{MatchSHA256, MatchSHA512} {
				args := []string{"--tlsa-rr", "--host", leafName}
				file := leafFile
				target := p.leaf.cert
				if u == PKIXTA || u == DANETA {
					args = append(args, "--ca")
					file, target = caFile, p.inter.cert
				}
				if u == DANETA || u == DANEEE {
					args = append(args, "--domain")
				} else {
					args = append(args, "--no-domain")
				}
				if s == SelectorCert {
					args = append(args, "--x509")
				}
				args = append(args, "--hash", map[MatchingType]string{MatchSHA256: "sha256", MatchSHA512: "sha512"}[m])
				check := func(load string) {
					cmd := exec.Command("danetool", append(args, load)...)
					out, err := cmd.Output()
					if err != nil {
						t.Fatalf("danetool %v: %v", cmd.Args, err)
					}
					rr, err := Parse(string(out))
					if err != nil {
						t.Fatalf("parse danetool output %q: %v", out, err)
					}
					want := mustRecord(t, target, u, s, m)
					if !rr.Record.Equal(want) {
						t.Errorf("danetool %v: %s, ours %s", cmd.Args, rr.Record, want)
					}
				}
				check("--load-certificate=" + file)
				if s == SelectorSPKI && u == DANEEE {
					check("--load-pubkey=" + pubFile)
				}
			}
		}
	}
}
