// Package store is the durable state of an identity zone: its resource
// record sets and a few settings, kept in one bbolt file.
//
// Every Update is one bbolt transaction, committed with fsync before Update
// returns, so a change the server has acknowledged survives a crash or
// kill -9, and a change that failed half-way leaves nothing behind.
//
// Start with Create (a new zone) or Open, then View and Update.
package store

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/miekg/dns"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketMeta = []byte("meta")
	bucketRR   = []byte("rrsets")
)

// ErrLocked is returned by Open when the database file is held by another
// open store: another process, or another Open in this one.
var ErrLocked = errors.New("store: database is locked")

// lockTimeout is how long Open waits for another holder to let go.
const lockTimeout = 3 * time.Second

// ErrCorrupt is returned when stored data cannot be decoded.
var ErrCorrupt = errors.New("store: corrupt record")

// Store is an open zone database.
type Store struct {
	db *bolt.DB
}

// Open opens the existing database file at path; it creates nothing, and
// a missing file is an error that matches os.ErrNotExist. It fails after a
// few seconds if another process holds the file.
func Open(path string) (*Store, error) {
	return open(path, false)
}

// Create opens the database file at path, creating it if it does not
// exist, as Open does otherwise.
func Create(path string) (*Store, error) {
	return open(path, true)
}

func open(path string, create bool) (*Store, error) {
	opts := &bolt.Options{Timeout: lockTimeout}
	if !create {
		opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag&^os.O_CREATE, perm)
		}
	}
	db, err := bolt.Open(path, 0o600, opts)
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketRR} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Update runs fn in a read-write transaction. If fn returns an error nothing
// is written; otherwise the transaction, with a new Generation, is
// committed and synced to disk before Update returns.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := fn(&Tx{tx: tx}); err != nil {
			return err
		}
		gen := make([]byte, generationLen)
		if _, err := rand.Read(gen); err != nil {
			return fmt.Errorf("store: generation: %w", err)
		}
		return tx.Bucket(bucketMeta).Put(metaGeneration, gen)
	})
}

// metaGeneration is the meta key of the generation; generationLen its
// size, random octets.
var metaGeneration = []byte("generation")

const generationLen = 16

// Generation identifies the state of the store: a random value that every
// committed Update replaces, in the same transaction. Two reads return the
// same generation only if nothing was written in between, whatever
// process wrote and however it ended, and two stores (another database
// created in its place, one restored from a backup and changed) never
// share one. It is nil for a store never updated.
func (s *Store) Generation() ([]byte, error) {
	var gen []byte
	err := s.View(func(tx *Tx) error {
		gen = tx.Meta(string(metaGeneration))
		return nil
	})
	return gen, err
}

// Tx is a transaction on the store.
type Tx struct {
	tx *bolt.Tx
}

// Meta returns the setting stored under key, or nil. The slice is a copy.
func (t *Tx) Meta(key string) []byte {
	v := t.tx.Bucket(bucketMeta).Get([]byte(key))
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

// SetMeta stores a setting.
func (t *Tx) SetMeta(key string, value []byte) error {
	return t.tx.Bucket(bucketMeta).Put([]byte(key), value)
}

// rrKey is the canonical wire form of name (RFC 4034 §6.2) followed by the
// type, so that keys are unambiguous and case-insensitive.
func rrKey(name string, rrtype uint16) ([]byte, error) {
	buf := make([]byte, 256+2)
	n, err := dns.PackDomainName(dns.CanonicalName(name), buf, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("store: name %q: %w", name, err)
	}
	binary.BigEndian.PutUint16(buf[n:], rrtype)
	return buf[:n+2], nil
}

func splitKey(k []byte) (string, uint16, error) {
	name, off, err := dns.UnpackDomainName(k, 0)
	if err != nil || off+2 != len(k) {
		return "", 0, ErrCorrupt
	}
	return name, binary.BigEndian.Uint16(k[off:]), nil
}

func encode(rrs []dns.RR) ([]byte, error) {
	var out []byte
	for _, rr := range rrs {
		buf := make([]byte, dns.Len(rr)+16)
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return nil, fmt.Errorf("store: pack %s: %w", rr.Header().Name, err)
		}
		out = append(out, buf[:n]...)
	}
	return out, nil
}

func decode(v []byte) ([]dns.RR, error) {
	var rrs []dns.RR
	for off := 0; off < len(v); {
		rr, next, err := dns.UnpackRR(v, off)
		if err != nil || next <= off {
			return nil, ErrCorrupt
		}
		rrs = append(rrs, rr)
		off = next
	}
	return rrs, nil
}

// Get returns the RRset of the given name and type, or nil.
func (t *Tx) Get(name string, rrtype uint16) ([]dns.RR, error) {
	k, err := rrKey(name, rrtype)
	if err != nil {
		return nil, err
	}
	v := t.tx.Bucket(bucketRR).Get(k)
	if v == nil {
		return nil, nil
	}
	return decode(v)
}

// Put replaces the RRset of the given name and type; an empty rrs deletes it.
func (t *Tx) Put(name string, rrtype uint16, rrs []dns.RR) error {
	k, err := rrKey(name, rrtype)
	if err != nil {
		return err
	}
	if len(rrs) == 0 {
		return t.tx.Bucket(bucketRR).Delete(k)
	}
	v, err := encode(rrs)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucketRR).Put(k, v)
}

// ForEach calls fn for every stored RRset, in key order.
func (t *Tx) ForEach(fn func(name string, rrtype uint16, rrs []dns.RR) error) error {
	return t.tx.Bucket(bucketRR).ForEach(func(k, v []byte) error {
		name, rrtype, err := splitKey(k)
		if err != nil {
			return err
		}
		rrs, err := decode(v)
		if err != nil {
			return fmt.Errorf("%w (%s type %d)", err, name, rrtype)
		}
		return fn(name, rrtype, rrs)
	})
}

// Count returns the number of stored RRsets.
func (t *Tx) Count() int { return t.tx.Bucket(bucketRR).Stats().KeyN }
