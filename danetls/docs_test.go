package danetls

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serverLimits are the http.Server fields every server shown in the
// documentation sets: without them a slow or silent client holds its
// connection forever (slowloris), and the server people copy is the one
// they run.
var serverLimits = []string{"ReadHeaderTimeout:", "ReadTimeout:", "WriteTimeout:", "IdleTimeout:", "MaxHeaderBytes:"}

// TestDocumentedServersHaveLimits: every http.Server literal in the
// examples, doc comments and READMEs of danetls and httpauth, and in the
// verify README that shows danetls, sets serverLimits.
func TestDocumentedServersHaveLimits(t *testing.T) {
	var files []string
	for _, dir := range []string{".", "../httpauth"} {
		matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			// Tests run servers of their own; examples are documentation.
			if strings.HasSuffix(m, "_test.go") && !strings.HasSuffix(m, "example_test.go") {
				continue
			}
			files = append(files, m)
		}
	}
	files = append(files, "../verify/README.md", "../README.md")
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, lit := range serverLiterals(string(b)) {
			found++
			for _, field := range serverLimits {
				if !strings.Contains(lit, field) {
					t.Errorf("%s: an http.Server without %s\n%s", f, strings.TrimSuffix(field, ":"), lit)
				}
			}
		}
	}
	// The documentation shows servers; finding none means this test looks
	// in the wrong place.
	if found < 4 {
		t.Fatalf("found %d http.Server literals, want at least 4 (examples, ConnContext, httpauth, verify README)", found)
	}
}

// serverLiterals returns each "http.Server{...}" in text, braces matched
// (in code, comments and Markdown alike).
func serverLiterals(text string) []string {
	var lits []string
	for {
		i := strings.Index(text, "http.Server{")
		if i < 0 {
			return lits
		}
		text = text[i:]
		depth, end := 0, len(text)
		for j, c := range text {
			if c == '{' {
				depth++
			} else if c == '}' {
				if depth--; depth == 0 {
					end = j + 1
					break
				}
			}
		}
		lits = append(lits, text[:end])
		text = text[end:]
	}
}
