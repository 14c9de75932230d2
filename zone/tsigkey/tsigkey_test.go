package tsigkey

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestParseVectors runs every testdata/*.key file; its first line states the
// expected outcome: "# expect: ok NAME ALG[, NAME ALG]" or
// "# expect: error SUBSTRING".
func TestParseVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/*.key")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(src), "\n")
			expect, ok := strings.CutPrefix(first, "# expect: ")
			if !ok {
				t.Fatalf("no expect line")
			}
			ks, err := Parse(src)
			if want, isErr := strings.CutPrefix(expect, "error "); isErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range ks {
				got = append(got, k.Name+" "+k.Algorithm)
			}
			if g, w := strings.Join(got, ", "), strings.TrimPrefix(expect, "ok "); g != w {
				t.Fatalf("keys = %q, want %q", g, w)
			}
		})
	}
}

func TestGenerateWriteRead(t *testing.T) {
	for _, alg := range []string{HMACSHA256, HMACSHA384, HMACSHA512} {
		k, err := Generate("Update.Example.Test", alg)
		if err != nil {
			t.Fatal(err)
		}
		if k.Name != "update.example.test." || len(k.Secret) != algorithms[alg].size {
			t.Fatalf("key %+v", k)
		}
		name := filepath.Join(t.TempDir(), "k")
		if err := WriteFile(name, k); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(name); st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", st.Mode().Perm())
		}
		if err := WriteFile(name, k); err == nil {
			t.Fatal("WriteFile overwrote an existing key file")
		}
		ks, err := ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 1 || string(ks[0].Secret) != string(k.Secret) || ks[0].Algorithm != alg {
			t.Fatalf("read back %+v", ks)
		}
		os.Chmod(name, 0o640)
		if _, err := ReadFile(name); err == nil {
			t.Fatal("ReadFile accepted a group-readable key file")
		}
	}
	if _, err := Generate("x.", "hmac-sha1"); err == nil {
		t.Fatal("Generate accepted hmac-sha1")
	}
}

// TestProviderInterop signs with the dns library's own HMAC code and
// verifies with the Provider, and the reverse, so both agree on the MAC.
func TestProviderInterop(t *testing.T) {
	k, _ := Generate("k.example.", HMACSHA256)
	other, _ := Generate("k.example.", HMACSHA256)
	p := NewProvider(k)
	msg := func(alg string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("example.", dns.TypeSOA)
		m.SetTsig("k.example.", alg, 300, time.Now().Unix())
		return m
	}
	wire, _, err := dns.TsigGenerate(msg(dns.HmacSHA256), k.Base64(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := dns.TsigVerifyWithProvider(wire, p, "", false); err != nil {
		t.Fatalf("provider rejects a valid MAC: %v", err)
	}
	bad, _, _ := dns.TsigGenerate(msg(dns.HmacSHA256), other.Base64(), "", false)
	if err := dns.TsigVerifyWithProvider(bad, p, "", false); err != dns.ErrSig {
		t.Fatalf("wrong secret: err = %v, want ErrSig", err)
	}
	// Algorithm mismatch is a bad key, not a bad signature.
	w384, _, err := dns.TsigGenerate(msg(dns.HmacSHA384), k.Base64(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := dns.TsigVerifyWithProvider(w384, p, "", false); err != dns.ErrKeyAlg {
		t.Fatalf("algorithm mismatch: err = %v, want ErrKeyAlg", err)
	}
	// The provider's MAC verifies with the library's secret-based code.
	pw, _, err := dns.TsigGenerateWithProvider(msg(dns.HmacSHA256), p, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := dns.TsigVerify(pw, k.Base64(), "", false); err != nil {
		t.Fatalf("library rejects the provider's MAC: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`key "a." { algorithm hmac-sha256; secret "YWFhYQ=="; };`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ks, err := Parse(b)
		if err != nil {
			return
		}
		// What parses must round-trip through Marshal.
		for _, k := range ks {
			again, err := Parse(k.Marshal())
			if err != nil || len(again) != 1 || string(again[0].Secret) != string(k.Secret) || again[0].Name != k.Name {
				t.Fatalf("round trip of %q failed: %v", k.Marshal(), err)
			}
		}
	})
}
