package message

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vector is one file of testdata/cose: a COSE_Sign1 message, the public
// key to check it with, and the expected outcome ("verify", or the label of
// the refusal).
type vector struct {
	key     *ecdsa.PublicKey
	payload string
	expect  string
	message []byte
}

func readVector(t *testing.T, file string) vector {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var v vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s: bad line %q", file, line)
		}
		switch k {
		case "key":
			f := strings.Fields(val)
			if len(f) != 3 || f[0] != "P-256" {
				t.Fatalf("%s: key %q: want P-256 X Y", file, val)
			}
			x, _ := new(big.Int).SetString(f[1], 16)
			y, _ := new(big.Int).SetString(f[2], 16)
			v.key = &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
		case "payload":
			v.payload = val
		case "expect":
			v.expect = val
		case "message":
			if v.message, err = hex.DecodeString(val); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		default:
			t.Fatalf("%s: unknown field %q", file, k)
		}
	}
	if v.key == nil || v.expect == "" || v.message == nil {
		t.Fatalf("%s: key, expect and message are required", file)
	}
	return v
}

// TestCOSEVectors checks the COSE_Sign1 decoder and signature check
// against the examples of RFC 9052 Appendix C and changed copies of them.
func TestCOSEVectors(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/cose/*.txt")
	if err != nil || len(files) < 7 {
		t.Fatalf("vectors: %v, %d files", err, len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			v := readVector(t, file)
			got := "verify"
			// The vectors' kids are not dns: URIs, and unprotected:
			// the header rules that name the signer do not apply.
			var payload []byte
			s, err := splitCOSESign1(v.message)
			if err == nil {
				payload, err = s.verify(protectedAlg(t, s), v.key)
			}
			if err != nil {
				got = ReasonOf(err).String()
			}
			if got != v.expect {
				t.Fatalf("got %s (%v), want %s", got, err, v.expect)
			}
			if got == "verify" && string(payload) != v.payload {
				t.Fatalf("payload %q, want %q", payload, v.payload)
			}
		})
	}
}

// TestCOSEVectorRefusedAsIdentity runs RFC 9052 C.2.1 through the whole
// verifier: its kid is unprotected and names no DNS identity, so it is
// refused before any lookup.
func TestCOSEVectorRefusedAsIdentity(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v := w.verifier(t, Config{})
	vec := readVector(t, "testdata/cose/rfc9052-c2.1.txt")
	before := w.h.Queries()
	if _, err := v.Verify(ctx, vec.message); !errors.Is(err, ErrHeader) {
		t.Fatalf("got %v, want a header refusal", err)
	}
	if w.h.Queries() != before {
		t.Fatal("a message without an identity caused DNS queries")
	}
}

// protectedAlg returns the algorithm of s's protected header.
func protectedAlg(t *testing.T, s *coseSign1) Algorithm {
	t.Helper()
	r := cborReader{cborChecker{data: s.protected}}
	_, n := r.head()
	for i := uint64(0); i < n; i++ {
		l, _, err := r.label()
		if err != nil {
			t.Fatal(err)
		}
		start := r.pos
		r.skip()
		if l == labelAlg {
			alg, _ := intValue(s.protected[start:r.pos])
			return coseAlgorithmsByLabel[alg]
		}
	}
	t.Fatal("no alg in the protected header")
	return ""
}
