package tlsa

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tlsPeer serves a certificate chain over TLS on a loopback port so that
// openssl s_client can judge it with its own DANE implementation.
func tlsPeer(t *testing.T, chain []*testCert) string {
	t.Helper()
	var raw [][]byte
	for _, c := range chain {
		raw = append(raw, c.cert.Raw)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: raw, PrivateKey: chain[0].key}},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// The client may abort the handshake: that is its verdict.
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

var (
	opensslMatched = regexp.MustCompile(`DANE TLSA \d+ \d+ \d+ \S+ matched (?:EE|TA) (?:certificate|public key) at depth (\d+)`)
	// For a bare trust-anchor key (2 1 0) OpenSSL names the certificate the
	// key signed; Match counts the anchor itself, one above it.
	opensslSigned = regexp.MustCompile(`DANE TLSA \d+ \d+ \d+ \S+ signed the certificate at depth (\d+)`)
)

// opensslVerdict asks openssl s_client whether the peer at addr is
// authenticated by records for name, and at which depth.
func opensslVerdict(t *testing.T, addr, name string, records []Record, rootsFile string, at time.Time) (bool, int, string) {
	t.Helper()
	// -dane_ee_no_namechecks: DANE-EE ignores names (RFC 7671 §5.1), which
	// OpenSSL does only when asked.
	args := []string{"s_client", "-connect", addr, "-servername", name, "-dane_tlsa_domain", name,
		"-dane_ee_no_namechecks", "-verify_return_error", "-attime", strconv.FormatInt(at.Unix(), 10)}
	if rootsFile != "" {
		args = append(args, "-CAfile", rootsFile, "-no-CApath", "-no-CAstore")
	} else {
		args = append(args, "-no-CAfile", "-no-CApath", "-no-CAstore")
	}
	for _, r := range records {
		args = append(args, "-dane_tlsa_rrdata", r.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Stdin = strings.NewReader("")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("openssl s_client timed out:\n%s", out.String())
	}
	ok := err == nil && strings.Contains(out.String(), "Verification: OK")
	depth := -1
	if m := opensslMatched.FindStringSubmatch(out.String()); m != nil && ok {
		depth, _ = strconv.Atoi(m[1])
	} else if m := opensslSigned.FindStringSubmatch(out.String()); m != nil && ok {
		depth, _ = strconv.Atoi(m[1])
		depth++
	}
	return ok, depth, out.String()
}

// TestMatchDivergesFromOpenSSL pins the places where Match is deliberately
// stricter than OpenSSL's DANE verifier, each a documented decision:
//   - a DANE-TA anchor certificate taken from the chain keeps its validity
//     dates (OpenSSL treats it as a bare name and key);
//   - a wildcard SAN does not stand for the claimed name (an identity is
//     one name);
//   - the subject common name is never consulted (OpenSSL falls back to it
//     when the leaf has no SAN dNSName);
//   - without roots, PKIX-TA records and the certificates they carry are
//     unusable, also as untrusted issuers for a DANE-TA path.
func TestMatchDivergesFromOpenSSL(t *testing.T) {
	srv := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	root := issue(t, certSpec{cn: "Example Root", ca: true}, nil)
	inter := issue(t, certSpec{cn: "Example Servers CA", ca: true}, root)
	oldCA := issue(t, certSpec{cn: "Old CA", ca: true, notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-time.Hour)}, root)
	underOld := issue(t, certSpec{cn: "srv", dns: []string{leafName}, eku: srv}, oldCA)
	wild := issue(t, certSpec{cn: "wild", dns: []string{"*.devices.example.com"}, eku: srv}, inter)
	cnOnly := issue(t, certSpec{cn: leafName, eku: srv}, inter)
	taInter := mustRecord(t, inter.cert, DANETA, SelectorCert, MatchSHA256)
	srvLeaf := issue(t, certSpec{cn: "srv", dns: []string{leafName}, eku: srv}, inter)
	tests := []struct {
		name    string
		claimed string
		chain   []*testCert
		records []Record
		want    Reason
		detail  string
	}{
		{"expired anchor from the chain", leafName, []*testCert{underOld, oldCA}, []Record{mustRecord(t, oldCA.cert, DANETA, SelectorCert, MatchSHA256)}, Untrusted, "expired"},
		{"wildcard SAN", "dev1.devices.example.com", []*testCert{wild, inter}, []Record{taInter}, NameMismatch, "*.devices.example.com"},
		{"name only in the common name", leafName, []*testCert{cnOnly, inter}, []Record{taInter}, NameMismatch, "no SAN dNSName"},
		// Without roots a PKIX-TA record is unusable (RFC 7671 §4.1), and
		// so is the certificate it carries; OpenSSL still builds paths
		// with it.
		{"issuer from a 0 0 0 record without roots", leafName, []*testCert{srvLeaf, root}, []Record{mustRecord(t, root.cert, DANETA, SelectorCert, MatchSHA256), mustRecord(t, inter.cert, PKIXTA, SelectorCert, MatchFull)}, Untrusted, "unknown authority"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, _, out := opensslVerdict(t, tlsPeer(t, tc.chain), tc.claimed, tc.records, "", testNow)
			if !ok {
				t.Fatalf("openssl no longer accepts this; the divergence is gone:\n%s", out)
			}
			var chain []*x509.Certificate
			for _, c := range tc.chain {
				chain = append(chain, c.cert)
			}
			got := Match(chain, tc.records, Options{Name: tc.claimed, Time: testNow, KeyUsages: srv})
			if got.Reason != tc.want || !strings.Contains(got.Err.Error(), tc.detail) {
				t.Fatalf("Match: %v (%v), want %v mentioning %q", got.Reason, got.Err, tc.want, tc.detail)
			}
		})
	}
}

// TestMatchAgainstOpenSSL runs the same chains and records through Match
// and through OpenSSL's DANE verifier (as a TLS client, so with the
// serverAuth EKU) and requires the same verdict and depth.
func TestMatchAgainstOpenSSL(t *testing.T) {
	srv := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	root := issue(t, certSpec{cn: "Example Root", ca: true}, nil)
	inter := issue(t, certSpec{cn: "Example Servers CA", ca: true}, root)
	leaf := issue(t, certSpec{cn: "srv1", dns: []string{leafName}, eku: srv}, inter)
	leaf1 := issue(t, certSpec{cn: "srv2", dns: []string{leafName}, eku: srv}, root)
	expired := issue(t, certSpec{cn: "old", dns: []string{leafName}, eku: srv, notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-24 * time.Hour)}, inter)
	anon := issue(t, certSpec{cn: "anonymous", eku: srv}, inter)
	client := issue(t, certSpec{cn: "client", dns: []string{leafName}}, inter)
	notCA := issue(t, certSpec{cn: "not a CA", dns: []string{"x.example"}, eku: srv}, root)
	underNotCA := issue(t, certSpec{cn: "srv3", dns: []string{leafName}, eku: srv}, notCA)
	constrained := issue(t, certSpec{cn: "Other CA", ca: true, permitted: []string{"other.example"}}, root)
	outside := issue(t, certSpec{cn: "srv4", dns: []string{leafName}, eku: srv}, constrained)
	oldCA := issue(t, certSpec{cn: "Old CA", ca: true, notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-time.Hour)}, root)
	underOld := issue(t, certSpec{cn: "srv5", dns: []string{leafName}, eku: srv}, oldCA)
	selfSigned := issue(t, certSpec{cn: "self", dns: []string{leafName}, eku: srv}, nil)
	wildDevice := issue(t, certSpec{cn: "wild", dns: []string{"*._device.example.com"}, eku: srv}, inter)
	other := issue(t, certSpec{cn: "other", dns: []string{leafName}, eku: srv}, nil)
	sameName := issue(t, certSpec{cn: "Example Servers CA", ca: true}, other)  // inter's name, another key and root
	twin := issue(t, certSpec{cn: "self", ca: true, key: selfSigned.key}, nil) // the self-signed leaf's name and key
	ownCA := issue(t, certSpec{cn: "Own CA", ca: true, key: selfSigned.key}, nil)
	underOwn := issue(t, certSpec{cn: "own", dns: []string{leafName}, eku: srv, key: selfSigned.key}, ownCA)
	rootsFile := writePEM(t, t.TempDir(), "roots.pem", root.cert)
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)

	rec := func(c *testCert, u Usage, s Selector, m MatchingType) Record { return mustRecord(t, c.cert, u, s, m) }
	wrong := func(r Record) Record {
		d := append([]byte(nil), r.Data...)
		d[0] ^= 0xff
		r.Data = d
		return r
	}
	tests := []struct {
		name    string
		chain   []*testCert
		records []Record
		pkix    bool
		at      time.Time
	}{
		{"3 1 1", []*testCert{leaf, inter}, []Record{rec(leaf, DANEEE, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"3 0 2", []*testCert{leaf, inter}, []Record{rec(leaf, DANEEE, SelectorCert, MatchSHA512)}, false, testNow},
		{"3 1 0", []*testCert{leaf}, []Record{rec(leaf, DANEEE, SelectorSPKI, MatchFull)}, false, testNow},
		{"3 0 0", []*testCert{leaf}, []Record{rec(leaf, DANEEE, SelectorCert, MatchFull)}, false, testNow},
		{"3 1 1 expired leaf", []*testCert{expired, inter}, []Record{rec(expired, DANEEE, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"3 1 1 anonymous leaf", []*testCert{anon, inter}, []Record{rec(anon, DANEEE, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"3 1 1 other key", []*testCert{leaf, inter}, []Record{rec(other, DANEEE, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"2 0 1 depth 1", []*testCert{leaf, inter}, []Record{rec(inter, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 1 2 depth 1 under the root", []*testCert{leaf1, root}, []Record{rec(root, DANETA, SelectorSPKI, MatchSHA512)}, false, testNow},
		{"2 1 1 depth 2", []*testCert{leaf, inter, root}, []Record{rec(root, DANETA, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"2 1 1 anchor not presented", []*testCert{leaf, inter}, []Record{rec(root, DANETA, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"2 0 0 anchor only in the record", []*testCert{leaf, inter}, []Record{rec(root, DANETA, SelectorCert, MatchFull)}, false, testNow},
		{"2 1 0 key only in the record", []*testCert{leaf, inter}, []Record{rec(root, DANETA, SelectorSPKI, MatchFull)}, false, testNow},
		{"2 1 0 issuer key only in the record", []*testCert{leaf}, []Record{rec(inter, DANETA, SelectorSPKI, MatchFull)}, false, testNow},
		{"2 x x expired leaf", []*testCert{expired, inter}, []Record{rec(inter, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 x x later time", []*testCert{leaf, inter}, []Record{rec(inter, DANETA, SelectorCert, MatchSHA256)}, false, testNow.Add(72 * time.Hour)},
		{"2 1 0 key of an expired CA", []*testCert{underOld, oldCA}, []Record{rec(root, DANETA, SelectorSPKI, MatchFull)}, false, testNow},
		{"2 0 1 self-signed leaf", []*testCert{selfSigned}, []Record{rec(selfSigned, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 1 1 self-signed leaf", []*testCert{selfSigned}, []Record{rec(selfSigned, DANETA, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"2 0 1 naming the issued leaf", []*testCert{leaf, inter}, []Record{rec(leaf, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 0 1 leaf sent twice", []*testCert{leaf, leaf}, []Record{rec(leaf, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 1 1 leaf sent twice before its issuer", []*testCert{leaf, leaf, inter}, []Record{rec(leaf, DANETA, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"2 0 0 leaf sent twice", []*testCert{leaf, leaf}, []Record{rec(leaf, DANETA, SelectorCert, MatchFull)}, false, testNow},
		{"2 1 1 self-signed leaf sent twice", []*testCert{selfSigned, selfSigned}, []Record{rec(selfSigned, DANETA, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"2 1 1 twin of a self-signed leaf", []*testCert{selfSigned, twin}, []Record{rec(twin, DANETA, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"2 0 0 twin of a self-signed leaf in the record", []*testCert{selfSigned}, []Record{rec(twin, DANETA, SelectorCert, MatchFull)}, false, testNow},
		{"2 0 1 issuer after a repeated leaf", []*testCert{leaf, leaf, inter}, []Record{rec(inter, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 0 1 issuer sent twice", []*testCert{leaf, inter, inter}, []Record{rec(inter, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 1 1 own key under another name", []*testCert{underOwn, ownCA}, []Record{rec(ownCA, DANETA, SelectorSPKI, MatchSHA256)}, false, testNow},
		{"2 1 0 own key under another name, not presented", []*testCert{underOwn}, []Record{rec(ownCA, DANETA, SelectorSPKI, MatchFull)}, false, testNow},
		{"2 x x wildcard over an underscore label", []*testCert{wildDevice, inter}, []Record{rec(inter, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 x x anonymous leaf", []*testCert{anon, inter}, []Record{rec(inter, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 x x client-only EKU", []*testCert{client, inter}, []Record{rec(inter, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 x x issuer not a CA", []*testCert{underNotCA, notCA, root}, []Record{rec(root, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"2 x x name constraints", []*testCert{outside, constrained, root}, []Record{rec(root, DANETA, SelectorCert, MatchSHA256)}, false, testNow},
		{"agility: weaker digest only", []*testCert{leaf}, []Record{rec(leaf, DANEEE, SelectorSPKI, MatchSHA256), wrong(rec(leaf, DANEEE, SelectorSPKI, MatchSHA512))}, false, testNow},
		{"agility: stronger digest", []*testCert{leaf}, []Record{wrong(rec(leaf, DANEEE, SelectorSPKI, MatchSHA256)), rec(leaf, DANEEE, SelectorSPKI, MatchSHA512)}, false, testNow},
		{"agility: other selector", []*testCert{leaf}, []Record{rec(leaf, DANEEE, SelectorCert, MatchSHA256), wrong(rec(leaf, DANEEE, SelectorSPKI, MatchSHA512))}, false, testNow},
		{"agility: Full(0) beside a stronger digest", []*testCert{leaf}, []Record{rec(leaf, DANEEE, SelectorSPKI, MatchFull), wrong(rec(leaf, DANEEE, SelectorSPKI, MatchSHA512))}, false, testNow},
		{"unusable only", []*testCert{leaf}, []Record{{Usage: 4, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: rec(leaf, DANEEE, SelectorSPKI, MatchSHA256).Data}}, false, testNow},
		{"1 1 1 with roots", []*testCert{leaf, inter}, []Record{rec(leaf, PKIXEE, SelectorSPKI, MatchSHA256)}, true, testNow},
		{"0 0 1 root from the store", []*testCert{leaf, inter}, []Record{rec(root, PKIXTA, SelectorCert, MatchSHA256)}, true, testNow},
		{"0 1 1 intermediate", []*testCert{leaf, inter}, []Record{rec(inter, PKIXTA, SelectorSPKI, MatchSHA256)}, true, testNow},
		{"1 1 1 expired", []*testCert{expired, inter}, []Record{rec(expired, PKIXEE, SelectorSPKI, MatchSHA256)}, true, testNow},
		// Issuers carried by TA-usage Full(0) records complete the chain.
		{"1 1 1 leaf, issuer in a 0 0 0 record", []*testCert{leaf}, []Record{rec(leaf, PKIXEE, SelectorSPKI, MatchSHA256), rec(inter, PKIXTA, SelectorCert, MatchFull)}, true, testNow},
		{"1 1 1 leaf, issuer in a 2 0 0 record", []*testCert{leaf}, []Record{rec(leaf, PKIXEE, SelectorSPKI, MatchSHA256), rec(inter, DANETA, SelectorCert, MatchFull)}, true, testNow},
		{"0 0 0 issuer not presented", []*testCert{leaf}, []Record{rec(inter, PKIXTA, SelectorCert, MatchFull)}, true, testNow},
		{"0 0 1 root, issuer in a 0 0 0 record", []*testCert{leaf}, []Record{rec(root, PKIXTA, SelectorCert, MatchSHA256), rec(inter, PKIXTA, SelectorCert, MatchFull)}, true, testNow},
		{"0 0 1 root, issuer in a 2 0 0 record", []*testCert{leaf}, []Record{rec(root, PKIXTA, SelectorCert, MatchSHA256), rec(inter, DANETA, SelectorCert, MatchFull)}, true, testNow},
		{"2 0 1 issuer, issuer in a 0 0 0 record", []*testCert{leaf}, []Record{rec(inter, DANETA, SelectorCert, MatchSHA256), rec(inter, PKIXTA, SelectorCert, MatchFull)}, true, testNow},
		{"2 0 1 root sent, issuer in a 2 0 0 record", []*testCert{leaf, root}, []Record{rec(root, DANETA, SelectorCert, MatchSHA256), rec(inter, DANETA, SelectorCert, MatchFull)}, false, testNow},
		{"1 1 1 leaf, 0 0 0 of an unrelated CA", []*testCert{leaf}, []Record{rec(leaf, PKIXEE, SelectorSPKI, MatchSHA256), rec(other, PKIXTA, SelectorCert, MatchFull)}, true, testNow},
		{"1 1 1 leaf, 0 0 0 with the issuer's name and another key", []*testCert{leaf}, []Record{rec(leaf, PKIXEE, SelectorSPKI, MatchSHA256), rec(sameName, PKIXTA, SelectorCert, MatchFull)}, true, testNow},
		{"1 1 1 leaf, 0 0 0 of an expired issuer", []*testCert{underOld}, []Record{rec(underOld, PKIXEE, SelectorSPKI, MatchSHA256), rec(oldCA, PKIXTA, SelectorCert, MatchFull)}, true, testNow},
		{"1 1 1 leaf, issuer only in a 3 0 0 record", []*testCert{leaf}, []Record{rec(leaf, PKIXEE, SelectorSPKI, MatchSHA256), rec(inter, DANEEE, SelectorCert, MatchFull)}, true, testNow},
		{"1 1 1 leaf, issuer only in a 1 0 0 record", []*testCert{leaf}, []Record{rec(leaf, PKIXEE, SelectorSPKI, MatchSHA256), rec(inter, PKIXEE, SelectorCert, MatchFull)}, true, testNow},
		{"0 0 1 leaf sent twice", []*testCert{leaf, leaf, inter}, []Record{rec(leaf, PKIXTA, SelectorCert, MatchSHA256)}, true, testNow},
		{"1 1 1 leaf sent twice", []*testCert{leaf, leaf, inter}, []Record{rec(leaf, PKIXEE, SelectorSPKI, MatchSHA256)}, true, testNow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := tlsPeer(t, tc.chain)
			rf := ""
			opts := Options{Name: leafName, Time: tc.at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
			if tc.pkix {
				rf, opts.Roots = rootsFile, roots
			}
			var chain []*x509.Certificate
			for _, c := range tc.chain {
				chain = append(chain, c.cert)
			}
			got := Match(chain, tc.records, opts)
			ok, depth, out := opensslVerdict(t, addr, leafName, tc.records, rf, tc.at)
			if got.OK() != ok {
				t.Fatalf("Match says %v (%v), openssl says ok=%v:\n%s", got.Reason, got.Err, ok, out)
			}
			if ok && got.Depth != depth {
				t.Errorf("Match depth %d, openssl depth %d:\n%s", got.Depth, depth, out)
			}
		})
	}
}
