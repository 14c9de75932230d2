package tls13

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
)

// Ticket keys a user sets (Config.SetSessionTicketKeys), for servers that
// resume each other's sessions: each 32-octet secret gives, by HKDF-Expand
// (RFC 5869) with SHA-256, the public key name that starts its tickets and
// the AES-256-GCM key that seals them, so every server given the same
// secret derives the same name and key.

// HKDF info strings of a set key's name and sealing key.
const (
	ticketKeyNameInfo = "dance tls13 ticket key name"
	ticketKeySealInfo = "dance tls13 ticket key"
)

// SetSessionTicketKeys sets the keys a server seals and opens its session
// tickets with, in place of the keys it makes and rotates by itself. The
// first key seals new tickets; every key opens those it sealed. Servers
// given the same keys resume each other's sessions.
//
// Each key must be 32 secret random octets, shared only between the
// servers that are to resume each other's sessions. To rotate, call again
// with a new key first and the keys still wanted for opening after it;
// tickets sealed under a key left out no longer resume (their clients make
// a full handshake). The engine neither rotates nor drops set keys; a
// ticket still expires after its lifetime of seven days. With no keys the
// server goes back to keys of its own, made afresh.
//
// It may be called while the Config serves connections: a handshake that
// already holds a key it replaced finishes with it, and the key is wiped
// when the last such handshake lets go.
func (c *Config) SetSessionTicketKeys(keys [][32]byte) error {
	set := make([]*ticketKey, 0, len(keys))
	for _, secret := range keys {
		k, err := newSetTicketKey(secret)
		if err != nil {
			return err
		}
		set = append(set, k)
	}
	c.derived().tickets.setKeys(set)
	return nil
}

// newSetTicketKey derives a ticket key's name and sealing key from a
// secret given to SetSessionTicketKeys.
func newSetTicketKey(secret [32]byte) (*ticketKey, error) {
	name, err := hkdf.Expand(sha256.New, secret[:], ticketKeyNameInfo, ticketKeyNameLen)
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Expand(sha256.New, secret[:], ticketKeySealInfo, 32)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &ticketKey{sealer: &ticketAEAD{aead}, userSet: true}
	copy(k.name[:], name)
	k.refs.Store(1) // the set's hold
	return k, nil
}

// setKeys replaces the keys with set, newest first (keys from
// SetSessionTicketKeys); an empty set goes back to keys made by the
// engine. The keys replaced are retired: each is wiped when the last
// handshake holding it lets go.
func (k *ticketKeys) setKeys(set []*ticketKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.load()
	k.set.Store(&set)
	for _, key := range old {
		key.retire()
	}
}
