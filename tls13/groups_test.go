package tls13

import (
	"bytes"
	"crypto/mlkem"
	"crypto/rand"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// TestHybridShareLayout checks the X25519MLKEM768 layout of
// draft-ietf-tls-ecdhe-mlkem §3 between our two halves: a 1216-octet
// client share whose first 1184 octets are an ML-KEM-768 encapsulation key,
// a 1120-octet server share whose first 1088 octets are the ciphertext, and
// a 64-octet secret, ML-KEM's first, that both sides agree on.
func TestHybridShareLayout(t *testing.T) {
	k, err := newGroupKey(X25519MLKEM768, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cs := k.share()
	if len(cs) != 1216 {
		t.Fatalf("client share %d octets", len(cs))
	}
	if !bytes.Equal(cs[:mlkem.EncapsulationKeySize768], k.dk.EncapsulationKey().Bytes()) ||
		!bytes.Equal(cs[mlkem.EncapsulationKeySize768:], k.ec.PublicKey().Bytes()) {
		t.Fatal("client share is not encapsulation key then X25519 key")
	}
	ss, secret, err := serverKeyExchange(X25519MLKEM768, rand.Reader, cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1120 || len(secret) != 64 {
		t.Fatalf("server share %d octets, secret %d", len(ss), len(secret))
	}
	got, err := k.sharedSecret(ss)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, secret) {
		t.Fatal("client and server secrets differ")
	}
	kem, err := k.dk.Decapsulate(ss[:mlkem.CiphertextSize768])
	if err != nil || !bytes.Equal(secret[:32], kem) {
		t.Fatal("secret does not start with the ML-KEM shared key")
	}
}

// TestHybridShareRefused: malformed X25519MLKEM768 shares are
// illegal_parameter on both sides (draft-ietf-tls-ecdhe-mlkem §3).
func TestHybridShareRefused(t *testing.T) {
	k, err := newGroupKey(X25519MLKEM768, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := k.share()
	srv, _, err := serverKeyExchange(X25519MLKEM768, rand.Reader, good)
	if err != nil {
		t.Fatal(err)
	}
	badKey := bytes.Clone(good)
	// Coefficients are 12-bit values below q = 3329; all ones is above.
	badKey[0], badKey[1] = 0xff, 0xff
	zeroX := bytes.Clone(good)
	clear(zeroX[mlkem.EncapsulationKeySize768:]) // X25519 low-order point: all-zero secret
	clientCases := map[string][]byte{
		"short":             good[:len(good)-1],
		"long":              append(bytes.Clone(good), 0),
		"X25519 share only": good[mlkem.EncapsulationKeySize768:],
		"bad ML-KEM key":    badKey,
		"zero X25519 share": zeroX,
	}
	for name, share := range clientCases {
		t.Run("server/"+name, func(t *testing.T) {
			_, _, err := serverKeyExchange(X25519MLKEM768, rand.Reader, share)
			if d, ok := alert.Of(err); !ok || d != alert.IllegalParameter {
				t.Fatalf("err %v, want illegal_parameter", err)
			}
		})
	}
	serverCases := map[string][]byte{
		"short": srv[:len(srv)-1],
		"long":  append(bytes.Clone(srv), 0),
	}
	for name, share := range serverCases {
		t.Run("client/"+name, func(t *testing.T) {
			_, err := k.sharedSecret(share)
			if d, ok := alert.Of(err); !ok || d != alert.IllegalParameter {
				t.Fatalf("err %v, want illegal_parameter", err)
			}
		})
	}
}

// TestServerRefusesShortHybridShare sends our server a ClientHello whose
// X25519MLKEM768 share is an X25519 key's length and reads its alert.
func TestServerRefusesShortHybridShare(t *testing.T) {
	p := testPKI(t)
	addr, res := startOurServer(t, ourServerConfig(p))
	c := dialRaw(t, addr)
	h := defaultRawHello()
	h.groups, h.shares = []uint16{wire.GroupX25519MLKEM768}, nil
	h.extra = []wire.Extension{wire.NewClientKeyShareExtension([]wire.KeyShare{{Group: wire.GroupX25519MLKEM768, Data: make([]byte, 32)}})}
	if _, err := c.Write(h.marshal(t)); err != nil {
		t.Fatal(err)
	}
	if got, _ := readAlert(t, c); got != alert.IllegalParameter {
		t.Fatalf("alert %v, want illegal_parameter", got)
	}
	if r := <-res; r.err == nil {
		t.Fatal("server handshake succeeded")
	}
}

// TestOurGroups runs our client against our server for every group,
// directly and through a HelloRetryRequest.
func TestOurGroups(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		cli, srv []CurveID
		want     CurveID
		wantHRR  bool
	}{
		"defaults":              {want: X25519MLKEM768},
		"server without hybrid": {srv: []CurveID{X25519, CurveP256}, want: X25519},
		"P-384":                 {cli: []CurveID{CurveP384}, want: CurveP384},
		"HRR to P-384":          {srv: []CurveID{CurveP384}, want: CurveP384, wantHRR: true},
		"HRR to X25519MLKEM768": {cli: []CurveID{CurveP256, X25519MLKEM768}, srv: []CurveID{X25519MLKEM768}, want: X25519MLKEM768, wantHRR: true},
		"hybrid without X25519": {cli: []CurveID{X25519MLKEM768, CurveP256}, srv: []CurveID{CurveP256}, want: CurveP256, wantHRR: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.CurvePreferences = tc.srv
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, CurvePreferences: tc.cli})
			echo(t, c, "groups")
			c.Close()
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			st := c.ConnectionState()
			if st.Group != tc.want || r.state.Group != tc.want || st.HelloRetried != tc.wantHRR {
				t.Errorf("client %v (HRR %v), server %v; want %v (HRR %v)", st.Group, st.HelloRetried, r.state.Group, tc.want, tc.wantHRR)
			}
		})
	}
}
