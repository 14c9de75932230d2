package zone

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/atomicfile"
	"github.com/dnsbound/dance/zone/internal/signer"
)

// SigCacheFile keeps the zone's signatures across a restart. Signatures are
// made online and cached in memory only; without this file a restarted
// server signs everything again (two million signatures, minutes of CPU,
// for a million identities). It is written when the server stops
// (saveSignatures) and read by Open, and it is only a cache: it is used
// only when it was written at the zone's current serial by the zone's
// current keys, and deleting it loses nothing.
const SigCacheFile = "signatures.cache"

// sigCacheFileMode is the mode of SigCacheFile: only the server reads it.
const sigCacheFileMode = 0o600

// JournalFile keeps the IXFR journal across restarts (zone/internal/journal: the
// last transferred zone and the differences before it). dance zone serve
// writes it when it stops.
const JournalFile = "ixfr.journal"

// sigCacheMagic opens the file; the version is in it. Version 2 added the
// store's generation (store.Generation) after it.
const sigCacheMagic = "dance signature cache 2\n"

// Record kinds in the file.
const (
	sigRecNode  = 1 // name, packed RRSIGs of the node's RRsets
	sigRecChain = 2 // name, packed NSEC3 record and its RRSIGs
)

// maxSigRecord bounds one record of the file when reading it.
const maxSigRecord = 1 << 20

var errSigCache = errors.New("zone: signature cache file is malformed")

// saveSignatures writes the signatures the zone holds in memory to
// DIR/signatures.cache (atomically: a new file renamed over the old one)
// and returns how many RRsets and NSEC3 records they cover. It makes no
// new signature.
func (z *Zone) saveSignatures() (int, error) {
	snap := z.snapshot()
	gen, err := z.st.Generation()
	if err != nil || len(gen) == 0 || len(gen) > 255 {
		return 0, fmt.Errorf("zone: save signatures: store generation %x: %v", gen, err)
	}
	n := 0
	err = atomicfile.Write(filepath.Join(z.dir, SigCacheFile), sigCacheFileMode, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 1<<20)
		w.WriteString(sigCacheMagic)
		w.WriteByte(byte(len(gen)))
		w.Write(gen)
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], snap.soa.Serial)
		w.Write(hdr[:])
		writeKeys(w, snap.sg)
		rec := func(kind byte, name string, split uint32, data []byte) {
			var h [1 + 1 + 4 + 4]byte
			h[0] = kind
			h[1] = byte(len(name))
			binary.BigEndian.PutUint32(h[2:], split)
			binary.BigEndian.PutUint32(h[6:], uint32(len(data)))
			w.Write(h[:2])
			w.WriteString(name)
			w.Write(h[2:])
			w.Write(data)
			n++
		}
		for i, nd := range snap.nodes {
			// Only signatures by the current keys: the file does not
			// say which signer made a record, and those of a retiring
			// ZSK must not count as the current ones' after a restart.
			if w, by := snap.view.sigsAt(snap.sigs[i]); by != nil && sameKeysAll(snap.sg, by, w) && len(w) > 0 && len(nd.name()) <= 255 {
				rec(sigRecNode, nd.name(), 0, w)
			}
		}
		for _, l := range snap.links {
			if l.signed == 0 {
				continue
			}
			w, split, by := snap.view.wire(l.signed)
			if name := snap.view.name(l.name); snap.sg.SameKeys(by, dns.TypeNSEC3) && len(name) <= 255 {
				rec(sigRecChain, string(name), uint32(split), w)
			}
		}
		// Written (copied to the buffer or the file); until here
		// snap.view keeps the slabs mapped (chainstore.go).
		runtime.KeepAlive(snap)
		// A bufio.Writer keeps its first error; Flush returns it.
		return w.Flush()
	})
	if err != nil {
		return 0, fmt.Errorf("zone: save signatures: %w", err)
	}
	return n, nil
}

// sameKeysAll reports whether every signature in w, made by by, was made
// by the keys sg signs its type with.
func sameKeysAll(sg, by *signer.Signer, w []byte) bool {
	if by == sg {
		return true
	}
	for off := 0; off < len(w); {
		r, next, ok := nextRR(w, off)
		if !ok || !sg.SameKeys(by, covered(r.rdata)) {
			return false
		}
		off = next
	}
	return true
}

// writeKeys writes the signing keys' identities: count, then algorithm,
// flags and key tag of each, in the signer's order.
func writeKeys(w io.Writer, sg *signer.Signer) {
	var b []byte
	b = append(b, byte(len(sg.Keys)))
	for _, k := range sg.Keys {
		b = append(b, k.DNSKEY.Algorithm)
		b = binary.BigEndian.AppendUint16(b, k.DNSKEY.Flags)
		b = binary.BigEndian.AppendUint16(b, k.Tag())
	}
	w.Write(b)
}

// loadSignatures reads DIR/signatures.cache, if there is one, into the
// zone's signature caches, when it was written at the current serial by
// the current keys; otherwise it leaves the caches empty. It returns how
// many records it took. Callers are loading (no concurrent use).
func (z *Zone) loadSignatures() (int, error) {
	f, err := os.Open(filepath.Join(z.dir, SigCacheFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("zone: signature cache: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(sigCacheMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != sigCacheMagic {
		return 0, errSigCache
	}
	gl, err := r.ReadByte()
	if err != nil {
		return 0, errSigCache
	}
	fileGen := make([]byte, gl)
	if _, err := io.ReadFull(r, fileGen); err != nil {
		return 0, errSigCache
	}
	gen, err := z.st.Generation()
	if err != nil {
		return 0, fmt.Errorf("zone: signature cache: %w", err)
	}
	if !bytes.Equal(fileGen, gen) {
		// The store changed since the file was written (its serial alone
		// does not tell: a database restored or edited at the same serial
		// holds other records, and signatures over those would be bogus).
		return 0, nil
	}
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, errSigCache
	}
	sg := z.signer.Load()
	var want bytes.Buffer
	writeKeys(&want, sg)
	keys := make([]byte, want.Len())
	if _, err := io.ReadFull(r, keys); err != nil {
		return 0, errSigCache
	}
	if binary.BigEndian.Uint32(hdr[:]) != z.soa().Serial || !bytes.Equal(keys, want.Bytes()) {
		// Another version of the zone, or other keys: of no use.
		return 0, nil
	}
	// Read everything first, so that a damaged file changes nothing.
	type item struct {
		kind  byte
		name  string
		split uint32
		data  []byte
	}
	var items []item
	for {
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err == io.EOF {
			break
		} else if err != nil {
			return 0, errSigCache
		}
		name := make([]byte, h[1])
		var rest [8]byte
		if _, err := io.ReadFull(r, name); err != nil {
			return 0, errSigCache
		}
		if _, err := io.ReadFull(r, rest[:]); err != nil {
			return 0, errSigCache
		}
		split := binary.BigEndian.Uint32(rest[:])
		size := binary.BigEndian.Uint32(rest[4:])
		if size > maxSigRecord || split > size {
			return 0, errSigCache
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			return 0, errSigCache
		}
		if h[0] != sigRecNode && h[0] != sigRecChain || !wellFormed(data[split:]) {
			return 0, errSigCache
		}
		items = append(items, item{h[0], string(name), split, data})
	}
	n := 0
	for _, it := range items {
		switch it.kind {
		case sigRecNode:
			if nd := z.names[it.name]; nd != nil && coversOnly(it.data, nd) {
				if err := z.chain.store.setSigs(nd, sg, it.data); err != nil {
					return n, err
				}
				n++
			}
		case sigRecChain:
			si, ok := z.chain.entries[hashKeyOf(it.name)]
			if !ok || it.split > maxNSEC3Rec {
				continue
			}
			if sl := z.chain.store.slot(si); string(z.chain.nameOf(sl)) == it.name {
				// The record is compared with the current one before use.
				if err := z.chain.store.store(sl, ref(sl.name.Load()), sg, it.data[:it.split], it.data[it.split:]); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}

// wellFormed reports whether w is a sequence of packed RRSIG records.
func wellFormed(w []byte) bool {
	for off := 0; off < len(w); {
		r, next, ok := nextRR(w, off)
		if !ok || r.t != dns.TypeRRSIG || len(r.rdata) < rrsigMinRdata {
			return false
		}
		off = next
	}
	return true
}

// coversOnly reports whether every signature in w covers an RRset n has.
func coversOnly(w []byte, n *node) bool {
	for off := 0; off < len(w); {
		r, next, _ := nextRR(w, off)
		if !n.has(covered(r.rdata)) {
			return false
		}
		off = next
	}
	return true
}
