package message

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/dnsbound/dance/internal/testident"
)

// joseTool returns the path of the jose command-line tool (Debian package
// jose, scripts/debian-packages).
func joseTool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("jose")
	if err != nil {
		t.Fatalf("jose is required (scripts/debian-packages): %v", err)
	}
	return bin
}

func runJose(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// writeJWK writes key (public or private) as a JWK file.
func writeJWK(t *testing.T, dir, name string, key any) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestJoseInterop checks our JWS against an independent implementation:
// what we sign, `jose jws ver` verifies, and what `jose jws sig` signs
// with the same header fields, we verify. The jose tool has no EdDSA, so
// ES256, ES384 and PS256 are exchanged.
func TestJoseInterop(t *testing.T) {
	t.Parallel()
	bin := joseTool(t)
	w := newWorld(t)
	v := w.verifier(t, Config{})
	dir := t.TempDir()
	payload := []byte("reading 21.5\n")
	payloadFile := filepath.Join(dir, "payload")
	if err := os.WriteFile(payloadFile, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cred testident.Cred
		alg  Algorithm
	}{{nFull, w.full, ES256}, {nES384, w.es384, ES384}, {nRSA, w.rsa, PS256}} {
		pub := writeJWK(t, dir, c.name+".pub.jwk", c.cred.Key.Public())
		priv := writeJWK(t, dir, c.name+".jwk", c.cred.Key)
		for _, f := range []Format{JWSCompact, JWSJSON} {
			t.Run(string(c.alg)+"/"+f.String()+"/ours verified by jose", func(t *testing.T) {
				m := mustSign(t, w.signer(c.name, c.cred, true), payload, f)
				file := filepath.Join(dir, c.name+f.String()+".jws")
				if err := os.WriteFile(file, m, 0o600); err != nil {
					t.Fatal(err)
				}
				if out, err := runJose(t, bin, "jws", "ver", "-i", file, "-k", pub); err != nil {
					t.Fatalf("jose jws ver refuses our %s: %v\n%s", f, err, out)
				}
				// And refuses it when the signature is not the key's.
				other := writeJWK(t, dir, "other.pub.jwk", w.digest.Key.Public())
				if c.alg == ES256 {
					if _, err := runJose(t, bin, "jws", "ver", "-i", file, "-k", other); err == nil {
						t.Fatal("jose jws ver accepts our message under another key")
					}
				}
			})
			t.Run(string(c.alg)+"/"+f.String()+"/theirs verified by us", func(t *testing.T) {
				uri := "dns:" + c.name + "?type=TLSA"
				tmpl, _ := json.Marshal(map[string]any{"protected": map[string]any{
					"alg": string(c.alg), "x5u": uri, "kid": uri, "iat": w.clock.Now().Unix(), "jti": randomID(),
				}})
				args := []string{"jws", "sig", "-I", payloadFile, "-k", priv, "-s", string(tmpl)}
				if f == JWSCompact {
					args = append(args, "-c")
				}
				out, err := runJose(t, bin, args...)
				if err != nil {
					t.Fatalf("jose jws sig: %v\n%s", err, out)
				}
				m, err := v.Verify(ctx, []byte(strings.TrimSpace(out)))
				if err != nil {
					t.Fatalf("we refuse jose's %s: %v\n%s", f, err, out)
				}
				if string(m.Payload) != string(payload) || m.Signer.Name != c.name || m.KeyFrom != "record" || m.Algorithm != c.alg {
					t.Fatalf("got %+v", m)
				}
			})
		}
	}
}
