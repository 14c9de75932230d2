package identity

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runOpenSSL runs the openssl command line with args and returns its
// standard output; a failure ends the test with openssl's own message.
func runOpenSSL(t *testing.T, args ...string) string {
	t.Helper()
	out, err := tryOpenSSL(args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// tryOpenSSL runs openssl and returns its combined output and error.
func tryOpenSSL(args ...string) (string, error) {
	cmd := exec.Command("openssl", args...)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	return buf.String(), err
}

// writeTemp writes data to name in a fresh temporary directory.
func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
