package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestReadQueries runs the files in testdata/queries. Each states its
// outcome in its first line, "; expect: ok" (then "; want: NAME TYPE"
// lines, TYPE a number, the queries in order) or "; expect: error TEXT"
// (TEXT a part of the error).
func TestReadQueries(t *testing.T) {
	files, err := filepath.Glob("testdata/queries/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(b), "\n")
			expect, ok := strings.CutPrefix(lines[0], "; expect: ")
			if !ok {
				t.Fatalf("first line %q: want \"; expect: ...\"", lines[0])
			}
			var want []query
			for _, l := range lines[1:] {
				w, ok := strings.CutPrefix(l, "; want: ")
				if !ok {
					continue
				}
				f := strings.Fields(w)
				n, err := strconv.ParseUint(f[1], 10, 16)
				if len(f) != 2 || err != nil {
					t.Fatalf("bad want line %q", l)
				}
				want = append(want, query{name: f[0], qtype: uint16(n)})
			}
			got, err := readQueries(file, 0)
			if msg, isErr := strings.CutPrefix(expect, "error "); isErr {
				if err == nil || !strings.Contains(err.Error(), msg) {
					t.Fatalf("err = %v, want one containing %q", err, msg)
				}
				return
			}
			if expect != "ok" {
				t.Fatalf("unknown expectation %q", expect)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("queries = %v, want %v", got, want)
			}
			// Limited: the first queries, however many the file has.
			for limit := 1; limit <= len(want)+1; limit++ {
				got, err := readQueries(file, limit)
				if n := min(limit, len(want)); err != nil || !reflect.DeepEqual(got, want[:n]) {
					t.Errorf("limit %d: queries = %v, %v; want %v", limit, got, err, want[:n])
				}
			}
		})
	}
}
