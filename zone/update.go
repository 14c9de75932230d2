package zone

import (
	"errors"
	"fmt"
	"slices"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/store"
)

// Policy limits what one update key may change: names at or below Subtree,
// and only the listed record types.
type Policy struct {
	// Subtree is the highest name the key may touch; "" means the apex.
	Subtree string
	// Types are the types the key may add or delete; nil means
	// IdentityTypes. Types outside IdentityTypes are never allowed.
	Types []uint16
}

func (p Policy) allows(origin, name string, t uint16) bool {
	sub := origin
	if p.Subtree != "" {
		sub = dns.CanonicalName(p.Subtree)
	}
	if !dns.IsSubDomain(sub, name) {
		return false
	}
	if t == dns.TypeANY {
		return true
	}
	if !IsIdentityType(t) {
		return false
	}
	return p.Types == nil || slices.Contains(p.Types, t)
}

func (p Policy) covers(origin, name string) bool {
	sub := origin
	if p.Subtree != "" {
		sub = dns.CanonicalName(p.Subtree)
	}
	return dns.IsSubDomain(sub, name)
}

// UpdateError is the failure of an update, with the response code RFC 2136
// prescribes for it and a reason for the operator's log.
type UpdateError struct {
	Rcode  int
	Reason string
	// Err, when set, is the sentinel the failure is an instance of
	// (ErrRevoked), for errors.Is.
	Err error
}

// Unwrap returns Err.
func (e *UpdateError) Unwrap() error { return e.Err }

func (e *UpdateError) Error() string {
	return fmt.Sprintf("update %s: %s", dns.RcodeToString[e.Rcode], e.Reason)
}

func updateErr(rcode int, format string, a ...any) error {
	return &UpdateError{Rcode: rcode, Reason: fmt.Sprintf(format, a...)}
}

// RcodeOf returns the response code for an error from Update or Apply:
// the UpdateError's code, or SERVFAIL.
func RcodeOf(err error) int {
	if err == nil {
		return dns.RcodeSuccess
	}
	var ue *UpdateError
	if errors.As(err, &ue) {
		return ue.Rcode
	}
	return dns.RcodeServerFailure
}

type setKey struct {
	name string
	t    uint16
}

// view is the zone as an update sees it: current data overlaid with the
// update's pending changes. Only the writer holding wmu uses it.
type view struct {
	z       *Zone
	pending map[setKey][]dns.RR
	order   []setKey
	// meta are settings written in the same transaction; after runs with
	// mu held for writing once the changes are installed.
	meta  map[string][]byte
	after func()
}

func (v *view) get(name string, t uint16) []dns.RR {
	if rrs, ok := v.pending[setKey{name, t}]; ok {
		return rrs
	}
	return v.z.names[name].rrs(t)
}

func (v *view) typesAt(name string) []uint16 {
	seen := map[uint16]bool{}
	for _, t := range v.z.names[name].types() {
		seen[t] = true
	}
	for k := range v.pending {
		if k.name == name {
			seen[k.t] = true
		}
	}
	var out []uint16
	for t := range seen {
		if len(v.get(name, t)) > 0 {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

func (v *view) set(name string, t uint16, rrs []dns.RR) error {
	if len(rrs) > MaxRRsPerSet {
		return updateErr(dns.RcodeRefused, "%s %s would hold %d records (limit %d)", name, dns.TypeToString[t], len(rrs), MaxRRsPerSet)
	}
	k := setKey{name, t}
	if _, ok := v.pending[k]; !ok {
		v.order = append(v.order, k)
	}
	v.pending[k] = rrs
	return nil
}

// change runs fn on a view of the zone and, if fn succeeds and changed
// anything, writes the changes and a new SOA serial to the store in one
// transaction, then installs them in memory. It returns the serial after
// the change.
func (z *Zone) change(fn func(v *view) error) (uint32, error) {
	return z.changeSerial(fn, false)
}

// changeSerial is change; with force it bumps the serial even when nothing
// else changed.
func (z *Zone) changeSerial(fn func(v *view) error, force bool) (uint32, error) {
	z.wmu.Lock()
	defer z.wmu.Unlock()
	v := &view{z: z, pending: map[setKey][]dns.RR{}}
	z.mu.RLock()
	err := fn(v)
	z.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	// Drop pending sets that equal the current ones.
	var changed []setKey
	for _, k := range v.order {
		cur := z.names[k.name].rrs(k.t)
		if !sameRRset(cur, v.pending[k]) || !sameTTL(cur, v.pending[k]) {
			changed = append(changed, k)
		}
	}
	z.mu.RLock()
	old := z.soa()
	z.mu.RUnlock()
	if len(changed) == 0 && !force && v.meta == nil {
		return old.Serial, nil
	}
	soa := dns.Copy(old).(*dns.SOA)
	soa.Serial = nextSerial(old.Serial, uint32(z.now().Unix()))
	// Packed before anything is written: a set that does not pack is
	// refused whole, and installing cannot fail after the commit.
	packed := make([][]byte, len(changed))
	for i, k := range changed {
		if packed[i], err = packSet(v.pending[k]); err != nil {
			return 0, updateErr(dns.RcodeFormatError, "%s %s: %v", k.name, dns.TypeToString[k.t], err)
		}
	}
	soaSet, err := packSet([]dns.RR{soa})
	if err != nil {
		return 0, err
	}
	err = z.st.Update(func(tx *store.Tx) error {
		for _, k := range changed {
			if err := tx.Put(k.name, k.t, v.pending[k]); err != nil {
				return err
			}
		}
		for k, val := range v.meta {
			if err := tx.SetMeta(k, val); err != nil {
				return err
			}
		}
		return tx.Put(z.settings.Origin, dns.TypeSOA, []dns.RR{soa})
	})
	if err != nil {
		return 0, fmt.Errorf("zone: store: %w", err)
	}
	z.mu.Lock()
	for i, k := range changed {
		z.install(k.name, k.t, packed[i])
	}
	z.install(z.settings.Origin, dns.TypeSOA, soaSet)
	if v.after != nil {
		v.after()
	}
	z.mu.Unlock()
	z.lastChange.Store(z.now().Unix())
	z.changed(soa.Serial)
	return soa.Serial, nil
}

// nextSerial increments serial (RFC 1982 arithmetic) and jumps to now when
// now is ahead, so serials stay readable as times without ever going back.
func nextSerial(serial, now uint32) uint32 {
	s := serial + 1
	if int32(now-s) > 0 {
		return now
	}
	return s
}

func sameRRset(a, b []dns.RR) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			if dns.IsDuplicate(x, y) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func sameTTL(a, b []dns.RR) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return a[0].Header().Ttl == b[0].Header().Ttl
}

// isMetaType reports types that cannot appear as data (RFC 6895 §3.1).
func isMetaType(t uint16) bool {
	switch t {
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeIXFR, dns.TypeAXFR,
		dns.TypeMAILA, dns.TypeMAILB, dns.TypeANY, dns.TypeNXNAME:
		return true
	}
	return t >= 128 && t <= 255
}

// checkOwner enforces the name rules of the zone: inside it, and an
// asterisk label only as a wildcard's leftmost label (checkWildcardOwner).
// A wildcard owns identity types only, like every name updates reach.
func (z *Zone) checkOwner(name string) error {
	if !dns.IsSubDomain(z.settings.Origin, name) {
		return updateErr(dns.RcodeNotZone, "%s is outside %s", name, z.settings.Origin)
	}
	return checkWildcardOwner(name)
}

// rdlen reports the RDATA length of rr, zero when it has none. Records
// unpacked from the wire carry Rdlength; a record with Rdlength 0 unpacks as
// its type with zero fields, so a record built in code counts as empty when
// it equals that zero value.
func rdlen(rr dns.RR) int {
	h := rr.Header()
	if h.Rdlength != 0 {
		return int(h.Rdlength)
	}
	if _, ok := rr.(*dns.ANY); ok {
		return 0
	}
	newFn, ok := dns.TypeToRR[h.Rrtype]
	if !ok {
		if u, ok := rr.(*dns.RFC3597); ok {
			return len(u.Rdata) / 2
		}
		return 0
	}
	zero := newFn()
	*zero.Header() = *h
	if dns.IsDuplicate(zero, rr) {
		return 0
	}
	return 1
}

// Update applies an RFC 2136 update to the zone: prerequisites first
// (§3.2), then a prescan of every update record (§3.4.1), then all changes
// in one durable transaction (§3.4.2), or nothing. The zone section has been
// checked by the caller. p limits the names and types the requester may
// change. It returns the serial after the update.
func (z *Zone) Update(prereq, updates []dns.RR, p Policy) (uint32, error) {
	if len(prereq)+len(updates) > MaxUpdateRRs {
		return 0, updateErr(dns.RcodeRefused, "%d records in one update (limit %d)", len(prereq)+len(updates), MaxUpdateRRs)
	}
	return z.change(func(v *view) error {
		if err := z.checkPrereqs(v, prereq); err != nil {
			return err
		}
		for _, rr := range updates {
			if err := z.prescan(rr, p); err != nil {
				return err
			}
		}
		for _, rr := range updates {
			if err := z.applyOne(v, rr, p); err != nil {
				return err
			}
		}
		if err := v.frozenRevoked(); err != nil {
			return err
		}
		return v.checkMarkers()
	})
}

// checkPrereqs implements RFC 2136 §3.2. Callers hold mu for reading.
func (z *Zone) checkPrereqs(v *view, prereq []dns.RR) error {
	want := map[setKey][]dns.RR{}
	var order []setKey
	for _, rr := range prereq {
		h := rr.Header()
		name := dns.CanonicalName(h.Name)
		if h.Ttl != 0 {
			return updateErr(dns.RcodeFormatError, "prerequisite %s has TTL %d, want 0", name, h.Ttl)
		}
		if !dns.IsSubDomain(z.settings.Origin, name) {
			return updateErr(dns.RcodeNotZone, "prerequisite %s is outside %s", name, z.settings.Origin)
		}
		switch h.Class {
		case dns.ClassANY:
			if rdlen(rr) != 0 {
				return updateErr(dns.RcodeFormatError, "prerequisite %s of class ANY has data", name)
			}
			if h.Rrtype == dns.TypeANY {
				if !z.exists(name) {
					return updateErr(dns.RcodeNameError, "prerequisite: %s is not in use", name)
				}
			} else if len(v.get(name, h.Rrtype)) == 0 {
				return updateErr(dns.RcodeNXRrset, "prerequisite: %s %s does not exist", name, dns.TypeToString[h.Rrtype])
			}
		case dns.ClassNONE:
			if rdlen(rr) != 0 {
				return updateErr(dns.RcodeFormatError, "prerequisite %s of class NONE has data", name)
			}
			if h.Rrtype == dns.TypeANY {
				if z.exists(name) {
					return updateErr(dns.RcodeYXDomain, "prerequisite: %s is in use", name)
				}
			} else if len(v.get(name, h.Rrtype)) != 0 {
				return updateErr(dns.RcodeYXRrset, "prerequisite: %s %s exists", name, dns.TypeToString[h.Rrtype])
			}
		case dns.ClassINET:
			if isMetaType(h.Rrtype) {
				return updateErr(dns.RcodeFormatError, "prerequisite %s has meta type %s", name, dns.TypeToString[h.Rrtype])
			}
			k := setKey{name, h.Rrtype}
			if _, ok := want[k]; !ok {
				order = append(order, k)
			}
			want[k] = append(want[k], rr)
		default:
			return updateErr(dns.RcodeFormatError, "prerequisite %s has class %s", name, dns.ClassToString[h.Class])
		}
	}
	// §3.2.3: value-dependent prerequisites compare whole RRsets.
	for _, k := range order {
		if !sameRRset(dedupe(want[k]), v.get(k.name, k.t)) {
			return updateErr(dns.RcodeNXRrset, "prerequisite: %s %s differs", k.name, dns.TypeToString[k.t])
		}
	}
	return nil
}

func dedupe(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		dup := false
		for _, o := range out {
			if dns.IsDuplicate(rr, o) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, rr)
		}
	}
	return out
}

// prescan implements RFC 2136 §3.4.1 plus the zone's policy: only identity
// types, only below the key's subtree, wildcards only as *.NAME, never at an
// admin name (Options.AdminNames), whatever the policy.
func (z *Zone) prescan(rr dns.RR, p Policy) error {
	h := rr.Header()
	name := dns.CanonicalName(h.Name)
	if err := z.checkOwner(name); err != nil {
		return err
	}
	if err := z.checkAdminName(name); err != nil {
		return err
	}
	switch h.Class {
	case dns.ClassINET:
		if isMetaType(h.Rrtype) {
			return updateErr(dns.RcodeFormatError, "%s: cannot add meta type %s", name, dns.TypeToString[h.Rrtype])
		}
		if _, ok := rr.(*dns.RFC3597); ok {
			return updateErr(dns.RcodeRefused, "%s: type %d is not an identity type", name, h.Rrtype)
		}
	case dns.ClassANY:
		if h.Ttl != 0 || rdlen(rr) != 0 {
			return updateErr(dns.RcodeFormatError, "%s: delete of class ANY with TTL or data", name)
		}
		if isMetaType(h.Rrtype) && h.Rrtype != dns.TypeANY {
			return updateErr(dns.RcodeFormatError, "%s: cannot delete meta type %s", name, dns.TypeToString[h.Rrtype])
		}
	case dns.ClassNONE:
		if h.Ttl != 0 {
			return updateErr(dns.RcodeFormatError, "%s: delete of class NONE with TTL", name)
		}
		if isMetaType(h.Rrtype) {
			return updateErr(dns.RcodeFormatError, "%s: cannot delete meta type %s", name, dns.TypeToString[h.Rrtype])
		}
	default:
		return updateErr(dns.RcodeFormatError, "%s: class %s in update section", name, dns.ClassToString[h.Class])
	}
	if !p.covers(z.settings.Origin, name) {
		return updateErr(dns.RcodeRefused, "%s is outside the key's subtree", name)
	}
	if !p.allows(z.settings.Origin, name, h.Rrtype) {
		return updateErr(dns.RcodeRefused, "%s: type %s is not allowed (identity types only)", name, dns.TypeToString[h.Rrtype])
	}
	return nil
}

// applyOne implements RFC 2136 §3.4.2 for one prescanned record.
func (z *Zone) applyOne(v *view, rr dns.RR, p Policy) error {
	h := rr.Header()
	name := dns.CanonicalName(h.Name)
	switch h.Class {
	case dns.ClassINET:
		add := dns.Copy(rr)
		add.Header().Name = name
		cur := v.get(name, h.Rrtype)
		next := make([]dns.RR, 0, len(cur)+1)
		dup := false
		for _, c := range cur {
			c2 := dns.Copy(c)
			// RFC 2181 §5.2: the records of an RRset share one TTL; the
			// latest addition sets it.
			c2.Header().Ttl = h.Ttl
			next = append(next, c2)
			if dns.IsDuplicate(c, add) {
				dup = true
			}
		}
		if !dup {
			next = append(next, add)
		}
		return v.set(name, h.Rrtype, next)
	case dns.ClassANY:
		if h.Rrtype == dns.TypeANY {
			// §3.4.2.3: never the apex SOA/NS; here, only what the policy
			// lets this key manage.
			for _, t := range v.typesAt(name) {
				if p.allows(z.settings.Origin, name, t) && IsIdentityType(t) {
					if err := v.set(name, t, nil); err != nil {
						return err
					}
				}
			}
			return nil
		}
		return v.set(name, h.Rrtype, nil)
	case dns.ClassNONE:
		cur := v.get(name, h.Rrtype)
		var next []dns.RR
		for _, c := range cur {
			del := dns.Copy(rr)
			del.Header().Class = dns.ClassINET
			del.Header().Name = name
			if !dns.IsDuplicate(c, del) {
				next = append(next, c)
			}
		}
		if len(next) == len(cur) {
			return nil
		}
		return v.set(name, h.Rrtype, next)
	}
	return updateErr(dns.RcodeFormatError, "%s: class %d", name, h.Class)
}
