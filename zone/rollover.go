package zone

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/atomicfile"
	"github.com/dnsbound/dance/zone/keys"
)

// KeyRole is what a signing key does in the zone. It follows from the key
// flags: a key without the SEP flag is a ZSK; a SEP key is a KSK in a zone
// that has a ZSK, and a CSK in a zone that has not.
type KeyRole string

// The roles.
const (
	// RoleCSK is a combined signing key: it signs every RRset.
	RoleCSK KeyRole = "csk"
	// RoleKSK is a key-signing key: the key the parent's DS names; it
	// signs the DNSKEY, CDS and CDNSKEY RRsets.
	RoleKSK KeyRole = "ksk"
	// RoleZSK is a zone-signing key: it signs every other RRset.
	RoleZSK KeyRole = "zsk"
)

// ParseKeyRole maps "ksk", "zsk" and "csk" to a role.
func ParseKeyRole(s string) (KeyRole, error) {
	switch r := KeyRole(strings.ToLower(s)); r {
	case RoleCSK, RoleKSK, RoleZSK:
		return r, nil
	}
	return "", fmt.Errorf("zone: unknown key role %q (want ksk, zsk or csk)", s)
}

// roleOf is the role of k in a zone that has (split) or has not a ZSK.
func roleOf(k *keys.Key, split bool) KeyRole {
	switch {
	case !k.IsSEP():
		return RoleZSK
	case split:
		return RoleKSK
	}
	return RoleCSK
}

// hasZSK reports whether ks include a key without the SEP flag: the zone
// splits its keys into KSK and ZSK.
func hasZSK(ks []*keys.Key) bool {
	return slices.ContainsFunc(ks, func(k *keys.Key) bool { return !k.IsSEP() })
}

// RolloverStep is one step of a key rollover (RFC 7583). The three steps
// are the same for every role; what they do depends on it:
//
//   - ZSK, pre-publication (RFC 7583 §3.2.1): Prepublish adds the new ZSK
//     to the DNSKEY RRset without signing with it; Activate signs with the
//     new ZSK instead of the old one, which stays published; Retire
//     removes the old ZSK. Wait the DNSKEY TTL before Activate (caches must
//     hold the new key before signatures by it appear) and the largest TTL
//     in the zone before Retire (signatures by the old key must leave
//     caches first). The parent is not involved.
//   - KSK, double-KSK (RFC 7583 §3.3.1): Prepublish adds the new KSK, and
//     it signs the DNSKEY, CDS and CDNSKEY RRsets next to the old one;
//     Activate moves CDS/CDNSKEY to the new KSK so the parent can replace
//     the DS; Retire removes the old KSK. Wait the DNSKEY TTL before
//     Activate, and the DS change at the parent plus the DS TTL before
//     Retire.
//   - CSK, double signature: as the KSK, but both keys sign every RRset
//     while both are published. Validators that trust either key (a DS at
//     the parent, a static trust anchor) keep validating throughout.
//
// DIR/anchors follows the published KSKs or CSKs.
type RolloverStep string

// The three steps.
const (
	// Prepublish creates the new key and adds it to the DNSKEY RRset.
	Prepublish RolloverStep = "prepublish"
	// Activate makes the new key the zone's key of its role.
	Activate RolloverStep = "activate"
	// Retire removes the old key from the DNSKEY RRset.
	Retire RolloverStep = "retire"
)

// ErrRollover is returned for a step taken out of order, or for a role the
// zone has no key of.
var ErrRollover = errors.New("zone: rollover step out of order")

// KeyInfo describes one key of the zone.
type KeyInfo struct {
	Tag       uint16
	Algorithm uint8
	// Role is the key's role: csk, ksk or zsk.
	Role KeyRole
	// State is "active" (a key of the zone: the KSK or CSK CDS/CDNSKEY
	// point to, the signing ZSK), "incoming" (published ahead of its
	// activation; a KSK or CSK also signs) or "outgoing" (published after
	// it was replaced, until retired; a KSK or CSK still signs, a ZSK no
	// longer does).
	State string
	File  string
	// DS is the DS record of a KSK or CSK; empty for a ZSK.
	DS string
}

// Keys lists the zone's keys.
func (z *Zone) Keys() []KeyInfo {
	z.wmu.Lock()
	set := *z.settings
	z.wmu.Unlock()
	active, _ := z.loadKeys(set.KeyFiles)
	split := hasZSK(active)
	var out []KeyInfo
	for _, g := range []struct {
		state string
		files []string
	}{
		{"active", set.KeyFiles},
		{"incoming", set.IncomingKeyFiles}, {"incoming", set.PublishedKeyFiles},
		{"outgoing", set.OutgoingKeyFiles}, {"outgoing", set.RetiredKeyFiles},
	} {
		for _, f := range g.files {
			k, err := z.loadKeys([]string{f})
			if err != nil {
				continue
			}
			info := KeyInfo{Tag: k[0].Tag(), Algorithm: k[0].DNSKEY.Algorithm, Role: roleOf(k[0], split), State: g.state, File: f}
			if k[0].IsSEP() {
				info.DS = k[0].DS(keys.DigestSHA256).String()
			}
			out = append(out, info)
		}
	}
	return out
}

// loadKeys loads the keys of files, names relative to DIR/keys.
func (z *Zone) loadKeys(files []string) ([]*keys.Key, error) {
	var ks []*keys.Key
	for _, f := range files {
		if filepath.Base(f) != f {
			return nil, fmt.Errorf("zone: settings: bad key file name %q", f)
		}
		k, err := keys.Load(filepath.Join(z.dir, KeysDir, f))
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return ks, nil
}

// publishedFiles are the key files of every key in the DNSKEY RRset, the
// active ones (s.KeyFiles) first.
func publishedFiles(s *zoneSettings) []string {
	return slices.Concat(s.KeyFiles, s.IncomingKeyFiles, s.PublishedKeyFiles, s.OutgoingKeyFiles, s.RetiredKeyFiles)
}

// rolloverMu serialises rollover steps, so that two taken at once (two
// admin API requests) cannot both start a rollover from the same state.
// Steps are rare; one lock for every zone of the process is enough.
var rolloverMu sync.Mutex

// Rollover takes one step of a rollover of the key with the given role and
// says what to do next. Without a role ("") it rolls the key of the
// rollover under way or, if none is, the zone's CSK or, in a zone with a
// KSK and a ZSK, its ZSK. A step out of order, or a role the zone has no
// key of, is refused with ErrRollover.
//
// Unless opt.Force, a step taken before the TTLs it depends on have
// passed since the step before (recorded in the zone's settings) is refused
// with a *RolloverWaitError, and a KSK or CSK retire before the parent's
// DS names the new key with a *ParentDSError (see checkRolloverTiming). A
// retire that first sees the new DS at the parent records when, and is
// refused until the DS TTL has passed since then. ctx bounds
// opt.CheckParentDS.
func (z *Zone) Rollover(ctx context.Context, role KeyRole, step RolloverStep, opt RolloverOptions) (RolloverResult, error) {
	if step != Prepublish && step != Activate && step != Retire {
		return RolloverResult{}, fmt.Errorf("zone: unknown rollover step %q (want prepublish, activate or retire)", step)
	}
	switch role {
	case "", RoleKSK, RoleZSK, RoleCSK:
	default:
		return RolloverResult{}, fmt.Errorf("%w: unknown key role %q (want ksk, zsk or csk; see ParseKeyRole)", ErrRollover, role)
	}
	serial, res, err := z.rolloverKey(ctx, role, step, opt)
	res.Serial = serial
	return res, err
}

func (z *Zone) rolloverKey(ctx context.Context, role KeyRole, step RolloverStep, opt RolloverOptions) (uint32, RolloverResult, error) {
	var res RolloverResult
	rolloverMu.Lock()
	defer rolloverMu.Unlock()
	z.wmu.Lock()
	cur := *z.settings
	z.wmu.Unlock()
	active, err := z.loadKeys(cur.KeyFiles)
	if err != nil {
		return 0, res, err
	}
	split := hasZSK(active)
	// The role of the rollover under way, if any.
	var underWay KeyRole
	if pending := slices.Concat(cur.IncomingKeyFiles, cur.PublishedKeyFiles, cur.OutgoingKeyFiles, cur.RetiredKeyFiles); len(pending) > 0 {
		ks, err := z.loadKeys(pending[:1])
		if err != nil {
			return 0, res, err
		}
		underWay = roleOf(ks[0], split)
	}
	switch {
	case role == "" && underWay != "":
		role = underWay
	case role == "" && split:
		role = RoleZSK
	case role == "":
		role = RoleCSK
	case split && role == RoleCSK:
		return 0, res, fmt.Errorf("%w: the zone has a KSK and a ZSK, no CSK (roll the ksk or the zsk)", ErrRollover)
	case !split && role != RoleCSK:
		return 0, res, fmt.Errorf("%w: the zone has one combined signing key (roll the csk)", ErrRollover)
	}
	if underWay != "" && underWay != role {
		return 0, res, fmt.Errorf("%w: a %s rollover is under way (activate or retire it first)", ErrRollover, underWay)
	}

	next := cur
	next.KeyFiles = slices.Clone(cur.KeyFiles)
	switch step {
	case Prepublish:
		if underWay != "" {
			return 0, res, fmt.Errorf("%w: a %s rollover is already under way (activate or retire first)", ErrRollover, underWay)
		}
		i := slices.IndexFunc(active, func(k *keys.Key) bool { return roleOf(k, split) == role })
		if i < 0 {
			return 0, res, fmt.Errorf("%w: the zone has no active %s", ErrRollover, role)
		}
		flags := keys.FlagsCSK
		switch role {
		case RoleKSK:
			flags = keys.FlagsKSK
		case RoleZSK:
			flags = keys.FlagsZSK
		}
		all, err := z.loadKeys(publishedFiles(&cur))
		if err != nil {
			return 0, res, err
		}
		var tags []uint16
		for _, pk := range all {
			tags = append(tags, pk.Tag())
		}
		k, err := keys.Generate(cur.Origin, active[i].DNSKEY.Algorithm, flags, tags...)
		if err != nil {
			return 0, res, err
		}
		k.DNSKEY.Hdr.Ttl = cur.KeyTTL
		f, err := keys.Write(filepath.Join(z.dir, KeysDir), k)
		if err != nil {
			return 0, res, err
		}
		if role == RoleZSK {
			// Published only: signatures by it would not validate
			// where the old DNSKEY RRset is still cached.
			next.PublishedKeyFiles = []string{filepath.Base(f)}
		} else {
			next.IncomingKeyFiles = []string{filepath.Base(f)}
		}
	case Activate:
		incoming := cur.IncomingKeyFiles
		if role == RoleZSK {
			incoming = cur.PublishedKeyFiles
		}
		if len(incoming) == 0 {
			return 0, res, fmt.Errorf("%w: no pre-published %s to activate", ErrRollover, role)
		}
		var kept, old []string
		for i, f := range cur.KeyFiles {
			if roleOf(active[i], split) == role {
				old = append(old, f)
			} else {
				kept = append(kept, f)
			}
		}
		next.KeyFiles = slices.Concat(kept, incoming)
		if role == RoleZSK {
			next.PublishedKeyFiles, next.RetiredKeyFiles = nil, old
		} else {
			next.IncomingKeyFiles, next.OutgoingKeyFiles = nil, old
		}
	case Retire:
		if role == RoleZSK {
			if len(cur.RetiredKeyFiles) == 0 {
				return 0, res, fmt.Errorf("%w: no outgoing zsk to retire", ErrRollover)
			}
			next.RetiredKeyFiles = nil
		} else {
			if len(cur.OutgoingKeyFiles) == 0 {
				return 0, res, fmt.Errorf("%w: no outgoing %s to retire", ErrRollover, role)
			}
			next.OutgoingKeyFiles = nil
		}
	}
	// The key the step makes active (activate) or left active (retire).
	var newKey *keys.Key
	if step != Prepublish {
		files := next.KeyFiles
		ks, err := z.loadKeys(files)
		if err != nil {
			return 0, res, err
		}
		for _, k := range ks {
			if roleOf(k, split) == role {
				newKey = k
			}
		}
		if newKey == nil {
			return 0, res, fmt.Errorf("%w: no active %s after %s", ErrRollover, role, step)
		}
	}
	record, terr := z.checkRolloverTiming(ctx, role, step, &cur, &next, newKey, opt)
	switch {
	case terr != nil && opt.Force:
		res.Forced = true
	case terr != nil && record:
		// Refused, but when the parent's DS was first seen is kept.
		rec := cur
		rec.Rollover = next.Rollover
		if _, err := z.installKeys(&rec); err != nil {
			return 0, res, err
		}
		return 0, res, terr
	case terr != nil:
		return 0, res, terr
	}
	now := z.now()
	times := rolloverTimes{Role: role}
	if cur.Rollover != nil && cur.Rollover.Role == role {
		times = *cur.Rollover
	}
	switch step {
	case Prepublish:
		times = rolloverTimes{Role: role, Prepublished: now}
		next.Rollover = &times
	case Activate:
		times.Activated = now
		next.Rollover = &times
	case Retire:
		next.Rollover = nil
	}
	if step != Activate || role != RoleZSK {
		// Only a ZSK activation starts a re-signing; any other step
		// ends one under way (a forced retire).
		z.stopResign()
	}
	serial, err := z.installKeys(&next)
	if err != nil {
		// The keys are as they were: a re-signing stopped above
		// goes on.
		z.wmu.Lock()
		unfinished := resignUnfinished(z.settings)
		z.wmu.Unlock()
		if unfinished {
			z.startResign()
		}
		return serial, res, err
	}
	if step == Activate && role == RoleZSK {
		z.startResign()
	}
	if newKey == nil {
		ks, err := z.loadKeys(slices.Concat(next.IncomingKeyFiles, next.PublishedKeyFiles))
		if err == nil && len(ks) > 0 {
			newKey = ks[0]
		}
	}
	if newKey != nil {
		res.Next, res.NextAllowed = z.rolloverNext(role, step, &next, newKey)
	}
	return serial, res, nil
}

// installKeys publishes the keys of next (DNSKEY, and CDS/CDNSKEY of its
// active SEP keys), makes its signing keys sign, stores next and rewrites
// DIR/anchors.
func (z *Zone) installKeys(next *zoneSettings) (uint32, error) {
	// The signing keys: active keys, and the incoming or outgoing KSK or
	// CSK of a rollover; published or retired ZSKs do not sign.
	sg, err := z.newSigner(next)
	if err != nil {
		return 0, err
	}
	published, err := z.loadKeys(publishedFiles(next))
	if err != nil {
		return 0, err
	}
	// publishedFiles starts with the active keys.
	active := published[:len(next.KeyFiles)]
	origin := next.Origin
	var dnskeys, cds, cdnskey []dns.RR
	for _, k := range published {
		d := dns.Copy(k.DNSKEY).(*dns.DNSKEY)
		d.Hdr.Ttl = next.KeyTTL
		dnskeys = append(dnskeys, d)
	}
	// CDS/CDNSKEY name the key(s) the parent's DS should name: the active
	// KSK or CSK (RFC 7344 §3).
	for _, k := range active {
		if !k.IsSEP() {
			continue
		}
		c := k.CDS(keys.DigestSHA256)
		c.Hdr.Ttl = next.KeyTTL
		cds = append(cds, c)
		ck := k.CDNSKEY()
		ck.Hdr.Ttl = next.KeyTTL
		cdnskey = append(cdnskey, ck)
	}
	serial, err := z.change(func(v *view) error {
		if err := v.set(origin, dns.TypeDNSKEY, dnskeys); err != nil {
			return err
		}
		if err := v.set(origin, dns.TypeCDS, cds); err != nil {
			return err
		}
		if err := v.set(origin, dns.TypeCDNSKEY, cdnskey); err != nil {
			return err
		}
		v.meta = map[string][]byte{metaSettings: next.marshal()}
		v.after = func() {
			// Only the key lists change; other settings are read
			// without locks.
			z.settings.KeyFiles = next.KeyFiles
			z.settings.IncomingKeyFiles = next.IncomingKeyFiles
			z.settings.OutgoingKeyFiles = next.OutgoingKeyFiles
			z.settings.PublishedKeyFiles = next.PublishedKeyFiles
			z.settings.RetiredKeyFiles = next.RetiredKeyFiles
			z.settings.Rollover = next.Rollover
			z.signer.Store(sg)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Trust anchors follow the published KSKs or CSKs.
	// Written atomically: validators may read the file at any moment.
	if err := atomicfile.WriteFile(filepath.Join(z.dir, AnchorsFile), []byte(keys.Anchors(published)), anchorsFileMode); err != nil {
		return serial, fmt.Errorf("zone: anchors: %w", err)
	}
	return serial, nil
}
