package tls13

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/record"
)

// fragmentWatch is a net.Conn that parses the records written through it
// and keeps the largest body of an unprotected record and of a protected
// one (application_data: content, type octet and tag).
type fragmentWatch struct {
	net.Conn
	mu               sync.Mutex
	pending          []byte
	plain, protected int
}

func (w *fragmentWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.pending = append(w.pending, b...)
	for len(w.pending) >= record.HeaderLen {
		n := int(w.pending[3])<<8 | int(w.pending[4])
		if len(w.pending) < record.HeaderLen+n {
			break
		}
		switch record.ContentType(w.pending[0]) {
		case record.TypeApplicationData:
			w.protected = max(w.protected, n)
		case record.TypeHandshake:
			w.plain = max(w.plain, n)
		}
		w.pending = w.pending[record.HeaderLen+n:]
	}
	w.mu.Unlock()
	return w.Conn.Write(b)
}

func (w *fragmentWatch) largest() (plain, protected int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.plain, w.protected
}

// TestMaxSendFragment: each side keeps the content of every record it
// sends, its unprotected hello and its protected flight and data alike,
// within its own MaxSendFragment, and within the peer's record_size_limit
// when that is smaller.
func TestMaxSendFragment(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		cliFrag, srvFrag, cliRSL int
		// The largest protected content each side sends (the 40000
		// octets of data fill records to the cap).
		wantCli, wantSrv int
	}{
		"both":                {cliFrag: 256, srvFrag: 512, wantCli: 256, wantSrv: 512},
		"server only":         {srvFrag: 100, wantCli: record.MaxPlaintext, wantSrv: 100},
		"smallest":            {cliFrag: 63, srvFrag: 63, wantCli: 63, wantSrv: 63},
		"peer limit smaller":  {srvFrag: 1000, cliRSL: 300, wantCli: record.MaxPlaintext, wantSrv: 299},
		"peer limit larger":   {srvFrag: 200, cliRSL: 300, wantCli: record.MaxPlaintext, wantSrv: 200},
		"protocol's own size": {cliFrag: record.MaxPlaintext, wantCli: record.MaxPlaintext, wantSrv: record.MaxPlaintext},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.MaxSendFragment = tc.srvFrag
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, MaxSendFragment: tc.cliFrag, RecordSizeLimit: tc.cliRSL}
			raw, sraw := tcpPair(t)
			cw, sw := &fragmentWatch{Conn: raw}, &fragmentWatch{Conn: sraw}
			cli, srv := Client(cw, ccfg), Server(sw, scfg)
			echoThrough(t, cli, srv, 40000)
			for _, side := range []struct {
				name       string
				w          *fragmentWatch
				frag, want int
			}{{"client", cw, tc.cliFrag, tc.wantCli}, {"server", sw, tc.srvFrag, tc.wantSrv}} {
				plain, protected := side.w.largest()
				// One octet of content type and the tag: no
				// padding is configured.
				if protected-1-aeadTag != side.want {
					t.Errorf("%s's largest protected content %d, want %d", side.name, protected-1-aeadTag, side.want)
				}
				// Both hellos are longer than every cap here but
				// the protocol's own, so the first record of each
				// is full.
				if side.frag != 0 && side.frag < record.MaxPlaintext && plain != side.frag {
					t.Errorf("%s's largest unprotected record %d, want %d", side.name, plain, side.frag)
				}
			}
		})
	}
}

// TestSendConfigRefused: a MaxSendFragment outside 63..16384, or an ALPN
// name the extension cannot carry (empty, over 255 octets, a list over
// 2^16-1 octets), fails the handshake of either side before anything is
// sent; the bounds themselves are accepted.
func TestSendConfigRefused(t *testing.T) {
	long := make([]string, 300)
	for i := range long {
		long[i] = strings.Repeat("p", 255)
	}
	cases := map[string]struct {
		cfg     Config
		wantErr string
	}{
		"fragment negative":     {cfg: Config{MaxSendFragment: -1}, wantErr: "MaxSendFragment"},
		"fragment 1":            {cfg: Config{MaxSendFragment: 1}, wantErr: "MaxSendFragment"},
		"fragment 62":           {cfg: Config{MaxSendFragment: 62}, wantErr: "MaxSendFragment"},
		"fragment 16385":        {cfg: Config{MaxSendFragment: 16385}, wantErr: "MaxSendFragment"},
		"empty ALPN name":       {cfg: Config{NextProtos: []string{"h2", ""}}, wantErr: "NextProtos[1]"},
		"ALPN name 256 octets":  {cfg: Config{NextProtos: []string{strings.Repeat("x", 256)}}, wantErr: "NextProtos[0]"},
		"ALPN list over 2^16-1": {cfg: Config{NextProtos: long}, wantErr: "NextProtos"},
	}
	p := testPKI(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, server := range []bool{false, true} {
				cfg := tc.cfg
				cfg.ServerName = "server.test"
				if server {
					cfg.Certificates = ourServerConfig(p).Certificates
				}
				// net.Pipe: a write would block, with nobody
				// reading, so an error back means nothing was
				// sent.
				a, b := net.Pipe()
				conn := Client(a, &cfg)
				if server {
					conn = Server(a, &cfg)
				}
				err := conn.HandshakeContext(context.Background())
				a.Close()
				b.Close()
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("server %v: handshake error %v, want one naming %s", server, err, tc.wantErr)
				}
			}
		})
	}
	// The bounds are accepted.
	for _, cfg := range []Config{{MaxSendFragment: 63}, {MaxSendFragment: record.MaxPlaintext}, {NextProtos: []string{"a", strings.Repeat("x", 255)}}} {
		scfg := ourServerConfig(p)
		scfg.NextProtos = []string{"a"}
		addr, res := startOurServer(t, scfg)
		cfg.ServerName, cfg.RootCAs = "server.test", p.roots
		echo(t, dial(t, addr, &cfg), "bounds")
		if r := <-res; r.err != nil {
			t.Fatal(r.err)
		}
	}
}
