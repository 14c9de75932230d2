package tls13

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// readRawRecord reads one record from r, header included.
func readRawRecord(r io.Reader) ([]byte, error) {
	h := make([]byte, record.HeaderLen)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, err
	}
	body := make([]byte, int(h[3])<<8|int(h[4]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(h, body...), nil
}

func rawRecord(typ record.ContentType, data []byte) []byte {
	return append([]byte{byte(typ), 3, 3, byte(len(data) >> 8), byte(len(data))}, data...)
}

// startTamperer puts a relay between the client and a crypto/tls server
// that passes the server's i-th record through edit, which returns the
// records to send instead. Only the server's unprotected records
// (ServerHello, HelloRetryRequest, change_cipher_spec) can be changed
// meaningfully.
func startTamperer(t *testing.T, scfg *tls.Config, edit func(i int, rec []byte) [][]byte) string {
	t.Helper()
	srvAddr, _ := startServer(t, scfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		cli, err := ln.Accept()
		if err != nil {
			return
		}
		defer cli.Close()
		srv, err := net.Dial("tcp", srvAddr)
		if err != nil {
			return
		}
		defer srv.Close()
		go func() {
			io.Copy(srv, cli)
			srv.Close()
		}()
		for i := 0; ; i++ {
			rec, err := readRawRecord(srv)
			if err != nil {
				return
			}
			for _, out := range edit(i, rec) {
				if _, err := cli.Write(out); err != nil {
					return
				}
			}
		}
	}()
	return ln.Addr().String()
}

// editHello applies f to the server's hello messages (records of type
// handshake starting with a ServerHello).
func editHello(f func(n int, sh *wire.ServerHello) [][]byte) func(int, []byte) [][]byte {
	n := 0
	return func(i int, rec []byte) [][]byte {
		if record.ContentType(rec[0]) != record.TypeHandshake || rec[5] != byte(wire.TypeServerHello) {
			return [][]byte{rec}
		}
		var sh wire.ServerHello
		if err := sh.Unmarshal(rec[5:]); err != nil {
			panic(err)
		}
		n++
		return f(n, &sh)
	}
}

func shRecord(sh *wire.ServerHello) []byte {
	return rawRecord(record.TypeHandshake, sh.Marshal())
}

func setExt(sh *wire.ServerHello, e wire.Extension) {
	for i := range sh.Extensions {
		if sh.Extensions[i].Type == e.Type {
			sh.Extensions[i] = e
			return
		}
	}
	sh.Extensions = append(sh.Extensions, e)
}

func dropExt(sh *wire.ServerHello, t wire.ExtensionType) {
	var keep []wire.Extension
	for _, e := range sh.Extensions {
		if e.Type != t {
			keep = append(keep, e)
		}
	}
	sh.Extensions = keep
}

// TestClientRefusesTamperedServerHello changes crypto/tls's ServerHello
// and HelloRetryRequest on the wire; each change must be refused with the
// alert RFC 8446 §4.1.3, §4.1.4 and §4.2 name.
func TestClientRefusesTamperedServerHello(t *testing.T) {
	p := testPKI(t)
	one := func(f func(sh *wire.ServerHello)) func(int, *wire.ServerHello) [][]byte {
		return func(_ int, sh *wire.ServerHello) [][]byte {
			f(sh)
			return [][]byte{shRecord(sh)}
		}
	}
	cases := map[string]struct {
		forceHRR bool
		edit     func(n int, sh *wire.ServerHello) [][]byte
		want     alert.Description
	}{
		"session id echo":     {edit: one(func(sh *wire.ServerHello) { sh.SessionIDEcho[0] ^= 1 }), want: alert.IllegalParameter},
		"suite not offered":   {edit: one(func(sh *wire.ServerHello) { sh.CipherSuite = 0x1304 }), want: alert.IllegalParameter},
		"compression":         {edit: one(func(sh *wire.ServerHello) { sh.CompressionMethod = 1 }), want: alert.IllegalParameter},
		"legacy version":      {edit: one(func(sh *wire.ServerHello) { sh.LegacyVersion = 0x0304 }), want: alert.IllegalParameter},
		"version not offered": {edit: one(func(sh *wire.ServerHello) { setExt(sh, wire.NewServerSupportedVersionsExtension(0x0303)) }), want: alert.IllegalParameter},
		"TLS 1.2 selected":    {edit: one(func(sh *wire.ServerHello) { dropExt(sh, wire.ExtSupportedVersions) }), want: alert.ProtocolVersion},
		"downgrade sentinel": {edit: one(func(sh *wire.ServerHello) {
			dropExt(sh, wire.ExtSupportedVersions)
			copy(sh.Random[24:], wire.DowngradeTLS12)
		}), want: alert.IllegalParameter},
		"no key share": {edit: one(func(sh *wire.ServerHello) { dropExt(sh, wire.ExtKeyShare) }), want: alert.MissingExtension},
		"share for another group": {edit: one(func(sh *wire.ServerHello) {
			setExt(sh, wire.NewServerKeyShareExtension(wire.KeyShare{Group: wire.GroupSecp256r1, Data: sh.KeyShare.Data}))
		}), want: alert.IllegalParameter},
		"zero X25519 share": {edit: one(func(sh *wire.ServerHello) {
			setExt(sh, wire.NewServerKeyShareExtension(wire.KeyShare{Group: wire.GroupX25519, Data: make([]byte, 32)}))
		}), want: alert.IllegalParameter},
		"unknown extension":          {edit: one(func(sh *wire.ServerHello) { setExt(sh, wire.Extension{Type: 0x7777}) }), want: alert.UnsupportedExtension},
		"pre_shared_key not offered": {edit: one(func(sh *wire.ServerHello) { setExt(sh, wire.NewServerPreSharedKeyExtension(0)) }), want: alert.IllegalParameter},
		"first message not a hello": {edit: func(int, *wire.ServerHello) [][]byte {
			return [][]byte{rawRecord(record.TypeHandshake, (&wire.EncryptedExtensions{Extensions: []wire.Extension{}}).Marshal())}
		}, want: alert.UnexpectedMessage},
		"bad change_cipher_spec": {edit: func(_ int, sh *wire.ServerHello) [][]byte {
			return [][]byte{shRecord(sh), rawRecord(record.TypeChangeCipherSpec, []byte{2})}
		}, want: alert.UnexpectedMessage},
		"HRR for the group sent": {forceHRR: true, edit: func(n int, sh *wire.ServerHello) [][]byte {
			if n == 1 {
				setExt(sh, wire.NewHRRKeyShareExtension(wire.GroupX25519))
			}
			return [][]byte{shRecord(sh)}
		}, want: alert.IllegalParameter},
		"HRR for a group not offered": {forceHRR: true, edit: func(n int, sh *wire.ServerHello) [][]byte {
			if n == 1 {
				setExt(sh, wire.NewHRRKeyShareExtension(wire.GroupSecp384r1))
			}
			return [][]byte{shRecord(sh)}
		}, want: alert.IllegalParameter},
		"HRR changing nothing": {forceHRR: true, edit: func(n int, sh *wire.ServerHello) [][]byte {
			if n == 1 {
				dropExt(sh, wire.ExtKeyShare)
			}
			return [][]byte{shRecord(sh)}
		}, want: alert.IllegalParameter},
		"second HRR": {forceHRR: true, edit: func() func(int, *wire.ServerHello) [][]byte {
			var first []byte
			return func(n int, sh *wire.ServerHello) [][]byte {
				if n == 1 {
					first = shRecord(sh)
					return [][]byte{first}
				}
				return [][]byte{first}
			}
		}(), want: alert.UnexpectedMessage},
		"suite changed after HRR": {forceHRR: true, edit: func() func(int, *wire.ServerHello) [][]byte {
			var hrrSuite uint16
			return func(n int, sh *wire.ServerHello) [][]byte {
				if n == 1 {
					hrrSuite = sh.CipherSuite
				} else if hrrSuite == record.TLS_AES_128_GCM_SHA256 {
					sh.CipherSuite = record.TLS_CHACHA20_POLY1305_SHA256
				} else {
					sh.CipherSuite = record.TLS_AES_128_GCM_SHA256
				}
				return [][]byte{shRecord(sh)}
			}
		}(), want: alert.IllegalParameter},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := serverConfig(p)
			if tc.forceHRR {
				scfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
			}
			saved := clientSuites
			clientSuites = []uint16{record.TLS_AES_128_GCM_SHA256, record.TLS_CHACHA20_POLY1305_SHA256}
			t.Cleanup(func() { clientSuites = saved })
			addr := startTamperer(t, scfg, editHello(tc.edit))
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, CurvePreferences: []CurveID{X25519, CurveP256}})
			err := c.HandshakeContext(context.Background())
			if d, ok := alert.Of(err); !ok || d != tc.want {
				t.Fatalf("handshake error %v, want alert %v", err, tc.want)
			}
		})
	}
}
