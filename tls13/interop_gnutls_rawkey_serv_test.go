package tls13

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/daemon"
)

// inNetNS is set in the environment of the test binary re-run by
// TestRawKeyClientAgainstGnuTLSServer inside a network namespace of its own.
const inNetNS = "DANCE_TLS13_IN_NETNS"

// TestRawKeyClientAgainstGnuTLSServer: our client, authenticating with an
// Ed25519 raw key, against gnutls-serv presenting a P-256 raw key (RFC 7250
// both ways); our client checks the server's key in VerifyConnection, and
// gnutls-serv echoes. gnutls-serv listens on every interface, so the test
// runs again inside a new network namespace (unshare --net, as root), where
// the only interface is loopback.
func TestRawKeyClientAgainstGnuTLSServer(t *testing.T) {
	if os.Getenv(inNetNS) == "" {
		if os.Geteuid() != 0 {
			t.Fatal("needs root for a network namespace (unshare --net)")
		}
		unshare := daemon.Tool(t, "unshare")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, unshare, "--net", "--", os.Args[0], "-test.run=^TestRawKeyClientAgainstGnuTLSServer$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), inNetNS+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestRawKeyClientAgainstGnuTLSServer")) {
			t.Fatalf("inside a network namespace: %v\n%s", err, out)
		}
		return
	}
	ipTool := daemon.Tool(t, "ip")
	if out, err := exec.Command(ipTool, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
	dir := t.TempDir()
	srvKey, cliKey := mustKey(t, "ecdsa"), mustKey(t, "ed25519")
	keyFile, pubFile := writeKeyPair(t, dir, "server", srvKey)
	const prio = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CTYPE-ALL:+CTYPE-SRV-RAWPK:+CTYPE-CLI-RAWPK"
	addr := startGnuTLSServ(t, "--echo", "--rawpkkeyfile", keyFile, "--rawpkfile", pubFile,
		"--priority", prio, "--require-client-cert")
	var seen ConnectionState
	c := dial(t, addr, &Config{ServerName: "server.test", AcceptRawPublicKeys: true,
		Certificates:     []Certificate{{PrivateKey: cliKey}},
		VerifyConnection: acceptAll(&seen)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("dance\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 6)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "dance\n" {
		t.Fatalf("echo %q, %v", got, err)
	}
	if !bytes.Equal(seen.PeerRawPublicKey, spkiOf(t, srvKey)) || len(seen.PeerCertificates) != 0 {
		t.Errorf("VerifyConnection saw raw key %x and %d certificates, want the server's key", seen.PeerRawPublicKey, len(seen.PeerCertificates))
	}
	c.Close()
}
