package identity

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUserNamesArePRECISCanonical: the user a certificate names is its uid
// or mailbox local part in the PRECIS UsernameCaseMapped form (RFC 8265
// §3.3), not strings.ToLower of it. Case is the one difference accepted;
// a name that PRECIS refuses, or would change in another way (width,
// normalisation, the Kelvin sign that is "K" after NFC), names nobody,
// since it would otherwise be another spelling of the user it looks like.
// The certificates are made by the openssl command line.
func TestUserNamesArePRECISCanonical(t *testing.T) {
	const uid, mbox = "0.9.2342.19200300.100.1.1", "1.3.6.1.5.5.7.8.9"
	tests := []struct {
		name   string
		oid    string // otherName type
		value  string // its UTF8String
		domain string // the dNSName, and the domain asked for
		user   string // "" = no user
	}{
		{"ASCII case", uid, "Alice.Smith", "example.com", "alice.smith@example.com"},
		{"precomposed accent, upper case", uid, "\u00c9mile", "example.com", "\u00e9mile@example.com"},
		{"sharp s stays", uid, "stra\u00dfe", "example.com", "stra\u00dfe@example.com"},
		{"capital sharp s lower-cases to sharp s", uid, "\u1e9e", "example.com", "\u00df@example.com"},
		{"SS is ss, not sharp s", uid, "STRASSE", "example.com", "strasse@example.com"},
		{"Greek capitals", uid, "\u03a3\u0391\u03a3", "example.com", "\u03c3\u03b1\u03c3@example.com"},
		{"mailbox local part in upper case", mbox, "JOS\u00c9@example.com", "example.com", "jos\u00e9@example.com"},

		{"Kelvin sign for K", uid, "\u212aate", "example.com", ""},
		{"Ohm sign", uid, "\u2126", "example.com", ""},
		{"fullwidth letters", uid, "\uff41\uff4c\uff49\uff43\uff45", "example.com", ""},
		{"fullwidth capitals", uid, "\uff21lice", "example.com", ""},
		{"decomposed accent", uid, "e\u0301mile", "example.com", ""},
		{"leading combining mark", uid, "\u0301a", "example.com", ""},
		{"ligature", uid, "\ufb01ona", "example.com", ""},
		{"long s", uid, "\u017fam", "example.com", ""},
		{"titlecase digraph", uid, "\u01c5ani", "example.com", ""},
		{"roman numeral", uid, "\u2178", "example.com", ""},
		{"zero width joiner", uid, "a\u200db", "example.com", ""},
		{"emoji", uid, "\U0001f600", "example.com", ""},
		{"mixed directions", uid, "x\u0627", "example.com", ""},
		{"space", uid, "a b", "example.com", ""},
		{"mailbox local part with the Kelvin sign", mbox, "\u212aate@example.com", "example.com", ""},
		{"mailbox local part decomposed", mbox, "Jose\u0301@example.com", "example.com", ""},
		// The domain of a mailbox is compared exactly beyond ASCII case:
		// the Kelvin sign is not "k".
		{"mailbox domain with the Kelvin sign", mbox, "carol@\u212aample.net", "kample.net", ""},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := strconv.Itoa(i)
			// A configuration file, so that the value can be given as
			// UTF-8 (FORMAT:UTF8) and hold commas.
			conf := writeTemp(t, dir, "req"+n+".cnf", []byte("[req]\ndistinguished_name=dn\nx509_extensions=ext\n[dn]\n[ext]\n"+
				"subjectAltName=@alt\n[alt]\notherName.1="+tc.oid+";FORMAT:UTF8,UTF8:"+tc.value+"\nDNS.1="+tc.domain+"\n"))
			certPath := filepath.Join(dir, "cert"+n+".pem")
			runOpenSSL(t, "req", "-x509", "-config", conf, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
				"-keyout", filepath.Join(dir, "key"+n+".pem"), "-out", certPath, "-days", "2", "-subj", "/CN=test")
			data, err := os.ReadFile(certPath)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := ParseCertificate(data)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := CertificateIdentities(cert)
			if err != nil {
				t.Fatal(err)
			}
			if got := append(ids.UIDs, ids.Mailboxes...); len(got) != 1 || got[0] != tc.value {
				t.Fatalf("openssl wrote %q, want [%q]", got, tc.value)
			}
			got, err := ids.User(tc.domain)
			if tc.user == "" {
				if err == nil || !errors.Is(err, ErrNoUser) {
					t.Fatalf("User(%q) = %q, %v; want ErrNoUser", tc.domain, got, err)
				}
				return
			}
			if err != nil || got != tc.user {
				t.Fatalf("User(%q) = %q, %v; want %q", tc.domain, got, err, tc.user)
			}
		})
	}
}

// TestCanonicalUserName: the vectors of TestUserNamesArePRECISCanonical
// and more, on the function itself; accepted names are stable and hash to
// one owner name whatever their case.
func TestCanonicalUserName(t *testing.T) {
	tests := []struct {
		in, want string // want "" = refused
		reason   string // part of the refusal
	}{
		{"alice", "alice", ""},
		{"Alice", "alice", ""},
		{"ALICE.Smith", "alice.smith", ""},
		{"first.last+tag", "first.last+tag", ""},
		{"o'brien", "o'brien", ""},
		{"user_1", "user_1", ""},
		{"\u00c9mile", "\u00e9mile", ""},
		{"stra\u00dfe", "stra\u00dfe", ""},
		{"STRASSE", "strasse", ""},
		{"\u1e9e", "\u00df", ""},
		{"\u03a3\u0391\u03a3", "\u03c3\u03b1\u03c3", ""},
		{"\u0627\u0644", "\u0627\u0644", ""},
		{"\u0130stanbul", "i\u0307stanbul", ""}, // toLowerCase keeps the dot as a combining mark

		{"\u212aate", "", `would become "Kate"`},
		{"\u2126", "", "would become"},
		{"\uff41\uff4c\uff49\uff43\uff45", "", `would become "alice"`},
		{"\uff21lice", "", `would become "Alice"`},
		{"e\u0301mile", "", "would become \"\u00e9mile\""},
		{"\u0301a", "", "PRECIS"},
		{"\ufb01ona", "", "PRECIS"},
		{"\u017fam", "", "PRECIS"},
		{"\u01c5ani", "", "PRECIS"},
		{"\u2178", "", "PRECIS"},
		{"a\u200db", "", "PRECIS"},
		{"\U0001f600", "", "PRECIS"},
		{"x\u0627", "", "PRECIS"},
		{"a b", "", "PRECIS"},
		{"a\tb", "", "PRECIS"},
		{"a@b", "", `contains "@"`},
		{"", "", "empty"},
	}
	for _, tc := range tests {
		t.Run(strconv.QuoteToASCII(tc.in), func(t *testing.T) {
			got, err := CanonicalUserName(tc.in)
			if tc.want == "" {
				var ue *UserNameError
				if !errors.As(err, &ue) || ue.Name != tc.in || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("CanonicalUserName(%+q) = %q, %v; want a *UserNameError mentioning %q", tc.in, got, err, tc.reason)
				}
				if _, herr := HashedUserName(tc.in, "example.com"); herr == nil {
					t.Errorf("HashedUserName(%+q) accepted a refused name", tc.in)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CanonicalUserName(%+q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if again, err := CanonicalUserName(got); err != nil || again != got {
				t.Errorf("not stable: CanonicalUserName(%+q) = %q, %v", got, again, err)
			}
			h1, err1 := HashedUserName(tc.in, "example.com")
			h2, err2 := HashedUserName(tc.want, "example.com")
			if err1 != nil || err2 != nil || h1 != h2 {
				t.Errorf("HashedUserName(%+q) = %v, %v and of %+q = %v, %v; want one owner name", tc.in, h1, err1, tc.want, h2, err2)
			}
		})
	}
}
