package keysched

import (
	"crypto"
	"hash"
	"sync"
)

// HMAC (RFC 2104) on pooled hash states. HMAC(K, m) =
// H((K' ^ opad) || H((K' ^ ipad) || m)), where K' is K padded with zeros to
// the hash's block size (K hashed first when longer), ipad the octet 0x36
// and opad 0x5c repeated. crypto/hmac allocates two hash states, two pads
// and its own state for every key; a handshake keys an HMAC for every
// secret, key, IV and Finished, so this one reuses one hash state per
// computation instead. The result equals crypto/hmac's
// (TestMACMatchesCryptoHMAC).

// maxBlockSize is the block size of SHA-384 (and SHA-512), the larger of
// the two suite hashes'.
const maxBlockSize = 128

type macState struct {
	d   hash.Hash
	pad [maxBlockSize]byte
	key [64]byte // a hashed key longer than the block
	sum [64]byte // the inner hash
	// info holds an HkdfLabel and the counter octet of T(1):
	// 2 + 1 + 255 + 1 + 255 + 1 octets at most.
	info [515]byte
}

var (
	macSHA256 = sync.Pool{New: func() any { return &macState{d: crypto.SHA256.New()} }}
	macSHA384 = sync.Pool{New: func() any { return &macState{d: crypto.SHA384.New()} }}
)

func getMAC(h Hash) (*sync.Pool, *macState) {
	pool := &macSHA256
	if h == crypto.SHA384 {
		pool = &macSHA384
	} else if h != crypto.SHA256 {
		newFunc(h) // panics: not a suite hash
	}
	return pool, pool.Get().(*macState)
}

// macSum appends HMAC-h(key, msg) to out.
func macSum(h Hash, key, msg, out []byte) []byte {
	pool, s := getMAC(h)
	out = s.mac(key, msg, out)
	pool.Put(s)
	return out
}

// expandLabelSum appends HMAC-h(secret, HkdfLabel || 0x01) to out: T(1)
// of HKDF-Expand-Label, with the label encoded in the pooled state.
func expandLabelSum(h Hash, secret []byte, label string, context []byte, length int, out []byte) []byte {
	pool, s := getMAC(h)
	info := append(appendHkdfLabel(s.info[:0], label, context, length), 1)
	out = s.mac(secret, info, out)
	pool.Put(s)
	return out
}

// mac appends HMAC(key, msg) to out and leaves nothing keyed behind.
func (s *macState) mac(key, msg, out []byte) []byte {
	d := s.d
	bs := d.BlockSize()
	if len(key) > bs {
		d.Reset()
		d.Write(key)
		key = d.Sum(s.key[:0])
	}
	s.xorPad(key, bs, 0x36)
	d.Reset()
	d.Write(s.pad[:bs])
	d.Write(msg)
	inner := d.Sum(s.sum[:0])
	s.xorPad(key, bs, 0x5c)
	d.Reset()
	d.Write(s.pad[:bs])
	d.Write(inner)
	out = d.Sum(out)
	// Nothing keyed stays behind in the pool: the pads and sums are
	// cleared, and the hash's buffer is overwritten with zeros before
	// its state is reset.
	clear(s.pad[:])
	clear(s.key[:])
	clear(s.sum[:])
	d.Reset()
	d.Write(s.pad[:bs-1])
	d.Reset()
	return out
}

// xorPad sets s.pad[:bs] to key, zero-padded, XORed with b.
func (s *macState) xorPad(key []byte, bs int, b byte) {
	for i := range bs {
		s.pad[i] = b
	}
	for i, k := range key {
		s.pad[i] ^= k
	}
}
