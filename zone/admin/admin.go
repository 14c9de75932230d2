package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/dnsbound/dance/internal/atomicfile"
)

// TokenFile is the name of the token file in a zone directory.
const TokenFile = "admin.token"

// tokenBytes is the entropy of a generated token.
const tokenBytes = 32

// LoadOrCreateToken reads the bearer token from path, creating it (mode
// 0600, random) when it does not exist.
func LoadOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		st, err := os.Stat(path)
		if err != nil {
			return "", err
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("admin: %s is accessible by group or others (mode %v); run chmod 600", path, st.Mode().Perm())
		}
		tok := strings.TrimSpace(string(b))
		if len(tok) < 16 {
			return "", fmt.Errorf("admin: %s: token shorter than 16 characters", path)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("admin: %w", err)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	if err := atomicfile.CreateFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin: %w", err)
	}
	return tok, nil
}

// ReadToken reads a token file (client side).
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin: token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("admin: token file %s is empty", path)
	}
	for _, c := range tok {
		if c <= ' ' || c > '~' {
			return "", fmt.Errorf("admin: token file %s is not one line of printable characters", path)
		}
	}
	return tok, nil
}

// authorized compares the bearer token in constant time.
func authorized(r *http.Request, token string) bool {
	h := r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}
