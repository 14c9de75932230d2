package tls13

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// TestServerSecondHelloPSK: after a HelloRetryRequest the second
// ClientHello may update its PSK ages and binders and drop the PSKs the
// server could not use, nothing else (RFC 8446 §4.1.2). Dropping a usable
// PSK, adding or replacing one, or changing psk_key_exchange_modes is
// refused.
func TestServerSecondHelloPSK(t *testing.T) {
	p := testPKI(t)
	scfg := ourServerConfig(p)
	scfg.CurvePreferences = []CurveID{CurveP256}
	ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0),
		CurvePreferences: []CurveID{CurveP256}}
	addr, res := startOurServer(t, scfg)
	echo(t, dial(t, addr, ccfg), "ticket")
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
	s, ok := ccfg.ClientSessionCache.Get("server.test")
	if !ok {
		t.Fatal("no session")
	}
	id := wire.PSKIdentity{Identity: s.ticket, ObfuscatedTicketAge: uint32(time.Since(s.receivedAt).Milliseconds()) + s.ageAdd}
	modified := wire.PSKIdentity{Identity: bytes.Clone(s.ticket), ObfuscatedTicketAge: id.ObfuscatedTicketAge}
	modified.Identity[len(modified.Identity)-1] ^= 1
	other := wire.PSKIdentity{Identity: []byte("no such ticket"), ObfuscatedTicketAge: 1}
	dhe := []uint8{wire.PSKModeDHEKE}
	const full = -1
	cases := map[string]struct {
		first, second []wire.PSKIdentity
		secondModes   []uint8
		wantAlert     alert.Description
		wantID        int
	}{
		"PSK kept":               {first: []wire.PSKIdentity{id}, second: []wire.PSKIdentity{id}, wantID: 0},
		"PSK dropped":            {first: []wire.PSKIdentity{id}, wantAlert: alert.MissingExtension},
		"usable PSK dropped":     {first: []wire.PSKIdentity{other, id}, second: []wire.PSKIdentity{other}, wantAlert: alert.IllegalParameter},
		"PSK replaced":           {first: []wire.PSKIdentity{id}, second: []wire.PSKIdentity{other}, wantAlert: alert.IllegalParameter},
		"PSK added":              {second: []wire.PSKIdentity{id}, wantAlert: alert.IllegalParameter},
		"unusable PSK dropped":   {first: []wire.PSKIdentity{modified}, wantID: full},
		"unusable PSK kept":      {first: []wire.PSKIdentity{modified, id}, second: []wire.PSKIdentity{modified, id}, wantID: 1},
		"psk modes changed":      {first: []wire.PSKIdentity{id}, second: []wire.PSKIdentity{id}, secondModes: []uint8{wire.PSKModeKE, wire.PSKModeDHEKE}, wantAlert: alert.IllegalParameter},
		"no PSK in either hello": {wantID: full},
	}
	psks := func(ids []wire.PSKIdentity) [][]byte {
		var out [][]byte
		for range ids {
			out = append(out, s.psk)
		}
		return out
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			addr, res := startOurServer(t, scfg)
			c := dialRaw(t, addr)
			o := pskOffer{suites: []uint16{record.TLS_AES_128_GCM_SHA256}, modes: dhe, serverName: "server.test",
				groups: []uint16{wire.GroupX25519, wire.GroupSecp256r1}, ids: tc.first, psks: psks(tc.first)}
			ch1 := o.marshal(t)
			if _, err := c.Write(ch1); err != nil {
				t.Fatal(err)
			}
			rec, err := readRawRecord(c)
			if err != nil {
				t.Fatal(err)
			}
			var hrr wire.ServerHello
			if err := hrr.Unmarshal(rec[record.HeaderLen:]); err != nil || !hrr.IsHelloRetryRequest() {
				t.Fatalf("want a HelloRetryRequest, got % x (%v)", rec[:5], err)
			}
			// RFC 8446 §4.4.1: message_hash of the first ClientHello,
			// then the HelloRetryRequest.
			sum := sha256.Sum256(ch1[record.HeaderLen:])
			prefix := append([]byte{byte(wire.TypeMessageHash), 0, 0, byte(len(sum))}, sum[:]...)
			prefix = append(prefix, rec[record.HeaderLen:]...)
			o.share, o.cookie, o.prefix = CurveP256, hrr.Cookie, prefix
			o.ids, o.psks = tc.second, psks(tc.second)
			if tc.secondModes != nil {
				o.modes = tc.secondModes
			}
			if _, err := c.Write(o.marshal(t)); err != nil {
				t.Fatal(err)
			}
			for {
				rec, err = readRawRecord(c)
				if err != nil {
					t.Fatal(err)
				}
				if record.ContentType(rec[0]) != record.TypeChangeCipherSpec {
					break
				}
			}
			checkSelectedIdentity(t, rec, tc.wantAlert, tc.wantID)
			c.Close()
			<-res
		})
	}
}

// TestNoResumptionPastNewClientCAs: a ticket carries the client chain
// verified when it was issued; once the server's ClientCAs no longer
// vouch for it, the ticket does not resume and a full handshake verifies
// the client afresh (here refusing it with unknown_ca).
func TestNoResumptionPastNewClientCAs(t *testing.T) {
	p := testPKI(t)
	scfg := ourServerConfig(p)
	scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
	ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0),
		Certificates: []Certificate{p.clients["ecdsa"]}}
	for i, want := range []bool{false, true} {
		addr, res := startOurServer(t, scfg)
		echo(t, dial(t, addr, ccfg), "ticket")
		if r := <-res; r.err != nil || r.state.Resumed != want {
			t.Fatalf("connection %d: %v, resumed %v", i, r.err, r.state.Resumed)
		}
	}
	// The same Config, so the same ticket keys; another pool.
	scfg.ClientCAs = x509.NewCertPool()
	addr, res := startOurServer(t, scfg)
	c := dial(t, addr, ccfg)
	c.HandshakeContext(context.Background())
	c.Write([]byte("x")) // echoed if the server resumed
	c.Read(make([]byte, 1))
	c.Close()
	r := <-res
	if d, ok := alert.Of(r.err); !ok || d != alert.UnknownCA || r.state.Resumed {
		t.Fatalf("server error %v, resumed %v; want unknown_ca from a full handshake", r.err, r.state.Resumed)
	}
}
