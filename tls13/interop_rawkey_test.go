package tls13

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeKeyPair writes k as PRIVATE KEY and its SubjectPublicKeyInfo as
// PUBLIC KEY PEM files, as gnutls-cli's --rawpkkeyfile and --rawpkfile
// take them.
func writeKeyPair(t *testing.T, dir, name string, k crypto.Signer) (keyFile, pubFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, pubFile = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spkiOf(t, k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, pubFile
}

// TestRawKeysWithGnuTLS runs gnutls-cli against our server with RFC 7250
// raw public keys in each direction: gnutls-cli presents a raw key (Ed25519
// or P-256) that our server accepts and reports, and our server presents a
// raw key that gnutls-cli receives. The certificate types are forced by
// gnutls-cli's priority string (CTYPE-CLI-*, CTYPE-SRV-*).
func TestRawKeysWithGnuTLS(t *testing.T) {
	bin, err := exec.LookPath("gnutls-cli")
	if err != nil {
		t.Fatal("gnutls-cli is not installed (Debian package gnutls-bin, in scripts/debian-packages)")
	}
	p := testPKI(t)
	dir := opensslFiles(t, p)
	srvRaw := mustKey(t, "ecdsa")
	cases := map[string]struct {
		clientKey string // "": gnutls-cli sends no client credential
		serverRaw bool
		ctypes    string
	}{
		"client raw Ed25519, server X.509": {clientKey: "ed25519", ctypes: "+CTYPE-CLI-RAWPK:+CTYPE-SRV-X509"},
		"client raw P-256, server X.509":   {clientKey: "ecdsa", ctypes: "+CTYPE-CLI-RAWPK:+CTYPE-SRV-X509"},
		"server raw, client raw Ed25519":   {clientKey: "ed25519", serverRaw: true, ctypes: "+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK"},
		"server raw, no client key":        {serverRaw: true, ctypes: "+CTYPE-SRV-RAWPK"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var seen ConnectionState
			cfg := ourServerConfig(p)
			cfg.AcceptRawPublicKeys = true
			cfg.VerifyConnection = acceptAll(&seen)
			cfg.ClientAuth = RequestClientCert
			if tc.serverRaw {
				cfg.Certificates = []Certificate{{PrivateKey: srvRaw}}
			}
			addr, done := serveOnce(t, cfg)
			_, port, _ := net.SplitHostPort(addr)
			args := []string{"--port", port,
				"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CTYPE-ALL:" + tc.ctypes}
			var wantClient []byte
			if tc.clientKey != "" {
				k := mustKey(t, tc.clientKey)
				keyFile, pubFile := writeKeyPair(t, t.TempDir(), "client", k)
				args = append(args, "--rawpkkeyfile", keyFile, "--rawpkfile", pubFile)
				wantClient = spkiOf(t, k)
			}
			if tc.serverRaw {
				// gnutls-cli has nothing to verify a raw key
				// against; our client's side of this is
				// VerifyConnection, tested with our server.
				args = append(args, "--insecure")
			} else {
				args = append(args, "--x509cafile", filepath.Join(dir, "ca.pem"), "--verify-hostname", "server.test")
			}
			args = append(args, "127.0.0.1")
			out, err := runPeer("dance\n", bin, args...)
			if err != nil {
				t.Fatalf("gnutls-cli: %v\n%s", err, out)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("server: %v\ngnutls-cli said:\n%s", r.err, out)
			}
			if string(r.data) != "dance\n" {
				t.Errorf("server read %q", r.data)
			}
			if !bytes.Equal(r.state.PeerRawPublicKey, wantClient) || len(r.state.PeerCertificates) != 0 {
				t.Errorf("client raw key %x (%d certificates), want %x", r.state.PeerRawPublicKey, len(r.state.PeerCertificates), wantClient)
			}
			if !bytes.Equal(seen.PeerRawPublicKey, wantClient) {
				t.Errorf("VerifyConnection saw %x", seen.PeerRawPublicKey)
			}
			// gnutls-cli prints the description of the session:
			// (TLS1.3-<client's type>-<server's type>), one type
			// when both are the same.
			typ := func(raw bool) string {
				if raw {
					return "Raw Public Key"
				}
				return "X.509"
			}
			wantDesc := "(TLS1.3-" + typ(tc.clientKey != "") + "-" + typ(tc.serverRaw) + ")"
			if (tc.clientKey != "") == tc.serverRaw {
				wantDesc = "(TLS1.3-" + typ(tc.serverRaw) + ")"
			}
			if !bytes.Contains(out, []byte(wantDesc)) {
				t.Errorf("gnutls-cli did not report %q:\n%s", wantDesc, out)
			}
		})
	}
}

// TestRawKeyRefusedByVerifyConnection: a raw key our server's
// VerifyConnection does not know is refused with handshake_failure, which
// gnutls-cli reports.
func TestRawKeyRefusedByVerifyConnection(t *testing.T) {
	bin, err := exec.LookPath("gnutls-cli")
	if err != nil {
		t.Fatal("gnutls-cli is not installed (Debian package gnutls-bin, in scripts/debian-packages)")
	}
	p := testPKI(t)
	dir := opensslFiles(t, p)
	known := spkiOf(t, mustKey(t, "ed25519"))
	cfg := ourServerConfig(p)
	cfg.AcceptRawPublicKeys, cfg.ClientAuth = true, RequireClientCert
	cfg.VerifyConnection = func(_ context.Context, cs ConnectionState) error {
		if !bytes.Equal(cs.PeerRawPublicKey, known) {
			return errors.New("unknown raw key")
		}
		return nil
	}
	addr, done := serveOnce(t, cfg)
	_, port, _ := net.SplitHostPort(addr)
	keyFile, pubFile := writeKeyPair(t, t.TempDir(), "client", mustKey(t, "ed25519"))
	out, _ := runPeer("dance\n", bin, "--port", port, "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CTYPE-ALL:+CTYPE-CLI-RAWPK:+CTYPE-SRV-X509",
		"--rawpkkeyfile", keyFile, "--rawpkfile", pubFile, "--x509cafile", filepath.Join(dir, "ca.pem"), "--verify-hostname", "server.test", "127.0.0.1")
	r := <-done
	if !strings.Contains(strings.ToLower(string(out)), "handshake failed") && !strings.Contains(string(out), "[40]") {
		t.Errorf("gnutls-cli did not report handshake_failure:\n%s", out)
	}
	if r.err == nil || len(r.data) != 0 {
		t.Errorf("server: %v, read %q", r.err, r.data)
	}
}
