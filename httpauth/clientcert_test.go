package httpauth

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/dnsbound/dance/identity"
)

// testdata/chain.pem: a device certificate and the CA that issued it, made
// with dance id new --ca.
func loadChain(t testing.TB) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile("testdata/chain.pem")
	if err != nil {
		t.Fatal(err)
	}
	chain, err := identity.ParseCertificates(data)
	if err != nil || len(chain) != 2 {
		t.Fatalf("testdata/chain.pem: %d certificates, %v", len(chain), err)
	}
	return chain
}

func TestSetAndParseClientCert(t *testing.T) {
	chain := loadChain(t)
	h := http.Header{}
	h.Add("Client-Cert", ":Zm9yZ2Vk:")
	h.Add("client_cert", ":Zm9yZ2Vk:")
	h.Add("CLIENT-CERT-CHAIN", ":Zm9yZ2Vk:")
	SetClientCert(h, chain)
	if len(h) != 2 {
		t.Fatalf("fields after SetClientCert: %v", h)
	}
	want := ":" + base64.StdEncoding.EncodeToString(chain[0].Raw) + ":"
	if got := h.Get(ClientCertHeader); got != want {
		t.Fatalf("Client-Cert %q, want %q", got, want)
	}
	got, err := ParseClientCert(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0].Raw, chain[0].Raw) || !bytes.Equal(got[1].Raw, chain[1].Raw) {
		t.Fatalf("round trip lost the chain")
	}
	SetClientCert(h, nil)
	if len(h) != 0 {
		t.Fatalf("SetClientCert(nil) left %v", h)
	}
}

func TestClientCertValues(t *testing.T) {
	chain := loadChain(t)
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
	}{
		{"empty", nil},
		{"leaf", chain[:1]},
		{"leaf and CA", chain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, rest := ClientCertValues(tc.chain)
			if len(tc.chain) == 0 {
				if cert != "" || rest != "" {
					t.Fatalf("ClientCertValues(nil) = %q, %q", cert, rest)
				}
				return
			}
			if want := EncodeByteSequence(tc.chain[0].Raw); cert != want {
				t.Fatalf("Client-Cert %q, want %q", cert, want)
			}
			if (rest == "") != (len(tc.chain) == 1) {
				t.Fatalf("Client-Cert-Chain %q for %d certificates", rest, len(tc.chain))
			}
			h := http.Header{ClientCertHeader: {cert}}
			if rest != "" {
				h.Set(ClientCertChainHeader, rest)
			}
			got, err := ParseClientCert(h)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.chain) {
				t.Fatalf("%d certificates back, want %d", len(got), len(tc.chain))
			}
			for i := range got {
				if !bytes.Equal(got[i].Raw, tc.chain[i].Raw) {
					t.Fatalf("certificate %d differs after the round trip", i)
				}
			}
		})
	}
}

func TestParseClientCert(t *testing.T) {
	chain := loadChain(t)
	leaf := EncodeByteSequence(chain[0].Raw)
	ca := EncodeByteSequence(chain[1].Raw)
	unpadded := ":" + base64.RawStdEncoding.EncodeToString(chain[0].Raw) + ":"
	tests := []struct {
		name   string
		fields map[string][]string
		n      int    // certificates expected
		err    string // "" ok; "none" ErrNoClientCert
	}{
		{"leaf", map[string][]string{"Client-Cert": {leaf}}, 1, ""},
		{"leaf and chain", map[string][]string{"Client-Cert": {leaf}, "Client-Cert-Chain": {ca}}, 2, ""},
		{"chain over two lines", map[string][]string{"Client-Cert": {leaf}, "Client-Cert-Chain": {ca, ca}}, 3, ""},
		{"chain list with spaces", map[string][]string{"Client-Cert": {" " + leaf + "\t"}, "Client-Cert-Chain": {ca + " ,\t" + ca}}, 3, ""},
		{"missing padding accepted (RFC 8941 §4.2.7)", map[string][]string{"Client-Cert": {unpadded}}, 1, ""},
		{"none", map[string][]string{}, 0, "none"},
		{"chain alone", map[string][]string{"Client-Cert-Chain": {ca}}, 0, "present without"},
		{"two leaves", map[string][]string{"Client-Cert": {leaf, leaf}}, 0, "2 field lines"},
		{"leaf as list", map[string][]string{"Client-Cert": {leaf + ", " + ca}}, 0, "after the byte sequence"},
		{"not a byte sequence", map[string][]string{"Client-Cert": {"MIIB"}}, 0, "not a byte sequence"},
		{"unclosed", map[string][]string{"Client-Cert": {":QUJD"}}, 0, "closing colon"},
		{"parameters", map[string][]string{"Client-Cert": {leaf + ";a=1"}}, 0, "after the byte sequence"},
		{"empty", map[string][]string{"Client-Cert": {"::"}}, 0, "empty byte sequence"},
		{"url-safe alphabet", map[string][]string{"Client-Cert": {":ab-_:"}}, 0, "not allowed"},
		{"bad base64", map[string][]string{"Client-Cert": {":A=BC:"}}, 0, "bad base64"},
		{"not DER", map[string][]string{"Client-Cert": {":QUFBQQ==:"}}, 0, "not a certificate"},
		{"bad chain member", map[string][]string{"Client-Cert": {leaf}, "Client-Cert-Chain": {ca + ", :QUFBQQ==:"}}, 0, "member 2"},
		{"chain too long", map[string][]string{"Client-Cert": {leaf}, "Client-Cert-Chain": {strings.Repeat(ca+",", MaxChain) + ca}}, 0, "more than 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, vs := range tt.fields {
				for _, v := range vs {
					h.Add(k, v)
				}
			}
			got, err := ParseClientCert(h)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.err == "":
				if len(got) != tt.n {
					t.Fatalf("%d certificates, want %d", len(got), tt.n)
				}
			case tt.err == "none":
				if !errors.Is(err, ErrNoClientCert) {
					t.Fatalf("err %v, want ErrNoClientCert", err)
				}
			default:
				var he *HeaderError
				if !errors.As(err, &he) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want a HeaderError with %q", err, tt.err)
				}
			}
		})
	}
}

func TestDelFields(t *testing.T) {
	h := http.Header{"Dance-Client-Name": {"a"}, "Dance_client_name": {"b"}, "DANCE_CLIENT-NAME": {"c"}, "Dance-Client-Names": {"keep"}, "Other": {"keep"}}
	DelFields(h, "Dance-Client-Name")
	if len(h) != 2 || h.Get("Other") != "keep" || h.Get("Dance-Client-Names") != "keep" {
		t.Fatalf("after DelFields: %v", h)
	}
}

// TestDelFieldsFoldsNames: the names to delete are folded like the fields'
// names, so a name configured with "_" removes its "-" spellings too.
func TestDelFieldsFoldsNames(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		del    string
		kept   []string
	}{
		{"configured with _", []string{"X-Client-Name", "x-client-name", "X_CLIENT-NAME", "X_Client_Name", "X-Client-Names", "X-Client"}, "X_Client_Name", []string{"X-Client-Names", "X-Client"}},
		{"configured in lower case", []string{"Client-Cert", "CLIENT_CERT", "Client-Cert-Chain"}, "client-cert", []string{"Client-Cert-Chain"}},
		{"non-ASCII is not folded", []string{"X-\u212aey", "X-key", "X-KEY"}, "x-key", []string{"X-\u212aey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, f := range tt.fields {
				h[f] = []string{"v"}
			}
			DelFields(h, tt.del)
			if len(h) != len(tt.kept) {
				t.Errorf("after DelFields(%q): %v, want only %q", tt.del, h, tt.kept)
			}
			for _, k := range tt.kept {
				if _, ok := h[k]; !ok {
					t.Errorf("DelFields(%q) removed %q", tt.del, k)
				}
			}
		})
	}
}

func TestSameFieldName(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"Client-Cert", "client_cert", true},
		{"X_A_B", "x-a-b", true},
		{"X-A-B", "X-A-B", true},
		{"X-A-B", "X-A-BC", false},
		{"X-A", "X.A", false},
		{"X-\u212a", "X-k", false},       // Kelvin sign: Unicode folding would say yes
		{"Cl\u0131ent", "Client", false}, // dotless i
	}
	for _, tt := range tests {
		if got := SameFieldName(tt.a, tt.b); got != tt.want {
			t.Errorf("SameFieldName(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := SameFieldName(tt.b, tt.a); got != tt.want {
			t.Errorf("SameFieldName(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func FuzzParseClientCert(f *testing.F) {
	chain := loadChain(f)
	f.Add(EncodeByteSequence(chain[0].Raw), EncodeByteSequence(chain[1].Raw))
	f.Add(":QUFBQQ==:", "")
	f.Add("", ":QUFBQQ==:, :QUI=:")
	f.Fuzz(func(t *testing.T, leaf, rest string) {
		h := http.Header{}
		if leaf != "" {
			h.Set(ClientCertHeader, leaf)
		}
		if rest != "" {
			h.Set(ClientCertChainHeader, rest)
		}
		got, err := ParseClientCert(h)
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > MaxChain+1 {
			t.Fatalf("%d certificates accepted", len(got))
		}
		// What parses survives a round trip.
		h2 := http.Header{}
		SetClientCert(h2, got)
		again, err := ParseClientCert(h2)
		if err != nil || len(again) != len(got) {
			t.Fatalf("round trip: %d then %d certificates, %v", len(got), len(again), err)
		}
	})
}
