package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in   string
		want uint8
		err  bool
	}{
		{"ecdsa-p256", ECDSAP256SHA256, false},
		{"ECDSA-P256", ECDSAP256SHA256, false},
		{"13", ECDSAP256SHA256, false},
		{"ed25519", ED25519, false},
		{"15", ED25519, false},
		{"rsasha256", 0, true},
		{"8", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseAlgorithm(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseAlgorithm(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrAlgorithm) {
			t.Errorf("ParseAlgorithm(%q) error %v is not ErrAlgorithm", tt.in, err)
		}
	}
}

func TestWriteLoadSign(t *testing.T) {
	for _, alg := range []uint8{ECDSAP256SHA256, ED25519} {
		t.Run(dns.AlgorithmToString[alg], func(t *testing.T) {
			dir := t.TempDir()
			k, err := Generate("Example.TEST", alg, FlagsCSK)
			if err != nil {
				t.Fatal(err)
			}
			if k.DNSKEY.Hdr.Name != "example.test." || k.DNSKEY.Flags != 257 {
				t.Fatalf("DNSKEY = %v", k.DNSKEY)
			}
			pub, err := Write(dir, k)
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(strings.TrimSuffix(pub, ".key") + ".private")
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("private key mode %v, want 0600", st.Mode().Perm())
			}
			if _, err := Write(dir, k); err == nil {
				t.Error("second Write overwrote the key files")
			}
			l, err := Load(pub)
			if err != nil {
				t.Fatal(err)
			}
			if l.Tag() != k.Tag() || l.DNSKEY.PublicKey != k.DNSKEY.PublicKey {
				t.Fatalf("loaded key differs: %v vs %v", l.DNSKEY, k.DNSKEY)
			}
			// The loaded private key signs what the public key verifies.
			rr, _ := dns.NewRR("x.example.test. 300 IN TLSA 3 1 1 abcd")
			sig := &dns.RRSIG{Algorithm: alg, KeyTag: l.Tag(), SignerName: "example.test.", Inception: 1, Expiration: 2000000000}
			if err := sig.Sign(l.Signer, []dns.RR{rr}); err != nil {
				t.Fatal(err)
			}
			if err := sig.Verify(k.DNSKEY, []dns.RR{rr}); err != nil {
				t.Fatalf("signature by the loaded key does not verify: %v", err)
			}
			// DS and CDS agree, and the DS matches the key.
			ds := k.DS(DigestSHA256)
			if ds.KeyTag != k.Tag() || ds.DigestType != DigestSHA256 || k.CDS(DigestSHA256).Digest != ds.Digest {
				t.Errorf("DS/CDS mismatch: %v %v", ds, k.CDS(DigestSHA256))
			}
			if k.CDNSKEY().PublicKey != k.DNSKEY.PublicKey {
				t.Error("CDNSKEY differs from DNSKEY")
			}
		})
	}
}

func TestLoadRefusesReadablePrivateKey(t *testing.T) {
	dir := t.TempDir()
	k, err := Generate("example.test.", ECDSAP256SHA256, FlagsCSK)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := Write(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, k.BaseName()+".private"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(pub); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Load of a world-readable key: err = %v", err)
	}
}

func TestAnchors(t *testing.T) {
	k, _ := Generate("example.test.", ED25519, FlagsCSK)
	zsk, _ := Generate("example.test.", ED25519, FlagZone)
	text := Anchors([]*Key{k, zsk})
	var ds, dnskey int
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("anchor line %q: %v", line, err)
		}
		switch r := rr.(type) {
		case *dns.DS:
			ds++
			if r.KeyTag != k.Tag() {
				t.Errorf("DS for tag %d, want %d", r.KeyTag, k.Tag())
			}
		case *dns.DNSKEY:
			dnskey++
			if r.Flags&FlagSEP == 0 {
				t.Error("non-SEP key listed as anchor")
			}
		}
	}
	if ds != 1 || dnskey != 1 {
		t.Fatalf("anchors has %d DS and %d DNSKEY, want 1 and 1:\n%s", ds, dnskey, text)
	}
}

// TestRoleFlags checks the flags of each kind of key and that they survive
// a write and a load, so that roles derived from flags are stable.
func TestRoleFlags(t *testing.T) {
	tests := []struct {
		name  string
		flags uint16
		want  uint16
		sep   bool
	}{
		{"ksk", FlagsKSK, 257, true},
		{"zsk", FlagsZSK, 256, false},
		{"csk", FlagsCSK, 257, true},
	}
	for _, tt := range tests {
		k, err := Generate("example.test.", ECDSAP256SHA256, tt.flags)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := Write(t.TempDir(), k)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Load(pub)
		if err != nil {
			t.Fatal(err)
		}
		if back.DNSKEY.Flags != tt.want || back.IsSEP() != tt.sep || back.Tag() != k.Tag() {
			t.Errorf("%s: flags %d sep %v tag %d, want %d %v %d", tt.name, back.DNSKEY.Flags, back.IsSEP(), back.Tag(), tt.want, tt.sep, k.Tag())
		}
	}
}
