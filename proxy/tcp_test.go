package proxy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/proxy"
)

// clientTLS is a Go client presenting c and trusting the proxy.
func (w *world) clientTLS(c *client) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(w.srvCert.Leaf)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{c.pair}, ServerName: "127.0.0.1"}
}

// TestTCPModeNginx puts nginx, with "listen ... proxy_protocol", behind
// the proxy in tcp mode: nginx parses the PROXY v2 header (it refuses a
// broken one) and answers with the addresses it read from it. The clients
// speak HTTP inside TLS to the proxy, which forwards the plain bytes.
func TestTCPModeNginx(t *testing.T) {
	w := newWorld(t)
	nginx := startNginx(t, `server {
    listen 127.0.0.1:%PORT% proxy_protocol;
    location / {
      default_type text/plain;
      return 200 "client=$proxy_protocol_addr:$proxy_protocol_port server=$proxy_protocol_server_addr:$proxy_protocol_server_port\n";
    }
  }`)
	addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeTCP, Backend: nginx})
	serverPart := "server=" + addr + "\n"
	for _, short := range []string{ecdsaClient, ed25519Client, rsaClient} {
		c := w.clients[short]
		t.Run("curl/"+short, func(t *testing.T) {
			out, errb, err := w.curl(t, c, "https://"+addr+"/")
			if err != nil {
				t.Fatalf("curl: %v: %s", err, errb)
			}
			if !strings.HasPrefix(out, "client=127.0.0.1:") || !strings.HasSuffix(out, serverPart) {
				t.Fatalf("nginx read %q from the PROXY header, want client=127.0.0.1:* %s", out, serverPart)
			}
		})
		t.Run("openssl/"+short, func(t *testing.T) {
			out, errb, err := w.sClient(t, c, addr, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
			if err != nil {
				t.Fatalf("s_client: %v: %s", err, errb)
			}
			if !strings.HasPrefix(out, "HTTP/1.1 200 ") || !strings.Contains(out, "client=127.0.0.1:") || !strings.Contains(out, serverPart) {
				t.Fatalf("answer %q", out)
			}
		})
	}
	t.Run("go client: exact source port", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, w.clientTLS(w.clients[ecdsaClient]))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
		b, err := io.ReadAll(conn)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("client=%s %s", conn.LocalAddr(), serverPart)
		if !strings.HasSuffix(string(b), want) {
			t.Fatalf("answer %q, want it to end with %q", b, want)
		}
	})
	t.Run("refused: revoked", func(t *testing.T) {
		if out, _, err := w.curl(t, w.clients[revokedClient], "https://"+addr+"/"); err == nil {
			t.Fatalf("curl succeeded: %q", out)
		}
	})
}

// recorder is a backend that keeps the PROXY header of each connection,
// found by its length field alone, and answers "ok".
func recorder(t *testing.T) (string, <-chan []byte) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan []byte, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				br := bufio.NewReader(c)
				fixed := make([]byte, 16)
				if _, err := io.ReadFull(br, fixed); err != nil {
					return
				}
				rest := make([]byte, binary.BigEndian.Uint16(fixed[14:]))
				if _, err := io.ReadFull(br, rest); err != nil {
					return
				}
				got <- append(fixed, rest...)
				line, _ := br.ReadString('\n')
				fmt.Fprintf(c, "ok %s", line)
			}()
		}
	}()
	return ln.Addr().String(), got
}

// tshark decodes a PROXY header with Wireshark's dissector: text2pcap
// wraps the bytes in a TCP segment, tshark prints the fields.
func tshark(t *testing.T, hdr []byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	var hex strings.Builder
	for i, b := range hdr {
		if i%16 == 0 {
			fmt.Fprintf(&hex, "\n%06x", i)
		}
		fmt.Fprintf(&hex, " %02x", b)
	}
	in, pcap := filepath.Join(dir, "hdr.txt"), filepath.Join(dir, "hdr.pcap")
	if err := os.WriteFile(in, []byte(hex.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errb, err := runTool(t, "", "text2pcap", "-T", "40000,9999", in, pcap); err != nil {
		t.Fatalf("text2pcap: %v: %s", err, errb)
	}
	fields := []string{"proxy.v2.version", "proxy.v2.cmd", "proxy.src.ipv4", "proxy.srcport", "proxy.dst.ipv4", "proxy.dstport",
		"proxy.v2.tlv.type", "proxy.v2.tlv.value", "proxy.v2.tlv.ssl.version", "proxy.v2.tlv.ssl.client", "proxy.v2.tlv.ssl.verify"}
	args := []string{"-r", pcap, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, errb, err := runTool(t, "", "tshark", args...)
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, errb)
	}
	vals := strings.Split(strings.TrimRight(out, "\n"), "|")
	if len(vals) != len(fields) {
		t.Fatalf("tshark printed %q", out)
	}
	m := map[string]string{}
	for i, f := range fields {
		m[f] = vals[i]
	}
	return m
}

// TestTCPModeTshark checks the PROXY v2 header field by field with an
// independent decoder (Wireshark's): addresses, ports, the identity TLV of
// the configured type and the optional PP2_TYPE_SSL.
func TestTCPModeTshark(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name   string
		tlv    byte
		ssl    bool
		client string
	}{
		{"default TLV 0xE0", 0, false, ecdsaClient},
		{"TLV 0xE7 with SSL TLV", 0xE7, true, ed25519Client},
		{"rsa", 0xEF, false, rsaClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend, got := recorder(t)
			addr, _ := startProxy(t, w, proxy.Config{Mode: proxy.ModeTCP, Backend: backend, TLVType: tt.tlv, SSLTLV: tt.ssl})
			c := w.clients[tt.client]
			conn, err := tls.Dial("tcp", addr, w.clientTLS(c))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "ping\n")
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || line != "ok ping\n" {
				t.Fatalf("through the proxy: %q, %v", line, err)
			}
			f := tshark(t, <-got)
			typ := tt.tlv
			if typ == 0 {
				typ = 0xE0
			}
			local, remote := mustAddrPort(t, conn.LocalAddr().String()), mustAddrPort(t, addr)
			want := map[string]string{
				"proxy.v2.version": "2", "proxy.v2.cmd": "1",
				"proxy.src.ipv4": local.Addr().String(), "proxy.srcport": fmt.Sprint(local.Port()),
				"proxy.dst.ipv4": remote.Addr().String(), "proxy.dstport": fmt.Sprint(remote.Port()),
			}
			nameHex := fmt.Sprintf("%x", c.name)
			if tt.ssl {
				want["proxy.v2.tlv.ssl.version"] = "TLSv1.3"
				want["proxy.v2.tlv.ssl.client"] = "0x03"       // PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN
				want["proxy.v2.tlv.ssl.verify"] = "0x00000000" // verified
				if !strings.HasPrefix(f["proxy.v2.tlv.type"], fmt.Sprintf("0x%02x,0x20,", typ)) {
					t.Errorf("TLV types %q, want 0x%02x then 0x20", f["proxy.v2.tlv.type"], typ)
				}
			} else if f["proxy.v2.tlv.type"] != fmt.Sprintf("0x%02x", typ) {
				t.Errorf("TLV types %q, want only 0x%02x", f["proxy.v2.tlv.type"], typ)
			}
			if v := strings.Split(f["proxy.v2.tlv.value"], ","); v[0] != nameHex {
				t.Errorf("TLV value %q, want %q (%s)", v[0], nameHex, c.name)
			}
			for k, v := range want {
				if f[k] != v {
					t.Errorf("%s = %q, want %q", k, f[k], v)
				}
			}
		})
	}
}
