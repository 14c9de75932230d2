package tls13

import (
	"crypto/x509"
	"testing"
	"time"
)

// TestVerifiedChainsWindow: a remembered chain is given back only for the
// pool it verified against and within the window where every certificate
// of its verified path is valid; past the window it is forgotten.
func TestVerifiedChainsWindow(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	leaf := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(48 * time.Hour)}
	root := &x509.Certificate{NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour)}
	pool, other := x509.NewCertPool(), x509.NewCertPool()
	key := chainKey([][]byte{[]byte("leaf")})
	var v verifiedChains
	v.put(key, []*x509.Certificate{leaf}, []*x509.Certificate{leaf, root}, pool)
	for _, tc := range []struct {
		name string
		key  [32]byte
		pool *x509.CertPool
		at   time.Time
		want bool
	}{
		{"same pool, in the window", key, pool, t0.Add(time.Hour), true},
		{"window's first instant", key, pool, t0, true},
		{"other pool", key, other, t0.Add(time.Hour), false},
		{"nil pool (system roots)", key, nil, t0.Add(time.Hour), false},
		{"before the leaf's NotBefore", key, pool, t0.Add(-time.Minute), false},
		{"another chain", chainKey([][]byte{[]byte("leaf"), []byte("ca")}), pool, t0.Add(time.Hour), false},
		{"after the root's NotAfter", key, pool, t0.Add(25 * time.Hour), false},
		{"forgotten once past", key, pool, t0.Add(time.Hour), false},
	} {
		if got := v.get(tc.key, tc.pool, tc.at); (got != nil) != tc.want {
			t.Errorf("%s: remembered %v, want %v", tc.name, got != nil, tc.want)
		}
	}
}

// TestVerifiedChainsBounded: the memory holds at most maxVerifiedChains.
func TestVerifiedChainsBounded(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	c := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	var v verifiedChains
	for i := range maxVerifiedChains + 10 {
		v.put(chainKey([][]byte{{byte(i), byte(i >> 8)}}), []*x509.Certificate{c}, []*x509.Certificate{c}, nil)
	}
	if len(v.m) != maxVerifiedChains {
		t.Fatalf("%d chains remembered, want %d", len(v.m), maxVerifiedChains)
	}
}

// TestResumptionUsesVerifiedChain: the client chain a full handshake
// verified is remembered, and a resumption that presents it in its ticket
// reports the remembered certificates instead of parsing and verifying
// them again.
func TestResumptionUsesVerifiedChain(t *testing.T) {
	p := testPKI(t)
	scfg := ourServerConfig(p)
	scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
	ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0),
		Certificates: []Certificate{p.clients["ecdsa"]}}
	var first *x509.Certificate
	for i, want := range []bool{false, true, true} {
		addr, res := startOurServer(t, scfg)
		echo(t, dial(t, addr, ccfg), "ticket")
		r := <-res
		if r.err != nil || r.state.Resumed != want || len(r.state.PeerCertificates) == 0 {
			t.Fatalf("connection %d: %v, resumed %v, %d certificates", i, r.err, r.state.Resumed, len(r.state.PeerCertificates))
		}
		got := r.state.PeerCertificates[0]
		// What a connection's user does with its PeerCertificates must
		// not reach the memory, nor the next connection.
		r.state.PeerCertificates[0] = nil
		if i == 0 {
			first = got
			if n := len(scfg.derived().chains.m); n != 1 {
				t.Fatalf("%d chains remembered after the full handshake, want 1", n)
			}
			continue
		}
		if got == nil {
			t.Fatalf("connection %d: resumed with the chain another connection's user changed", i)
		}
		if got != first {
			t.Errorf("connection %d: resumed with a newly parsed chain, not the remembered one", i)
		}
	}
}
