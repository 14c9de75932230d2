package tls13

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientIDPeerC is a dane_clientid peer written against OpenSSL's custom
// extension API (SSL_CTX_add_custom_ext), with the contexts
// SSL_EXT_TLS1_3_CERTIFICATE_REQUEST and SSL_EXT_TLS1_3_CERTIFICATE:
//
//	peer server CODEPOINT CERT KEY     listens on 127.0.0.1, a port of the
//	                                   kernel's choice printed as "PORT n";
//	                                   asks for a client certificate with the
//	                                   empty extension in its
//	                                   CertificateRequest, prints
//	                                   "CLIENTNAME name" (or "CLIENTNAME -")
//	                                   and writes "ok\n".
//	peer client CODEPOINT PORT CERT KEY NAME
//	                                   connects to 127.0.0.1:PORT, answers a
//	                                   CertificateRequest that carries the
//	                                   extension with NAME in its end-entity
//	                                   entry, prints "ASKED yes|no" and what
//	                                   the server wrote.
//
// Server certificates are not verified: the extension is what is tested.
const clientIDPeerC = `
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *claimed;
static int asked;
static char seen[256] = "-";

static int add_cb(SSL *s, unsigned int type, unsigned int ctx, const unsigned char **out,
                  size_t *outlen, X509 *x, size_t idx, int *al, void *arg) {
	if (ctx == SSL_EXT_TLS1_3_CERTIFICATE_REQUEST) { /* the server asks: empty */
		*out = NULL;
		*outlen = 0;
		return 1;
	}
	if (ctx == SSL_EXT_TLS1_3_CERTIFICATE && !SSL_is_server(s) && claimed && idx == 0) {
		size_t n = strlen(claimed);
		unsigned char *b = malloc(n + 1);
		b[0] = (unsigned char)n;
		memcpy(b + 1, claimed, n);
		*out = b;
		*outlen = n + 1;
		return 1;
	}
	return 0;
}

static void free_cb(SSL *s, unsigned int type, unsigned int ctx, const unsigned char *out, void *arg) {
	if (ctx == SSL_EXT_TLS1_3_CERTIFICATE)
		free((void *)out);
}

static int parse_cb(SSL *s, unsigned int type, unsigned int ctx, const unsigned char *in,
                    size_t inlen, X509 *x, size_t idx, int *al, void *arg) {
	if (ctx == SSL_EXT_TLS1_3_CERTIFICATE_REQUEST) {
		asked = 1;
		return 1;
	}
	if (ctx == SSL_EXT_TLS1_3_CERTIFICATE && SSL_is_server(s)) {
		if (idx != 0 || inlen < 2 || in[0] != inlen - 1) {
			*al = SSL_AD_ILLEGAL_PARAMETER;
			return 0;
		}
		memcpy(seen, in + 1, inlen - 1);
		seen[inlen - 1] = 0;
		return 1;
	}
	return 1;
}

static int accept_any(int ok, X509_STORE_CTX *c) { return 1; }

static void die(const char *what) {
	fprintf(stderr, "%s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

int main(int argc, char **argv) {
	if (argc < 5) return 2;
	int server = strcmp(argv[1], "server") == 0;
	unsigned int codepoint = (unsigned int)strtoul(argv[2], NULL, 0);
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	const char *cert = server ? argv[3] : argv[4], *key = server ? argv[4] : argv[5];
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("loading the credential");
	if (!server && argc > 6) claimed = argv[6];
	if (SSL_CTX_add_custom_ext(ctx, codepoint, SSL_EXT_TLS1_3_CERTIFICATE_REQUEST | SSL_EXT_TLS1_3_CERTIFICATE,
	                           add_cb, free_cb, NULL, parse_cb, NULL) != 1)
		die("SSL_CTX_add_custom_ext");
	SSL_CTX_set_verify(ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE, accept_any);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (server) {
		socklen_t l = sizeof a;
		if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 1) || getsockname(fd, (struct sockaddr *)&a, &l))
			die("listen");
		printf("PORT %d\n", ntohs(a.sin_port));
		fflush(stdout);
		int c = accept(fd, NULL, NULL);
		if (c < 0) die("accept");
		SSL *s = SSL_new(ctx);
		SSL_set_fd(s, c);
		if (SSL_accept(s) != 1) die("SSL_accept");
		/* The client's Certificate is read in the handshake. */
		printf("CLIENTNAME %s\n", seen);
		fflush(stdout);
		SSL_write(s, "ok\n", 3);
		SSL_shutdown(s);
		return 0;
	}
	a.sin_port = htons((unsigned short)atoi(argv[3]));
	if (connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect");
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) != 1) die("SSL_connect");
	char buf[64];
	int n = SSL_read(s, buf, sizeof buf - 1); /* our server's verdict comes after the handshake */
	printf("ASKED %s\n", asked ? "yes" : "no");
	if (n > 0) {
		buf[n] = 0;
		printf("READ %s", buf);
	} else {
		printf("READ failed %d\n", SSL_get_error(s, n));
		ERR_print_errors_fp(stdout);
	}
	return 0;
}
`

// buildClientIDPeer compiles clientIDPeerC with gcc against libssl (Debian
// packages gcc and libssl-dev, in scripts/debian-packages) into the test's
// temporary directory.
func buildClientIDPeer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "peer.c")
	if err := os.WriteFile(src, []byte(clientIDPeerC), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "peer")
	if out, err := exec.Command("gcc", "-Wall", "-o", bin, src, "-lssl", "-lcrypto").CombinedOutput(); err != nil {
		t.Fatalf("gcc (Debian packages gcc and libssl-dev): %v\n%s", err, out)
	}
	return bin
}

// TestClientIDWithOpenSSLServer: an OpenSSL server asks for dane_clientid in
// its CertificateRequest and reads the name our client puts in its
// end-entity entry. With another codepoint the server's request is, to our
// client, an unknown extension: it ignores it and sends no name.
func TestClientIDWithOpenSSLServer(t *testing.T) {
	bin := buildClientIDPeer(t)
	p := testPKI(t)
	dir := opensslFiles(t, p)
	cases := map[string]struct {
		serverCP string
		ourCP    uint16
		want     string
	}{
		"default codepoint":   {serverCP: "0xFFDA", want: deviceName},
		"agreed codepoint":    {serverCP: "65346", ourCP: 0xFF42, want: deviceName},
		"codepoints disagree": {serverCP: "0xFF42", want: "-"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "server", tc.serverCP, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			lines := bufio.NewScanner(stdout)
			var port string
			if !lines.Scan() || !strings.HasPrefix(lines.Text(), "PORT ") {
				t.Fatalf("peer did not report its port: %q %s", lines.Text(), stderr.String())
			}
			port = strings.TrimPrefix(lines.Text(), "PORT ")
			c := dial(t, net.JoinHostPort("127.0.0.1", port), &Config{ServerName: "server.test", RootCAs: p.roots,
				Certificates: []Certificate{p.clients["ecdsa"]}, ClientName: deviceName, DANEClientIDCodepoint: tc.ourCP})
			if err := c.HandshakeContext(ctx); err != nil {
				t.Fatalf("handshake: %v\n%s", err, stderr.String())
			}
			got, err := io.ReadAll(c)
			if err != nil || string(got) != "ok\n" {
				t.Fatalf("read %q, %v\n%s", got, err, stderr.String())
			}
			var seen string
			for lines.Scan() {
				if v, ok := strings.CutPrefix(lines.Text(), "CLIENTNAME "); ok {
					seen = v
				}
			}
			if seen != tc.want {
				t.Errorf("OpenSSL read the name %q, want %q\n%s", seen, tc.want, stderr.String())
			}
			cs := c.ConnectionState()
			if (cs.ClientName == deviceName) != (tc.want == deviceName) {
				t.Errorf("our client reports ClientName %q", cs.ClientName)
			}
		})
	}
}

// TestClientIDWithOpenSSLClient: our server asks, an OpenSSL client answers
// with its name; a client that does not know the extension (openssl
// s_client) ignores the request and is served by its certificate alone.
func TestClientIDWithOpenSSLClient(t *testing.T) {
	bin := buildClientIDPeer(t)
	p := testPKI(t)
	dir := opensslFiles(t, p)
	cases := map[string]struct {
		peerCP    string // "": openssl s_client, which does not know the extension
		ourCP     uint16
		wantName  string
		wantAsked string
	}{
		"default codepoint":   {peerCP: "0xFFDA", wantName: deviceName, wantAsked: "yes"},
		"agreed codepoint":    {peerCP: "0xFF42", ourCP: 0xFF42, wantName: deviceName, wantAsked: "yes"},
		"codepoints disagree": {peerCP: "0xFF42", wantAsked: "no"},
		"openssl s_client":    {},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ourServerConfig(p)
			cfg.ClientAuth, cfg.ClientCAs, cfg.RequestClientName, cfg.DANEClientIDCodepoint = RequireClientCert, p.clientPool, true, tc.ourCP
			addr, done := startClientIDServer(t, cfg)
			_, port, _ := net.SplitHostPort(addr)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var cmd *exec.Cmd
			if tc.peerCP == "" {
				cmd = exec.CommandContext(ctx, needOpenSSL(t), "s_client", "-connect", addr, "-tls1_3", "-quiet",
					"-cert", filepath.Join(dir, "client-ecdsa.pem"), "-key", filepath.Join(dir, "client-ecdsa.key"))
				cmd.Stdin = strings.NewReader("")
			} else {
				cmd = exec.CommandContext(ctx, bin, "client", tc.peerCP, port, filepath.Join(dir, "client-ecdsa.pem"), filepath.Join(dir, "client-ecdsa.key"), deviceName)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("server: %v\npeer said:\n%s", r.err, out)
			}
			if !strings.Contains(string(out), "ok") {
				t.Errorf("peer did not read our ok:\n%s", out)
			}
			if r.state.ClientName != tc.wantName || r.state.DANEClientID != (tc.wantName != "") {
				t.Errorf("ClientName %q DANEClientID %v, want %q", r.state.ClientName, r.state.DANEClientID, tc.wantName)
			}
			if len(r.state.PeerCertificates) == 0 {
				t.Error("no client certificate")
			}
			if tc.wantAsked != "" && !strings.Contains(string(out), "ASKED "+tc.wantAsked) {
				t.Errorf("peer: want ASKED %s:\n%s", tc.wantAsked, out)
			}
		})
	}
}

// startClientIDServer accepts one connection with our server, writes "ok\n"
// after the handshake and closes.
func startClientIDServer(t *testing.T, cfg *Config) (string, <-chan ourResult) {
	t.Helper()
	return serveConns(t, cfg, 1, func(c *Conn) ([]byte, error) {
		_, err := c.Write([]byte("ok\n"))
		return nil, err
	})
}
