package danetls

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/verify"
)

// TestRealClients: curl and openssl s_client, each presenting ECDSA,
// Ed25519 and RSA identities, authenticate to an HTTPS server made with
// ServerConfig; a key that is not published is refused for both.
func TestRealClients(t *testing.T) {
	t.Parallel()
	ids := map[string]ident{
		"ecdsa":   selfSigned(t, "ecdsa._device.example.test", identity.KeyECDSAP256),
		"ed25519": selfSigned(t, "ed25519._device.example.test", identity.KeyEd25519),
		"rsa":     selfSigned(t, "rsa._device.example.test", identity.KeyRSA2048),
	}
	stranger := selfSigned(t, "ecdsa._device.example.test", identity.KeyECDSAP256)
	var recs []string
	for _, id := range ids {
		recs = append(recs, testident.EELine(t, id.name, id.key.Public()))
	}
	// A user, whose cert.pem holds the chain up to the domain's user CA
	// (DANE-TA at _user.example.test).
	uca := testident.NewCA(t, identity.UserCA, "example.test", identity.Options{})
	bobCred := testident.IssueUser(t, "Bob", "example.test", uca)
	bob := writeIdent(t, "_user.example.test", bobCred.Key, bobCred.Cert, uca.Cert)
	recs = append(recs, testident.TALine(t, "_user.example.test", uca.Cert))
	e := newEnv(t, recs, "*._device.example.test", "_user.example.test")
	srv := startHTTPS(t, e.core)
	ca := caFile(t, srv)
	u, _ := url.Parse(srv.URL)

	curl := func(ctx context.Context, id ident) (string, error) {
		out, err := exec.CommandContext(ctx, "curl", "-sS", "--fail", "--cacert", ca,
			"--cert", id.certFile(), "--key", id.keyFile(), srv.URL+"/").CombinedOutput()
		return string(out), err
	}
	sclient := func(ctx context.Context, id ident) (string, error) {
		cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", u.Host, "-CAfile", ca,
			"-verify_return_error", "-cert", id.certFile(), "-cert_chain", id.certFile(), "-key", id.keyFile(), "-quiet")
		cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\nHost: " + u.Host + "\r\n\r\n")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	clients := map[string]func(context.Context, ident) (string, error){"curl": curl, "openssl": sclient}
	for cname, run := range clients {
		for kname, id := range ids {
			t.Run(cname+"/"+kname, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				out, err := run(ctx, id)
				if err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				got := identityIn(t, out)
				if got.Name != id.name || got.Kind != identity.KindDevice {
					t.Errorf("server saw %+v, want %s", got, id.name)
				}
			})
		}
		t.Run(cname+"/user", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := run(ctx, bob)
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got := identityIn(t, out); got.Kind != identity.KindUser || got.User != "bob@example.test" {
				t.Errorf("server saw %+v, want user bob@example.test", got)
			}
		})
		t.Run(cname+"/unpublished key", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			before := e.verdicts(t)["no-match"]
			out, _ := run(ctx, stranger)
			if strings.Contains(out, `"name"`) {
				t.Fatalf("an unpublished key was served: %s", out)
			}
			if after := e.verdicts(t)["no-match"]; after != before+1 {
				t.Errorf("no-match verdicts %v -> %v, want one more", before, after)
			}
		})
	}
}

// identityIn finds the JSON identity in a client's output.
func identityIn(t *testing.T, out string) verify.Identity {
	t.Helper()
	i := strings.Index(out, `{"name"`)
	if i < 0 {
		t.Fatalf("no identity in the output: %s", out)
	}
	var id verify.Identity
	if err := json.NewDecoder(bytes.NewReader([]byte(out[i:]))).Decode(&id); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return id
}
