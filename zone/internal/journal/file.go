package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/atomicfile"
	"github.com/dnsbound/dance/zone/internal/image"
)

// The journal on disk. The server writes it when it stops (Save) and reads
// it when it starts (Load), so that secondaries keep getting differences
// across a restart: the file holds the last transferred zone exactly as
// secondaries received it and the versions before it, and the generation
// of the zone's store (store.Generation) it was written at. Written
// atomically (internal/atomicfile); a missing, damaged or outdated file
// only means the next transfer to each secondary is a full one.
//
// Version 2 added the generation; a version 1 file is not used.
const fileMagic = "dance ixfr journal 2\n"

// fileMode is the journal file's mode: only the server reads it.
const fileMode = 0o600

// maxGeneration bounds the generation read from a file.
const maxGeneration = 255

// ErrFile reports a journal file that cannot be read.
var ErrFile = errors.New("journal: file is malformed")

// ErrStale reports a journal file written at another state of the zone's
// store than the current one: the zone changed after the file was written
// (by a server that then crashed, so it could not write its own journal,
// or by a command run while the server was stopped), or the store was
// replaced. What that file says secondaries hold may not be what they hold.
var ErrStale = errors.New("journal: file was written at another state of the zone (a crash, or a change while the server was stopped)")

// Save writes the journal to path, with gen, the generation of the zone's
// store the journal belongs to (store.Generation, read once no transfer
// can run any more). An empty journal removes the file.
func (j *Journal) Save(path string, gen []byte) error {
	if len(gen) == 0 || len(gen) > maxGeneration {
		return fmt.Errorf("journal: save: generation of %d octets", len(gen))
	}
	j.mu.Lock()
	last, versions := j.last, append([]Version(nil), j.versions...)
	j.mu.Unlock()
	if last == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	err := atomicfile.Write(path, fileMode, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 1<<20)
		w.WriteString(fileMagic)
		w.WriteByte(byte(len(gen)))
		w.Write(gen)
		if _, err := image.WriteSource(w, last); err != nil {
			return err
		}
		w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(versions))))
		for _, v := range versions {
			// Each version as one image: From, deletions, To, additions.
			rrs := make([]dns.RR, 0, len(v.Deleted)+len(v.Added)+2)
			rrs = append(rrs, v.From)
			rrs = append(rrs, v.Deleted...)
			rrs = append(rrs, v.To)
			rrs = append(rrs, v.Added...)
			im, err := image.Pack(copyRRs(rrs))
			if err != nil {
				return err
			}
			if _, err := im.WriteTo(w); err != nil {
				return err
			}
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("journal: save: %w", err)
	}
	return nil
}

// copyRRs copies rrs: packing writes their headers, and versions are
// shared with transfers running meanwhile.
func copyRRs(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}

// Load reads the journal file at path into j, which must be empty, when it
// was written at gen, the current generation of the zone's store, and the
// newest zone it holds is at serial or before it (RFC 1982). Otherwise it
// leaves j empty: with false and no error when there is no file or the
// zone is older than the journal, with ErrStale when the file was written
// at another generation (the server that wrote it, or a later one, may
// have sent secondaries versions the file does not know), with ErrFile
// when the file is damaged. The bounds of j apply to what is loaded.
func (j *Journal) Load(path string, gen []byte, serial uint32) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(fileMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != fileMagic {
		return false, ErrFile
	}
	gl, err := r.ReadByte()
	if err != nil {
		return false, ErrFile
	}
	fileGen := make([]byte, gl)
	if _, err := io.ReadFull(r, fileGen); err != nil {
		return false, ErrFile
	}
	if len(gen) == 0 || !bytes.Equal(fileGen, gen) {
		return false, ErrStale
	}
	last, err := image.ReadImage(r, math.MaxInt32, st.Size())
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrFile, err)
	}
	lastSOA, err := last.SOA()
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrFile, err)
	}
	if int32(serial-lastSOA.Serial) < 0 {
		// The zone is older than the journal (restored from a backup?):
		// the journal's versions are not its past.
		return false, nil
	}
	var nb [4]byte
	if _, err := io.ReadFull(r, nb[:]); err != nil {
		return false, fmt.Errorf("%w: %v", ErrFile, err)
	}
	n := int(binary.BigEndian.Uint32(nb[:]))
	if n > j.maxVersions*4+16 {
		return false, fmt.Errorf("%w: %d versions", ErrFile, n)
	}
	var versions []Version
	total := 0
	for i := 0; i < n; i++ {
		im, err := image.ReadImage(r, j.maxRRs+2, st.Size())
		if err != nil {
			return false, fmt.Errorf("%w: %v", ErrFile, err)
		}
		rrs, err := im.Unpack()
		if err != nil {
			return false, fmt.Errorf("%w: %v", ErrFile, err)
		}
		v, err := versionOf(rrs)
		if err != nil {
			return false, err
		}
		if len(versions) > 0 && versions[len(versions)-1].To.Serial != v.From.Serial {
			return false, fmt.Errorf("%w: versions do not follow each other", ErrFile)
		}
		versions = append(versions, v)
		total += v.size()
	}
	if len(versions) > 0 && versions[len(versions)-1].To.Serial != lastSOA.Serial {
		return false, fmt.Errorf("%w: versions do not lead to the last zone", ErrFile)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return false, fmt.Errorf("%w: data after the last version", ErrFile)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.last, j.lastSOA, j.versions, j.rrs = last, lastSOA, versions, total
	for len(j.versions) > 0 && (len(j.versions) > j.maxVersions || j.rrs > j.maxRRs) {
		j.rrs -= j.versions[0].size()
		j.versions = j.versions[1:]
	}
	return true, nil
}

// versionOf splits a saved version: From SOA, deletions, To SOA,
// additions.
func versionOf(rrs []dns.RR) (Version, error) {
	if len(rrs) < 2 {
		return Version{}, ErrFile
	}
	from, ok := rrs[0].(*dns.SOA)
	if !ok {
		return Version{}, ErrFile
	}
	for i := 1; i < len(rrs); i++ {
		if to, ok := rrs[i].(*dns.SOA); ok {
			for _, rr := range rrs[i+1:] {
				if rr.Header().Rrtype == dns.TypeSOA {
					return Version{}, ErrFile
				}
			}
			return Version{From: from, To: to, Deleted: rrs[1:i], Added: rrs[i+1:]}, nil
		}
	}
	return Version{}, ErrFile
}
