package tlsa

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMatchVectors runs the vectors under testdata/match: certificates
// made by the openssl command line and records digested by openssl dgst
// (see make.sh there), each file stating its expected outcome in header
// comments ("# expect:", "# depth:", "# name:", "# at:", "# chain:").
func TestMatchVectors(t *testing.T) {
	dir := filepath.Join("testdata", "match")
	files, err := filepath.Glob(filepath.Join(dir, "*.vec"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".vec"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			head := map[string]string{}
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), ": "); ok && strings.HasPrefix(sc.Text(), "# ") {
					head[k] = v
				}
			}
			for _, k := range []string{"expect", "depth", "name", "at", "chain"} {
				if head[k] == "" {
					t.Fatalf("vector lacks %q", k)
				}
			}
			depth, err := strconv.Atoi(head["depth"])
			if err != nil {
				t.Fatal(err)
			}
			at, err := time.Parse(time.RFC3339, head["at"])
			if err != nil {
				t.Fatal(err)
			}
			rrs, err := ParseFile(file, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var records []Record
			for _, rr := range rrs {
				records = append(records, rr.Record)
			}
			chain := vectorChain(t, strings.Fields(head["chain"])...)
			got := Match(chain, records, Options{Name: head["name"], Time: at})
			if got.Reason.String() != head["expect"] || got.Depth != depth {
				t.Fatalf("got %v at depth %d (%v), want %s at depth %d", got.Reason, got.Depth, got.Err, head["expect"], depth)
			}
		})
	}
}

// vectorChain loads certificates of testdata/match, in the order given.
func vectorChain(t testing.TB, files ...string) []*x509.Certificate {
	t.Helper()
	var chain []*x509.Certificate
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("testdata", "match", f))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		if b == nil {
			t.Fatalf("%s: no PEM", f)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	return chain
}
