package tls13

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"
)

// TestExportKeyingMaterial: our server's exporter (RFC 8446 §7.5) gives
// what crypto/tls's client computes, for each suite (SHA-256 and SHA-384),
// with and without a context; before the handshake it refuses.
func TestExportKeyingMaterial(t *testing.T) {
	p := testPKI(t)
	for _, suite := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384} {
		for _, ctx := range [][]byte{nil, []byte("context")} {
			cfg := ourServerConfig(p)
			saved := serverSuites
			serverSuites = []uint16{suite}
			t.Cleanup(func() { serverSuites = saved })
			addr, res := serveConns(t, cfg, 1, func(c *Conn) ([]byte, error) {
				return c.ExportKeyingMaterial("EXPORTER-dance-test", ctx, 42)
			})
			c := tlsDial(t, addr, &tls.Config{ServerName: "server.test", RootCAs: p.roots, MinVersion: tls.VersionTLS13})
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			st := c.ConnectionState()
			want, err := st.ExportKeyingMaterial("EXPORTER-dance-test", ctx, 42)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			r := <-res
			if r.err != nil || !bytes.Equal(r.data, want) || st.CipherSuite != suite {
				t.Fatalf("suite %#04x context %q: ours %x (%v), crypto/tls %x", st.CipherSuite, ctx, r.data, r.err, want)
			}
		}
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := Client(a, &Config{ServerName: "x"}).ExportKeyingMaterial("x", nil, 1); err == nil {
		t.Fatal("export before the handshake")
	}
}
