package danetls

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// whoReply is what a raw TLS test server answers to each line: the
// identity IdentityFromConn reports for the connection, with the TLSA
// record that matched (which tells the verifiers apart).
type whoReply struct {
	OK     bool   `json:"ok"`
	Name   string `json:"name,omitempty"`
	Record string `json:"record,omitempty"`
}

func (r whoReply) String() string {
	if !r.OK {
		return "no identity"
	}
	return r.Name + " by " + r.Record
}

// startTLS serves raw TLS with cfg on 127.0.0.1: each connection is
// handshaken, then answers every line it reads with a whoReply as JSON.
// The listener and every connection are closed at cleanup.
func startTLS(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					c.Close()
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				tc := tls.Server(c, cfg)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := tc.HandshakeContext(ctx)
				cancel()
				if err != nil {
					return
				}
				sc := bufio.NewScanner(tc)
				for sc.Scan() {
					var r whoReply
					if id, ok := IdentityFromConn(tc); ok {
						r = whoReply{OK: true, Name: id.Name, Record: id.Record.String()}
					}
					b, _ := json.Marshal(r)
					if _, err := tc.Write(append(b, '\n')); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// whoConn is a client connection to a startTLS server.
type whoConn struct {
	tc *tls.Conn
	r  *bufio.Reader
}

// dialWho connects to addr with cfg and completes the handshake. In TLS
// 1.3 the client's handshake completes before the server has checked its
// certificate: a refusal shows on the first query.
func dialWho(t testing.TB, addr string, cfg *tls.Config) (*whoConn, error) {
	t.Helper()
	d := &tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 30 * time.Second}}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*tls.Conn)
	t.Cleanup(func() { tc.Close() })
	return &whoConn{tc: tc, r: bufio.NewReader(tc)}, nil
}

// mustDialWho is dialWho for connections that must succeed.
func mustDialWho(t testing.TB, addr string, cfg *tls.Config) *whoConn {
	t.Helper()
	w, err := dialWho(t, addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return w
}

// query asks the server who this connection is.
func (w *whoConn) query() (whoReply, error) {
	w.tc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintln(w.tc, "who"); err != nil {
		return whoReply{}, err
	}
	line, err := w.r.ReadBytes('\n')
	if err != nil {
		return whoReply{}, err
	}
	var r whoReply
	if err := json.Unmarshal(line, &r); err != nil {
		return whoReply{}, fmt.Errorf("%w: %q", err, line)
	}
	return r, nil
}

// ask is query for connections that must be answered.
func (w *whoConn) ask(t testing.TB) whoReply {
	t.Helper()
	r, err := w.query()
	if err != nil {
		t.Fatalf("asking the server: %v", err)
	}
	return r
}

// whoOnce connects, asks once and closes: the identity a new connection
// gets, whether it resumed a session, or the error that refused it.
func whoOnce(t testing.TB, addr string, cfg *tls.Config) (r whoReply, resumed bool, err error) {
	t.Helper()
	w, err := dialWho(t, addr, cfg)
	if err != nil {
		return whoReply{}, false, err
	}
	defer w.tc.Close()
	r, err = w.query()
	return r, w.tc.ConnectionState().DidResume, err
}

// whoClient is a client configuration for startTLS servers: it trusts
// pool, presents id (if any), keeps its own session cache and caps the
// version at maxVersion.
func whoClient(t testing.TB, pool *x509.CertPool, id *ident, maxVersion uint16) *tls.Config {
	t.Helper()
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: maxVersion, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	if id == nil {
		return cfg
	}
	cert, err := LoadIdentity(id.dir)
	if err != nil {
		t.Fatal(err)
	}
	return ClientConfig(cfg, cert)
}
