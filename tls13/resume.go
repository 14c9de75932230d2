package tls13

import (
	"bytes"
	"container/list"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/x509"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/keysched"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// PSK resumption with tickets (RFC 8446 §2.2, §4.2.9-4.2.11, §4.6.1):
// a server seals the session into a ticket under a key only it holds and
// sends it in a NewSessionTicket; a client keeps it in its
// ClientSessionCache and offers it in a later ClientHello's pre_shared_key
// with a binder. Only psk_dhe_ke is offered and accepted, so every resumed
// handshake still runs a fresh (EC)DHE exchange; early data (0-RTT) is never
// offered, and never accepted.

// ticketLifetime is the ticket_lifetime a server announces: the seven days
// RFC 8446 §4.6.1 allows at most.
const ticketLifetime = wire.MaxTicketLifetime * time.Second

// ticketKeyPeriod is how long one ticket key seals new tickets before the
// next one replaces it. A key opens tickets until the last it sealed has
// expired: ticketKeyPeriod + ticketLifetime after it was made.
const ticketKeyPeriod = 24 * time.Hour

// ClientSessionState is what a client keeps of a session to resume it: the
// ticket and the resumption PSK (RFC 8446 §4.6.1), with what the
// ConnectionState of a resumed connection reports.
type ClientSessionState struct {
	ticket     []byte
	ageAdd     uint32
	lifetime   time.Duration
	receivedAt time.Time
	suite      uint16
	psk        []byte
	serverName string
	peerCerts  []*x509.Certificate
	peerRawKey []byte // the server's raw public key (RFC 7250), DER SubjectPublicKeyInfo
}

// ClientSessionCache keeps sessions for a client to resume, shaped like
// crypto/tls's. Keys are the Config's ServerName, or the peer's address
// when there is none. Put with a nil state removes the entry. It must be
// safe for concurrent use.
type ClientSessionCache interface {
	Get(sessionKey string) (session *ClientSessionState, ok bool)
	Put(sessionKey string, cs *ClientSessionState)
}

// lruSessionCache is the ClientSessionCache of NewLRUClientSessionCache.
type lruSessionCache struct {
	mu       sync.Mutex
	capacity int
	m        map[string]*list.Element
	order    *list.List // of *lruEntry, most recent first
}

type lruEntry struct {
	key   string
	state *ClientSessionState
}

// NewLRUClientSessionCache returns a ClientSessionCache holding up to
// capacity sessions (64 when capacity < 1), dropping the least recently
// used.
func NewLRUClientSessionCache(capacity int) ClientSessionCache {
	if capacity < 1 {
		capacity = 64
	}
	return &lruSessionCache{capacity: capacity, m: map[string]*list.Element{}, order: list.New()}
}

func (c *lruSessionCache) Get(key string) (*ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).state, true
}

func (c *lruSessionCache) Put(key string, cs *ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		if cs == nil {
			c.order.Remove(e)
			delete(c.m, key)
			return
		}
		e.Value.(*lruEntry).state = cs
		c.order.MoveToFront(e)
		return
	}
	if cs == nil {
		return
	}
	if c.order.Len() >= c.capacity {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.m, old.Value.(*lruEntry).key)
	}
	c.m[key] = c.order.PushFront(&lruEntry{key: key, state: cs})
}

// sessionKey is the cache key of a client connection.
func (c *Conn) sessionKey() string {
	if c.cfg.ServerName != "" {
		return c.cfg.ServerName
	}
	return c.conn.RemoteAddr().String()
}

// binderMAC is a PSK binder (RFC 8446 §4.2.11.2): the Finished MAC under
// the resumption binder key of psk over transcriptHash, the hash of the
// messages before the ClientHello and of the ClientHello truncated before
// its binders.
func binderMAC(h crypto.Hash, psk, transcriptHash []byte) []byte {
	bk := keysched.New(h, psk).BinderKey(false)
	defer clear(bk)
	return keysched.FinishedMAC(h, keysched.FinishedKey(h, bk), transcriptHash)
}

// ---------------------------------------------------------------------------
// Client

// offerSession adds, for a client with a session cache,
// psk_key_exchange_modes and, when the cache holds a live session for this
// peer, pre_shared_key (last, with its binder) to the first ClientHello.
func (hs *clientHS) offerSession() {
	c := hs.c
	cache := c.cfg.ClientSessionCache
	if cache == nil {
		return
	}
	// Sent whenever tickets are wanted: servers issue none to a client
	// that lists no mode it could use them with (RFC 8446 §4.2.9).
	hs.hello.Extensions = append(hs.hello.Extensions, wire.NewPSKModesExtension([]uint8{wire.PSKModeDHEKE}))
	key := c.sessionKey()
	s, ok := cache.Get(key)
	if !ok || s == nil {
		return
	}
	now := c.cfg.now()
	if !now.Before(s.receivedAt.Add(s.lifetime)) || s.serverName != c.cfg.ServerName || expired(s.peerCerts, now) ||
		(s.peerRawKey != nil && c.acceptPeerCertType(wire.CertTypeRawPublicKey) != nil) ||
		(s.peerCerts != nil && c.acceptPeerCertType(wire.CertTypeX509) != nil) {
		// A resumed session authenticates the server by the chain or
		// raw key of the first connection: not once its certificate
		// has expired, nor when we no longer accept its type.
		cache.Put(key, nil)
		return
	}
	if record.SuiteByID(s.suite) == nil || !hs.offersHashOf(s.suite) {
		return
	}
	hs.session = s
	hs.appendPSK()
}

// appendPSK appends the pre_shared_key extension for hs.session with a
// binder of the right length (RFC 8446 §4.2.11: it must come last) and
// computes the binder.
func (hs *clientHS) appendPSK() {
	s := hs.session
	h := record.SuiteByID(s.suite).Hash
	// RFC 8446 §4.2.11.1: the age in milliseconds plus ticket_age_add,
	// modulo 2^32.
	age := hs.c.cfg.now().Sub(s.receivedAt).Milliseconds()
	offered := &wire.OfferedPSKs{
		Identities: []wire.PSKIdentity{{Identity: s.ticket, ObfuscatedTicketAge: uint32(age) + s.ageAdd}},
		Binders:    [][]byte{make([]byte, h.Size())},
	}
	hs.hello.Extensions = append(hs.hello.Extensions, wire.NewPreSharedKeyExtension(offered))
	hs.hello.PreSharedKey = offered
	truncated, _ := hs.hello.TruncatedForBinders()
	var th []byte
	if hs.tr.HasHash() {
		// After a HelloRetryRequest: message_hash(ClientHello1) and
		// the HelloRetryRequest come first (RFC 8446 §4.2.11.2).
		th = hs.tr.SumWith(truncated)
	} else {
		d := h.New()
		d.Write(truncated)
		th = d.Sum(nil)
	}
	offered.Binders[0] = binderMAC(h, s.psk, th)
	hs.hello.Extensions[len(hs.hello.Extensions)-1] = wire.NewPreSharedKeyExtension(offered)
}

// retrySession updates the offer for the second ClientHello, whose
// extensions retry rebuilt without pre_shared_key (RFC 8446 §4.1.2): the
// PSK is dropped when its hash differs from the suite the
// HelloRetryRequest chose, or else offered again with a new age and binder.
func (hs *clientHS) retrySession(suite *record.Suite) {
	if hs.session == nil {
		return
	}
	hs.hello.PreSharedKey = nil // retry left the old extension out
	if record.SuiteByID(hs.session.suite).Hash != suite.Hash {
		hs.session = nil
		return
	}
	hs.appendPSK()
}

// acceptServerPSK checks the ServerHello's pre_shared_key (RFC 8446
// §4.2.11): the identity must be one offered and its hash the suite's.
func (hs *clientHS) acceptServerPSK(sh *wire.ServerHello) error {
	if sh.SelectedIdentity < 0 {
		return nil
	}
	if hs.session == nil || sh.SelectedIdentity != 0 {
		return alert.Errorf(alert.IllegalParameter, "pre_shared_key selects identity %d, not offered", sh.SelectedIdentity)
	}
	if record.SuiteByID(hs.session.suite).Hash != record.SuiteByID(sh.CipherSuite).Hash {
		return alert.Errorf(alert.IllegalParameter, "PSK accepted with a suite of another hash")
	}
	hs.psk = hs.session.psk
	hs.c.state.Resumed = true
	return nil
}

// storeTicket keeps a NewSessionTicket in the session cache (RFC 8446
// §4.6.1). c.inMu is held.
func (c *Conn) storeTicket(m *wire.NewSessionTicket) {
	cache := c.cfg.ClientSessionCache
	if cache == nil || c.resMaster == nil || !c.state.resumable() {
		return
	}
	key := c.sessionKey()
	if m.Lifetime == 0 {
		// "The value of zero indicates that the ticket should be
		// discarded immediately."
		return
	}
	cache.Put(key, &ClientSessionState{
		ticket:     append([]byte(nil), m.Ticket...),
		ageAdd:     m.AgeAdd,
		lifetime:   time.Duration(m.Lifetime) * time.Second,
		receivedAt: c.cfg.now(),
		suite:      c.suite.ID,
		psk:        keysched.ResumptionPSK(c.suite.Hash, c.resMaster, m.Nonce),
		serverName: c.cfg.ServerName,
		peerCerts:  c.state.PeerCertificates,
		peerRawKey: c.state.PeerRawPublicKey,
	})
}

// ---------------------------------------------------------------------------
// Server

// ticketKey is one AEAD key that seals tickets.
type ticketKey struct {
	name    [ticketKeyNameLen]byte
	created time.Time
	// refs counts the key's holders: the key set that lists it, and each
	// handshake sealing or opening with it. The release that takes it to
	// zero wipes the key; a key at zero is never taken again.
	refs atomic.Int32
	// retired is set when a rotation leaves the key out of the set: from
	// then on no new hold is given, and the last holder wipes it.
	retired atomic.Bool
	// sealer is AES-256-GCM under the key, the only copy of the key's
	// material (the key bytes are cleared once it is made); nil once
	// wiped.
	sealer *ticketAEAD
	// userSet marks a key from Config.SetSessionTicketKeys: it seals
	// while first in the set and opens while listed, never rotated nor
	// expired here.
	userSet bool
}

// ticketAEAD holds a ticket key's AEAD, so that the key's material has one
// owner to drop. crypto/cipher has no way to zero the expanded key inside
// an AEAD: the wipe drops the only reference to it at a point that does
// not depend on the collector, which then frees it.
type ticketAEAD struct{ aead cipher.AEAD }

// acquire takes a hold on the key for one seal or open; false when the key
// has been retired. A handshake that loaded a set before a rotation
// retired one of its keys gets false here: the hold is taken first and the
// flag read after, so either retire's release sees this hold, or this
// sees the flag.
func (k *ticketKey) acquire() bool {
	for {
		n := k.refs.Load()
		if n == 0 {
			return false
		}
		if k.refs.CompareAndSwap(n, n+1) {
			break
		}
	}
	if k.retired.Load() {
		k.release()
		return false
	}
	return true
}

// release gives back a hold; the last one wipes the key.
func (k *ticketKey) release() {
	if k.refs.Add(-1) == 0 {
		// No holder is left and none can come, since acquire refuses
		// a key at zero; the atomic decrements order every holder's
		// use of sealer before this.
		k.sealer = nil
	}
}

// retire gives back the set's hold on a key the set no longer lists.
func (k *ticketKey) retire() {
	k.retired.Store(true)
	k.release()
}

// expired reports whether every ticket the key sealed has expired: it
// sealed for ticketKeyPeriod, and tickets live ticketLifetime.
func (k *ticketKey) expired(now time.Time) bool {
	return !k.userSet && now.Sub(k.created) > ticketKeyPeriod+ticketLifetime
}

// sealsAt reports whether key is the one to seal new tickets at now.
func (k *ticketKey) sealsAt(now time.Time) bool {
	return k.userSet || now.Sub(k.created) < ticketKeyPeriod && !now.Before(k.created)
}

// ticketKeyNameLen is the length of the key name that starts a ticket and
// tells which key sealed it.
const ticketKeyNameLen = 16

// ticketKeys are a server Config's ticket keys. Handshakes read the current
// set without a lock. A rotation stores a new set and retires the keys it
// leaves out: each is wiped when the last handshake holding it lets go. A
// handshake that loaded the old set but took no hold yet is refused the
// retired key (acquire) and treats it as unknown: its tickets had expired.
type ticketKeys struct {
	mu  sync.Mutex                   // serialises rotations
	set atomic.Pointer[[]*ticketKey] // newest first; a stored set is never changed
}

func (k *ticketKeys) load() []*ticketKey {
	if p := k.set.Load(); p != nil {
		return *p
	}
	return nil
}

// current returns the key that seals new tickets, held (release it),
// making a new one when the newest is older than ticketKeyPeriod, and
// retires keys whose tickets have all expired.
func (k *ticketKeys) current(now time.Time, rand io.Reader) (*ticketKey, error) {
	if set := k.load(); len(set) > 0 && set[0].sealsAt(now) && !anyExpired(set, now) && set[0].acquire() {
		return set[0], nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	set := k.rotateLocked(now)
	if len(set) > 0 && set[0].sealsAt(now) {
		// Cannot fail: the set holds the key, and only a rotation,
		// under k.mu, lets that hold go.
		set[0].acquire()
		return set[0], nil
	}
	nk := &ticketKey{created: now}
	var key [32]byte
	defer clear(key[:])
	if _, err := io.ReadFull(rand, nk.name[:]); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rand, key[:]); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nk.sealer = &ticketAEAD{aead}
	nk.refs.Store(2) // the set's hold and ours
	set = append([]*ticketKey{nk}, set...)
	k.set.Store(&set)
	return nk, nil
}

// rotateLocked stores a set without the expired keys, if there are any,
// and retires those; it returns the set in force. k.mu is held.
func (k *ticketKeys) rotateLocked(now time.Time) []*ticketKey {
	set := k.load()
	if !anyExpired(set, now) {
		return set
	}
	var kept []*ticketKey
	for _, key := range set {
		if !key.expired(now) {
			kept = append(kept, key)
		}
	}
	k.set.Store(&kept)
	for _, key := range set {
		if !slices.Contains(kept, key) {
			key.retire()
		}
	}
	return kept
}

// anyExpired reports whether a set holds an expired key. (A set is newest
// first unless Config.Time went back, so the whole set is looked at.)
func anyExpired(set []*ticketKey, now time.Time) bool {
	return slices.ContainsFunc(set, func(key *ticketKey) bool { return key.expired(now) })
}

// find returns the key called name, held (release it); nil when there is
// none or it has expired.
func (k *ticketKeys) find(name []byte, now time.Time) *ticketKey {
	set := k.load()
	if anyExpired(set, now) {
		k.mu.Lock()
		set = k.rotateLocked(now)
		k.mu.Unlock()
	}
	for _, key := range set {
		if string(key.name[:]) == string(name) {
			if !key.expired(now) && key.acquire() {
				return key
			}
			return nil
		}
	}
	return nil
}

// serverSession is what a ticket carries: enough to resume without any
// state on the server.
type serverSession struct {
	created    time.Time
	ageAdd     uint32
	suite      uint16
	psk        []byte
	serverName string
	peerType   uint8    // the type of peerChain (RFC 7250 §3)
	peerChain  [][]byte // the client's certificates, DER, when it sent any; or its raw public key alone, a SubjectPublicKeyInfo
}

// ticketVersion starts the sealed plaintext, so a later layout is told
// apart. Version 2 added the client credential's certificate type.
const ticketVersion = 2

func (s *serverSession) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(ticketVersion)
	b.AddUint64(uint64(s.created.Unix()))
	b.AddUint32(s.ageAdd)
	b.AddUint16(s.suite)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.psk) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s.serverName)) })
	b.AddUint8(s.peerType)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, der := range s.peerChain {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(der) })
		}
	})
	return b.Bytes()
}

func (s *serverSession) unmarshal(p []byte) bool {
	str := cryptobyte.String(p)
	var v uint8
	var created uint64
	var psk, name, chain cryptobyte.String
	if !str.ReadUint8(&v) || v != ticketVersion || !str.ReadUint64(&created) || !str.ReadUint32(&s.ageAdd) ||
		!str.ReadUint16(&s.suite) || !str.ReadUint8LengthPrefixed(&psk) || !str.ReadUint8LengthPrefixed(&name) ||
		!str.ReadUint8(&s.peerType) || !str.ReadUint24LengthPrefixed(&chain) || !str.Empty() {
		return false
	}
	for !chain.Empty() {
		var der cryptobyte.String
		if !chain.ReadUint24LengthPrefixed(&der) {
			return false
		}
		s.peerChain = append(s.peerChain, der)
	}
	s.created, s.psk, s.serverName = time.Unix(int64(created), 0), psk, string(name)
	return true
}

var errTicket = errors.New("tls13: ticket does not open")

// sealTicket seals a ticket's plaintext with AES-256-GCM under key: the key
// name, a random 12-octet nonce, then the ciphertext; the key name is
// authenticated as additional data.
func sealTicket(key *ticketKey, plain []byte, rand io.Reader) ([]byte, error) {
	aead := key.sealer.aead
	out := make([]byte, ticketKeyNameLen+aead.NonceSize(), ticketKeyNameLen+aead.NonceSize()+len(plain)+aead.Overhead())
	copy(out, key.name[:])
	if _, err := io.ReadFull(rand, out[ticketKeyNameLen:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[ticketKeyNameLen:], plain, key.name[:]), nil
}

// openTicket finds the key a ticket names and opens it.
func openTicket(keys *ticketKeys, ticket []byte, now time.Time) ([]byte, error) {
	if len(ticket) < ticketKeyNameLen+12+16 {
		return nil, errTicket
	}
	key := keys.find(ticket[:ticketKeyNameLen], now)
	if key == nil {
		return nil, errTicket
	}
	defer key.release()
	aead := key.sealer.aead
	n := ticketKeyNameLen + aead.NonceSize()
	plain, err := aead.Open(nil, ticket[ticketKeyNameLen:n], ticket[n:], ticket[:ticketKeyNameLen])
	if err != nil {
		return nil, errTicket
	}
	return plain, nil
}

// issueTicket sends one NewSessionTicket after the client's Finished (RFC
// 8446 §4.6.1). c.outMu is held.
func (hs *serverHS) issueTicket(resMaster []byte) error {
	c := hs.c
	if c.cfg.SessionTicketsDisabled || !containsByte(hs.hello.PSKModes, wire.PSKModeDHEKE) || !c.state.resumable() {
		// RFC 8446 §4.2.9: a client listing no mode we accept could
		// not use a ticket.
		return nil
	}
	now := c.cfg.now()
	key, err := c.st.tickets.current(now, c.cfg.rand())
	if err != nil {
		return err
	}
	defer key.release()
	var ageAdd [4]byte
	if _, err := io.ReadFull(c.cfg.rand(), ageAdd[:]); err != nil {
		return err
	}
	nonce := []byte{0} // one ticket per connection
	s := serverSession{
		created:    now,
		ageAdd:     uint32(ageAdd[0])<<24 | uint32(ageAdd[1])<<16 | uint32(ageAdd[2])<<8 | uint32(ageAdd[3]),
		suite:      c.suite.ID,
		psk:        keysched.ResumptionPSK(c.suite.Hash, resMaster, nonce),
		serverName: c.state.ServerName,
	}
	defer clear(s.psk)
	for _, cert := range c.state.PeerCertificates {
		s.peerChain = append(s.peerChain, cert.Raw)
	}
	if c.state.PeerRawPublicKey != nil {
		s.peerType, s.peerChain = wire.CertTypeRawPublicKey, [][]byte{c.state.PeerRawPublicKey}
	}
	plain, err := s.marshal()
	if err != nil {
		return err
	}
	ticket, err := sealTicket(key, plain, c.cfg.rand())
	clear(plain)
	if err != nil {
		return err
	}
	if len(ticket) > 0xffff {
		// A chain too long for ticket<1..2^16-1>: no ticket.
		return nil
	}
	m := wire.NewSessionTicket{
		Lifetime:   uint32(ticketLifetime / time.Second),
		AgeAdd:     s.ageAdd,
		Nonce:      nonce,
		Ticket:     ticket,
		Extensions: []wire.Extension{},
	}
	return c.rc.WriteRecord(record.TypeHandshake, m.Marshal())
}

// acceptPSK looks at the final ClientHello's pre_shared_key (RFC 8446
// §4.2.11) and resumes with the first identity that opens, is alive, fits
// the suite, server name and client-authentication policy, and whose
// binder verifies. The transcript holds what precedes the ClientHello.
// Identities that do not qualify are skipped (a full handshake follows);
// a qualifying one with a wrong binder aborts with decrypt_error.
func (hs *serverHS) acceptPSK() error {
	c, ch := hs.c, hs.hello
	if ch.PreSharedKey == nil {
		return nil
	}
	// RFC 8446 §4.2.9: a pre_shared_key needs psk_key_exchange_modes
	// (missing_extension, §9.2).
	if ch.PSKModes == nil {
		return alert.Errorf(alert.MissingExtension, "pre_shared_key without psk_key_exchange_modes")
	}
	if c.cfg.SessionTicketsDisabled || !containsByte(ch.PSKModes, wire.PSKModeDHEKE) {
		// psk_ke alone is not accepted: a full handshake.
		return nil
	}
	now := c.cfg.now()
	for i, id := range ch.PreSharedKey.Identities {
		s, ok := hs.openTicket(id, now)
		if !ok {
			continue
		}
		truncated, _ := ch.TruncatedForBinders()
		want := binderMAC(c.suite.Hash, s.psk, hs.tr.SumWith(truncated))
		if !hmac.Equal(want, ch.PreSharedKey.Binders[i]) {
			return alert.Errorf(alert.DecryptError, "PSK binder does not verify")
		}
		if s.peerType == wire.CertTypeRawPublicKey {
			// The raw key is checked by VerifyConnection alone, as
			// in a full handshake; it runs on this one too.
			if len(s.peerChain) != 1 {
				return alert.Errorf(alert.InternalError, "raw key ticket with %d keys", len(s.peerChain))
			}
			if _, err := x509.ParsePKIXPublicKey(s.peerChain[0]); err != nil {
				return &alert.Error{Alert: alert.InternalError, Reason: "raw public key in our own ticket", Err: err}
			}
			hs.psk, hs.pskIndex = s.psk, i
			c.state.Resumed = true
			c.state.TicketAgeSkew = ticketAgeSkew(id, s, now)
			c.state.PeerRawPublicKey = s.peerChain[0]
			return nil
		}
		chain, err := hs.ticketChain(s.peerChain, now)
		if err != nil {
			return err
		}
		if chain == nil && len(s.peerChain) > 0 {
			continue
		}
		hs.psk, hs.pskIndex = s.psk, i
		c.state.Resumed = true
		c.state.TicketAgeSkew = ticketAgeSkew(id, s, now)
		c.state.PeerCertificates = chain
		return nil
	}
	return nil
}

// ticketChain returns the client chain of a ticket, parsed, when it may
// resume: its end-entity certificate has not expired and, unless
// VerifyPeer is set, it still verifies against ClientCAs as they are now
// (a server reconfigured with other ClientCAs authenticates the client
// afresh). nil: authenticate afresh. A VerifyPeer callback is not called
// again on resumption (as crypto/tls and BoringSSL by default);
// VerifyConnection is, and can re-check what it needs. Chains that
// verified are remembered (verifiedChains).
func (hs *serverHS) ticketChain(ders [][]byte, now time.Time) ([]*x509.Certificate, error) {
	c := hs.c
	if len(ders) == 0 {
		return nil, nil
	}
	var key [32]byte
	if c.cfg.VerifyPeer == nil {
		key = chainKey(ders)
		if chain := c.st.chains.get(key, c.cfg.ClientCAs, now); chain != nil {
			return chain, nil
		}
	}
	chain := make([]*x509.Certificate, len(ders))
	for j, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &alert.Error{Alert: alert.InternalError, Reason: "certificate in our own ticket", Err: err}
		}
		chain[j] = cert
	}
	if expired(chain, now) {
		return nil, nil
	}
	if c.cfg.VerifyPeer == nil {
		path, err := c.verifyChain(chain)
		if err != nil {
			return nil, nil
		}
		c.st.chains.put(key, chain, path, c.cfg.ClientCAs)
	}
	return chain, nil
}

// usablePSKs returns the identities of the ClientHello's pre_shared_key
// whose tickets could resume this handshake with the suite chosen, binders
// not yet checked: those a second ClientHello must keep.
func (hs *serverHS) usablePSKs() [][]byte {
	c, ch := hs.c, hs.hello
	if ch.PreSharedKey == nil || c.cfg.SessionTicketsDisabled || !containsByte(ch.PSKModes, wire.PSKModeDHEKE) {
		return nil
	}
	now := c.cfg.now()
	var ids [][]byte
	for _, id := range ch.PreSharedKey.Identities {
		if _, ok := hs.openTicket(id, now); ok {
			ids = append(ids, id.Identity)
		}
	}
	return ids
}

// checkSecondPSKs checks the pre_shared_key of a second ClientHello
// against the first's (RFC 8446 §4.1.2): the client may update ages and
// binders and remove PSKs incompatible with the suite of our
// HelloRetryRequest, nothing else. So it offers no identity the first did
// not, and keeps every one we could resume with (usable): a
// pre_shared_key dropped whole is missing_extension (RFC 8446 §6.2: an
// extension the negotiated parameters make mandatory), any other change
// illegal_parameter.
func checkSecondPSKs(first, second *wire.OfferedPSKs, usable [][]byte) error {
	var had, has [][]byte
	if first != nil {
		for _, id := range first.Identities {
			had = append(had, id.Identity)
		}
	}
	if second != nil {
		for _, id := range second.Identities {
			has = append(has, id.Identity)
		}
	}
	contains := func(list [][]byte, id []byte) bool {
		return slices.ContainsFunc(list, func(x []byte) bool { return bytes.Equal(x, id) })
	}
	for _, id := range has {
		if !contains(had, id) {
			return alert.Errorf(alert.IllegalParameter, "second ClientHello offers a PSK the first did not")
		}
	}
	for _, id := range usable {
		if !contains(has, id) {
			if second == nil {
				return alert.Errorf(alert.MissingExtension, "second ClientHello drops the pre_shared_key")
			}
			return alert.Errorf(alert.IllegalParameter, "second ClientHello drops a PSK it may use")
		}
	}
	return nil
}

// openTicket opens one offered ticket and checks that it may resume this
// handshake.
func (hs *serverHS) openTicket(id wire.PSKIdentity, now time.Time) (*serverSession, bool) {
	c := hs.c
	plain, err := openTicket(c.st.tickets, id.Identity, now)
	if err != nil {
		return nil, false
	}
	var s serverSession
	if !s.unmarshal(plain) {
		return nil, false
	}
	age := now.Sub(s.created)
	if age < 0 || age >= ticketLifetime {
		return nil, false
	}
	// The client's view of the age (RFC 8446 §4.2.11.1) must fit the
	// lifetime too; without 0-RTT nothing finer is needed.
	if clientAge := time.Duration(id.ObfuscatedTicketAge-s.ageAdd) * time.Millisecond; clientAge >= ticketLifetime {
		return nil, false
	}
	// RFC 8446 §4.2.11: only with a suite of the same hash; §4.6.1: the
	// PSK is bound to the server name of its original connection.
	if sc := record.SuiteByID(s.suite); sc == nil || sc.Hash != c.suite.Hash || s.serverName != hs.hello.ServerName {
		return nil, false
	}
	if c.cfg.ClientAuth == RequireClientCert && len(s.peerChain) == 0 {
		return nil, false
	}
	// A credential of a type we no longer accept (PeerCertificateTypes
	// changed since): authenticate afresh.
	if len(s.peerChain) > 0 && c.acceptPeerCertType(s.peerType) != nil {
		return nil, false
	}
	return &s, true
}

// expired reports whether a chain's end-entity certificate is past its
// NotAfter.
func expired(chain []*x509.Certificate, now time.Time) bool {
	return len(chain) > 0 && now.After(chain[0].NotAfter)
}

func containsByte(b []byte, v byte) bool {
	for _, x := range b {
		if x == v {
			return true
		}
	}
	return false
}

// maxSkippedEarlyData is how much rejected early data a server skips
// before it refuses the records (RFC 8446 §4.2.10 leaves the amount to
// configuration). Our tickets never invite early data, so only a client
// holding a ticket from another server at this address sends any.
const maxSkippedEarlyData = 1 << 14
