package tls13

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"
)

// A server re-checks the client chain a ticket carries when it resumes the
// session: the chain must still verify against ClientCAs (see acceptPSK).
// Parsing the chain and verifying its signatures again cost about as much
// as the rest of a resumed handshake, so a server Config remembers the
// chains that verified: against which pool, and for which window of time
// every certificate of the verified path is valid. Within that window and
// with the same pool the result cannot differ (a CertPool only grows), so
// a remembered chain is taken as it is, parsed. A pool whose
// AddCertWithConstraint callbacks change their minds is not asked again
// for a remembered chain; such a server should use VerifyConnection,
// which runs on every resumption.

// maxVerifiedChains bounds a server Config's memory of verified chains.
const maxVerifiedChains = 1024

// verifiedChains is a server Config's memory of client chains that
// verified, by chainKey.
type verifiedChains struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*verifiedChain
}

type verifiedChain struct {
	chain       []*x509.Certificate // as the client sent it, parsed
	roots       *x509.CertPool      // the ClientCAs it verified against
	from, until time.Time           // when every certificate of the verified path is valid
}

// chainKey names a chain of DER certificates.
func chainKey(ders [][]byte) [sha256.Size]byte {
	d := sha256.New()
	for _, der := range ders {
		n := len(der)
		d.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n)})
		d.Write(der)
	}
	var k [sha256.Size]byte
	d.Sum(k[:0])
	return k
}

// get returns the chain called key if it verified against roots and the
// verified path is valid at now; nil otherwise. The slice is the caller's
// own (it becomes a connection's PeerCertificates, which its user may
// change); the certificates are shared, as crypto/x509 treats them as
// read-only.
func (v *verifiedChains) get(key [sha256.Size]byte, roots *x509.CertPool, now time.Time) []*x509.Certificate {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.m[key]
	if e == nil {
		return nil
	}
	if e.roots != roots || now.Before(e.from) || now.After(e.until) {
		if now.After(e.until) {
			delete(v.m, key)
		}
		return nil
	}
	return append([]*x509.Certificate(nil), e.chain...)
}

// put remembers chain, called key, which verified against roots along
// path (x509's verified chain, root included).
func (v *verifiedChains) put(key [sha256.Size]byte, chain, path []*x509.Certificate, roots *x509.CertPool) {
	if len(path) == 0 {
		return
	}
	// A copy: chain is also the connection's PeerCertificates.
	chain = append([]*x509.Certificate(nil), chain...)
	e := &verifiedChain{chain: chain, roots: roots, from: path[0].NotBefore, until: path[0].NotAfter}
	for _, c := range path[1:] {
		if c.NotBefore.After(e.from) {
			e.from = c.NotBefore
		}
		if c.NotAfter.Before(e.until) {
			e.until = c.NotAfter
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[[sha256.Size]byte]*verifiedChain{}
	}
	if _, ok := v.m[key]; !ok && len(v.m) >= maxVerifiedChains {
		for k := range v.m { // any one
			delete(v.m, k)
			break
		}
	}
	v.m[key] = e
}
