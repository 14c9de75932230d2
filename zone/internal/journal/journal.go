package journal

import (
	"fmt"
	"sync"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/image"
)

// Default bounds of a Journal.
const (
	DefaultMaxVersions = 64
	DefaultMaxRecords  = 200000
)

// Version is the change from one serial to the next: RFC 1995 §4 lists
// Deleted after the old SOA and Added after the new one. Neither holds the
// SOA itself; both may hold RRSIG and NSEC3 records.
type Version struct {
	From, To *dns.SOA
	Deleted  []dns.RR
	Added    []dns.RR
}

func (v *Version) size() int { return len(v.Deleted) + len(v.Added) + 2 }

// ErrNotAXFR is returned by Record for a zone that is not in AXFR form.
var ErrNotAXFR = image.ErrNotAXFR

// Journal holds the last versions of a zone. It is safe for concurrent use.
type Journal struct {
	mu          sync.Mutex
	maxVersions int
	maxRRs      int
	// last is the newest recorded zone (AXFR form): the zone's transfer
	// snapshot, which refers to the zone's own records instead of copying
	// them, or the packed image read by Load. lastSOA is its SOA.
	last     image.Source
	lastSOA  *dns.SOA
	versions []Version
	rrs      int
}

// New returns an empty journal that keeps at most maxVersions versions and
// maxRRs records in them (zero or less: the defaults).
func New(maxVersions, maxRRs int) *Journal {
	if maxVersions <= 0 {
		maxVersions = DefaultMaxVersions
	}
	if maxRRs <= 0 {
		maxRRs = DefaultMaxRecords
	}
	return &Journal{maxVersions: maxVersions, maxRRs: maxRRs}
}

// soaOf returns the SOA that opens and closes axfr.
func soaOf(axfr []dns.RR) (*dns.SOA, error) {
	if len(axfr) < 2 {
		return nil, ErrNotAXFR
	}
	first, ok1 := axfr[0].(*dns.SOA)
	last, ok2 := axfr[len(axfr)-1].(*dns.SOA)
	if !ok1 || !ok2 || first.Serial != last.Serial {
		return nil, ErrNotAXFR
	}
	return first, nil
}

// Record is RecordImage for a zone given as RRs.
func (j *Journal) Record(axfr []dns.RR) ([]dns.RR, error) {
	im, err := image.Pack(axfr)
	if err != nil {
		return nil, err
	}
	rec, err := j.RecordZone(im)
	if err != nil {
		return nil, err
	}
	if rec == image.Source(im) {
		return axfr, nil
	}
	recIm, err := image.Collect(rec)
	if err != nil {
		return nil, err
	}
	return recIm.Unpack()
}

// RecordZone makes src, the complete zone in AXFR form, the newest
// version, and returns the zone to send: src, or the zone recorded earlier
// under the same serial. Signatures made afresh (ECDSA signatures differ
// each time) may give another content under the same serial, and a
// secondary that transferred that serial holds the first: every client of
// one serial must get the same records, or later differences would not
// apply to its copy. A serial that went backwards (RFC 1982) empties the
// journal.
//
// The differences from the previous version are found by the new version
// itself when it can (image.Differ: two snapshots of the zone compare
// what they refer to), otherwise by comparing the two zones RR by RR.
func (j *Journal) RecordZone(src image.Source) (image.Source, error) {
	soa, err := src.SOA()
	if err != nil {
		return nil, err
	}
	// The differences are found without the lock, which Since and Serial
	// (IXFR answers) take: comparing with an image loaded from the file
	// reads both zones whole. Another version recorded meanwhile means
	// comparing again, with that one.
	for {
		j.mu.Lock()
		last, lastSOA := j.last, j.lastSOA
		switch {
		case lastSOA == nil:
		case soa.Serial == lastSOA.Serial:
			j.mu.Unlock()
			return last, nil
		case int32(soa.Serial-lastSOA.Serial) < 0:
			j.versions, j.rrs = nil, 0
		default:
			j.mu.Unlock()
			del, add, err := diffSources(last, src)
			if err != nil {
				return nil, err
			}
			j.mu.Lock()
			if j.last != last {
				j.mu.Unlock()
				continue
			}
			v := Version{From: lastSOA, To: soa, Deleted: del, Added: add}
			j.versions = append(j.versions, v)
			j.rrs += v.size()
			for len(j.versions) > 0 && (len(j.versions) > j.maxVersions || j.rrs > j.maxRRs) {
				j.rrs -= j.versions[0].size()
				j.versions[0] = Version{}
				j.versions = j.versions[1:]
			}
		}
		j.last, j.lastSOA = src, soa
		j.mu.Unlock()
		return src, nil
	}
}

// Adopt puts src, the complete zone in AXFR form, in place of the newest
// version when the two are the same zone: the same serial and the same
// RRs, SOA included. It reports whether it did; a zone that differs in
// any RR (signatures made afresh, say) leaves the journal as it was, since
// secondaries may hold the recorded one (see RecordZone).
//
// After a start the newest version is the image read from the file (Load):
// a packed copy of the whole zone, as large as the zone's own records. A
// server adopts its first snapshot of the zone in its place, when equal,
// so that the copy is released instead of kept until the serial moves on.
// The comparison reads both zones whole, without the journal's lock.
func (j *Journal) Adopt(src image.Source) (bool, error) {
	soa, err := src.SOA()
	if err != nil {
		return false, err
	}
	j.mu.Lock()
	last, lastSOA := j.last, j.lastSOA
	j.mu.Unlock()
	switch {
	case last == nil || lastSOA.Serial != soa.Serial:
		return false, nil
	case last == src:
		return true, nil
	case last.Len() != src.Len() || lastSOA.String() != soa.String():
		return false, nil
	}
	del, add, err := diffSources(last, src)
	if err != nil || len(del) > 0 || len(add) > 0 {
		return false, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.last != last {
		// A transfer recorded another version meanwhile.
		return false, nil
	}
	j.last, j.lastSOA = src, soa
	return true, nil
}

// diffSources is Diff between two recorded zones: by the newer one when
// it can compare itself with the older (image.Differ), else RR by RR.
func diffSources(old, new image.Source) (deleted, added []dns.RR, err error) {
	if d, ok := new.(image.Differ); ok {
		deleted, added, ok, err := d.DiffFrom(old)
		if err != nil || ok {
			return deleted, added, err
		}
	}
	// An Image read from the journal's file against the first snapshot
	// after a start: read side by side, neither packed again.
	return diffStream(old, new)
}

// Serial returns the serial of the newest recorded version, and false when
// nothing was recorded yet.
func (j *Journal) Serial() (uint32, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.lastSOA == nil {
		return 0, false
	}
	return j.lastSOA.Serial, true
}

// Newest returns the newest recorded zone in AXFR form, and false when
// nothing was recorded yet.
func (j *Journal) Newest() (image.Source, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.last, j.last != nil
}

// Len returns the number of versions kept and the records in them.
func (j *Journal) Len() (versions, rrs int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.versions), j.rrs
}

// Since returns the versions that lead from serial to the newest recorded
// one, oldest first, and true; or false when the journal cannot bring a
// zone at serial up to date (serial unknown or dropped). A serial equal to
// the newest gives no versions and true.
func (j *Journal) Since(serial uint32) ([]Version, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.lastSOA == nil {
		return nil, false
	}
	if serial == j.lastSOA.Serial {
		return nil, true
	}
	for i := range j.versions {
		if j.versions[i].From.Serial == serial {
			return append([]Version(nil), j.versions[i:]...), true
		}
	}
	return nil, false
}

// key identifies an RR by its whole content, TTL included: a TTL change is
// a deletion and an addition (RFC 1995 §4 compares whole RRs).
func key(rr dns.RR) string { return rr.String() }

// Diff returns the RRs of old that are not in new and those of new that
// are not in old, both zones in AXFR form or plain lists without duplicate
// RRs (RFC 2181 §5); SOA records are left out (RFC 1995 carries them as
// version markers). Order follows the inputs. RRs are compared in wire
// form, owner included: an RR that cannot be packed is an error.
func Diff(old, new []dns.RR) (deleted, added []dns.RR, err error) {
	a, err := image.Pack(old)
	if err != nil {
		return nil, nil, err
	}
	b, err := image.Pack(new)
	if err != nil {
		return nil, nil, err
	}
	return diffStream(a, b)
}

// Response lays out versions as an RFC 1995 §4 IXFR answer: the newest SOA,
// then for each version the old SOA, its deletions, the new SOA and its
// additions, and the newest SOA again. With no versions it is the newest
// SOA alone (RFC 1995 §2: the client is up to date).
//
// The RRs are copies, the caller's to pack: packing an RR writes its
// header (RDLENGTH), and the versions are shared by every transfer
// running at the same time.
func Response(newest *dns.SOA, versions []Version) []dns.RR {
	n := 2
	for i := range versions {
		n += versions[i].size()
	}
	out := make([]dns.RR, 0, n)
	out = append(out, dns.Copy(newest))
	if len(versions) == 0 {
		return out
	}
	for _, v := range versions {
		out = append(out, dns.Copy(v.From))
		for _, rr := range v.Deleted {
			out = append(out, dns.Copy(rr))
		}
		out = append(out, dns.Copy(v.To))
		for _, rr := range v.Added {
			out = append(out, dns.Copy(rr))
		}
	}
	return append(out, dns.Copy(newest))
}

// Apply applies versions to axfr, a zone in AXFR form, as a secondary
// would, and returns the new zone in AXFR form (SOA first and last, the
// other RRs in the order of axfr followed by additions). It fails when a
// version does not start at the zone's serial or deletes an RR the zone
// does not hold.
func Apply(axfr []dns.RR, versions []Version) ([]dns.RR, error) {
	soa, err := soaOf(axfr)
	if err != nil {
		return nil, err
	}
	type entry struct {
		rr   dns.RR
		gone bool
	}
	var rrs []*entry
	byKey := map[string]*entry{}
	for _, rr := range axfr[1 : len(axfr)-1] {
		if rr.Header().Rrtype == dns.TypeSOA {
			continue
		}
		if _, dup := byKey[key(rr)]; dup {
			continue
		}
		e := &entry{rr: rr}
		rrs = append(rrs, e)
		byKey[key(rr)] = e
	}
	for _, v := range versions {
		if v.From == nil || v.To == nil || v.From.Serial != soa.Serial {
			return nil, fmt.Errorf("journal: version does not start at serial %d", soa.Serial)
		}
		for _, rr := range v.Deleted {
			e, ok := byKey[key(rr)]
			if !ok {
				return nil, fmt.Errorf("journal: serial %d->%d deletes %s, which the zone does not hold", v.From.Serial, v.To.Serial, rr)
			}
			e.gone = true
			delete(byKey, key(rr))
		}
		for _, rr := range v.Added {
			if _, ok := byKey[key(rr)]; ok {
				continue // adding an RR that exists changes nothing (RFC 2136 §3.4.2.2)
			}
			e := &entry{rr: rr}
			rrs = append(rrs, e)
			byKey[key(rr)] = e
		}
		soa = v.To
	}
	out := make([]dns.RR, 0, len(byKey)+2)
	out = append(out, soa)
	for _, e := range rrs {
		if !e.gone {
			out = append(out, e.rr)
		}
	}
	return append(out, soa), nil
}
