package zone

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/keys"
)

// Rollover timing (RFC 7583 §3). A step is refused until the caches that
// could still hold the state it undoes have expired:
//
//   - ZSK activate, KSK and CSK activate: the DNSKEY TTL (TTLkey) plus the
//     propagation delay to secondaries (Dprp) since prepublish, so every
//     cached DNSKEY RRset holds the new key before signatures by it, or a
//     DS naming it, appear (RFC 6781 §4.1.1.1, RFC 7583 §3.2.1 "Trdy").
//   - ZSK retire: the largest TTL of the RRsets the old ZSK signed
//     (TTLsig) plus Dprp since activate, so no cache holds a signature by
//     the old ZSK when it leaves the DNSKEY RRset (RFC 7583 §3.2.1 Iret),
//     and as much since the background re-signing with the new ZSK
//     replaced the old one's last signature (Dsgn; resign.go).
//   - KSK and CSK retire: the parent serves a DS naming the new key
//     (checked through a validating resolver: RolloverOptions.CheckParentDS),
//     and it has done so for the DS TTL plus the parent's propagation
//     delay (DprpP), so no cache holds a DS RRset naming the old key only
//     (RFC 7583 §3.3.1: TTLds after the parent's change).
const (
	// PropagationDelay is Dprp: the time until every secondary serves a
	// change. With NOTIFY they transfer it within seconds (retries span
	// two minutes); a secondary that missed every NOTIFY has it after its
	// SOA refresh (soaRefresh), which is what this allows.
	PropagationDelay = soaRefresh * time.Second
	// ParentPropagationDelay is DprpP: the time until every server of the
	// parent zone serves a DS change that one of them already answers with.
	ParentPropagationDelay = time.Hour
)

// ErrRolloverTooEarly is wrapped by a *RolloverWaitError.
var ErrRolloverTooEarly = errors.New("zone: rollover step taken too early")

// RolloverWaitError refuses a rollover step taken before the TTLs it
// depends on have passed. It wraps ErrRollover and ErrRolloverTooEarly.
type RolloverWaitError struct {
	Role KeyRole
	Step RolloverStep
	// After is the event the wait counts from ("prepublish", "activate",
	// "the parent's DS was first seen") and Since when it happened; Since
	// is zero when it was not recorded (a rollover started by an earlier
	// version), and then Allowed is zero too.
	After string
	Since time.Time
	// Wait is what is waited for, in words, and Allowed when the step
	// becomes allowed.
	Wait    string
	Allowed time.Time
	// Now is the zone's clock when the step was refused.
	Now time.Time
	// Resigning is set when a ZSK retire waits for the background
	// re-signing with the new ZSK, which has not finished (Since is zero).
	Resigning bool
}

func (e *RolloverWaitError) Error() string {
	if e.Resigning {
		return fmt.Sprintf("zone: %s %s refused: the zone is still being signed again with the new ZSK in the background; retire the old one once that has finished and %s has passed since", e.Role, e.Step, e.Wait)
	}
	if e.Since.IsZero() {
		return fmt.Sprintf("zone: %s %s refused: when %s happened was not recorded; it needs %s to have passed since then (take the step with force once you know it has)",
			e.Role, e.Step, e.After, e.Wait)
	}
	return fmt.Sprintf("zone: %s %s refused until %s (in %s): it needs %s since %s (%s)",
		e.Role, e.Step, e.Allowed.UTC().Format(time.RFC3339), e.Allowed.Sub(e.Now).Round(time.Second), e.Wait, e.After, e.Since.UTC().Format(time.RFC3339))
}

// Unwrap makes the error match ErrRollover and ErrRolloverTooEarly.
func (e *RolloverWaitError) Unwrap() []error { return []error{ErrRollover, ErrRolloverTooEarly} }

// ErrParentDS is wrapped by a *ParentDSError.
var ErrParentDS = errors.New("zone: the parent's DS does not name the new key")

// ParentDSError refuses a KSK or CSK retire while the parent's DS RRset is
// not known to name the new key: retiring the old key then breaks
// validation for every resolver that follows the chain from the parent.
// It wraps ErrRollover and ErrParentDS.
type ParentDSError struct {
	Role KeyRole
	// DS is the record the parent must serve (the new key's, SHA-256).
	DS string
	// Unverified is set when the parent's DS could not be checked (no
	// resolver, the parent unreachable, its answer not Secure); Err says
	// why. Unset, the parent's validated DS RRset lacks the new key.
	Unverified bool
	Err        error
}

func (e *ParentDSError) Error() string {
	if e.Unverified {
		return fmt.Sprintf("zone: %s retire refused: the parent's DS could not be checked (%v); retiring before the parent serves %s breaks validation from the parent (take the step with force once you have checked it yourself)", e.Role, e.Err, e.DS)
	}
	return fmt.Sprintf("zone: %s retire refused: the parent's DS RRset does not name the new key yet: publish %s at the parent, and retire once it is served", e.Role, e.DS)
}

// Unwrap makes the error match ErrRollover, ErrParentDS and the checker's
// error.
func (e *ParentDSError) Unwrap() []error {
	out := []error{ErrRollover, ErrParentDS}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// ParentDS is what a ParentDSChecker found at the parent.
type ParentDS struct {
	// Names is whether the parent's validated DS RRset has a record for
	// the key (any digest type).
	Names bool
	// TTL is the DS RRset's TTL as the parent sets it (the RRSIG's
	// original TTL when the answer came through a cache).
	TTL time.Duration
}

// ParentDSChecker looks up the DS RRset of origin at its parent through a
// validating resolver and reports whether it names key. An error means it
// could not tell: the parent unreachable, or its answer not Secure. The
// zone does no DNS itself; the caller (cmd/dance) supplies the checker.
type ParentDSChecker func(ctx context.Context, origin string, key *dns.DNSKEY) (ParentDS, error)

// DSNamesKey reports whether ds is a DS record of key: same owner, tag,
// algorithm and digest, with any digest type miekg/dns computes.
func DSNamesKey(ds *dns.DS, key *dns.DNSKEY) bool {
	if !strings.EqualFold(dns.CanonicalName(ds.Hdr.Name), dns.CanonicalName(key.Hdr.Name)) || ds.KeyTag != key.KeyTag() || ds.Algorithm != key.Algorithm {
		return false
	}
	d := key.ToDS(ds.DigestType)
	return d != nil && strings.EqualFold(d.Digest, ds.Digest)
}

// RolloverOptions are the safety checks of a rollover step.
type RolloverOptions struct {
	// Force takes the step without waiting for the TTLs it depends on and
	// without checking the parent's DS. Dangerous: caches that still hold
	// the old state fail to validate the zone (SERVFAIL) until it expires.
	Force bool
	// CheckParentDS checks the parent's DS before a KSK or CSK retire;
	// without it such a retire needs Force.
	CheckParentDS ParentDSChecker
}

// rolloverTimes records when the steps of the rollover under way were
// taken (zoneSettings.Rollover), so that the next is refused until the TTLs it
// depends on have passed, across restarts.
type rolloverTimes struct {
	Role         KeyRole   `json:"role"`
	Prepublished time.Time `json:"prepublished,omitzero"`
	Activated    time.Time `json:"activated,omitzero"`
	// Resigned is when the background re-signing after a ZSK activation
	// had replaced every signature of the old ZSK (resign.go).
	Resigned time.Time `json:"resigned,omitzero"`
	// ParentDSSeen is when a KSK or CSK retire first found the new key's
	// DS at the parent, and ParentDSTTL (seconds) the DS TTL seen then.
	ParentDSSeen time.Time `json:"parent_ds_seen,omitzero"`
	ParentDSTTL  uint32    `json:"parent_ds_ttl,omitempty"`
}

// RolloverResult is the outcome of a rollover step.
type RolloverResult struct {
	Serial uint32
	// Next says what the operator must do now and next, in words.
	Next string
	// NextAllowed is when the next step becomes allowed; zero after a
	// retire, or when it depends on the parent (KSK and CSK retire).
	NextAllowed time.Time
	// Forced is set when the step was taken with RolloverOptions.Force
	// before its checks would have allowed it.
	Forced bool
}

// maxDataTTL is the largest TTL of the zone's records (the RRsets a ZSK
// signs) and of its negative answers.
func (z *Zone) maxDataTTL() uint32 {
	z.mu.RLock()
	defer z.mu.RUnlock()
	m := z.negativeTTL()
	for _, n := range z.names {
		w := n.wire()
		for off := 0; ; {
			r, next, ok := nextRR(w, off)
			if !ok {
				break
			}
			if r.t != dns.TypeRRSIG && r.ttl > m {
				m = r.ttl
			}
			off = next
		}
	}
	return m
}

func secs(s uint32) time.Duration { return time.Duration(s) * time.Second }

// checkRolloverTiming returns a *RolloverWaitError when step is too early
// for the recorded times of the rollover under way, nil when it may be
// taken. For a KSK or CSK retire it also checks the parent's DS, and
// records (in next) when it first saw the new key's DS there: record is
// then set, and the caller stores next even though the step is refused.
func (z *Zone) checkRolloverTiming(ctx context.Context, role KeyRole, step RolloverStep, cur *zoneSettings, next *zoneSettings, newKey *keys.Key, opt RolloverOptions) (record bool, err error) {
	now := z.now()
	times := cur.Rollover
	if times == nil || times.Role != role {
		times = &rolloverTimes{Role: role}
	}
	wait := func(after string, since time.Time, d time.Duration, what string) error {
		if !since.IsZero() && !now.Before(since.Add(d)) {
			return nil
		}
		e := &RolloverWaitError{Role: role, Step: step, After: after, Since: since, Wait: what, Now: now}
		if !since.IsZero() {
			e.Allowed = since.Add(d)
		}
		return e
	}
	keyWait := fmt.Sprintf("the DNSKEY TTL (%v) plus the propagation delay to secondaries (%v)", secs(cur.KeyTTL), PropagationDelay)
	switch {
	case step == Prepublish:
		return false, nil
	case step == Activate:
		return false, wait("prepublish", times.Prepublished, secs(cur.KeyTTL)+PropagationDelay, keyWait)
	case role == RoleZSK: // retire
		m := z.maxDataTTL()
		what := fmt.Sprintf("the largest TTL of the RRsets the old ZSK signed (%v) plus the propagation delay to secondaries (%v)", secs(m), PropagationDelay)
		if err := wait("activate", times.Activated, secs(m)+PropagationDelay, what); err != nil {
			return false, err
		}
		if times.Resigned.IsZero() {
			return false, &RolloverWaitError{Role: role, Step: step, After: "the re-signing with the new ZSK finished", Wait: what, Now: now, Resigning: true}
		}
		return false, wait("the re-signing with the new ZSK finished", times.Resigned, secs(m)+PropagationDelay, what)
	}
	// KSK or CSK retire: CDS/CDNSKEY have named the new key everywhere
	// for a while, and the parent serves its DS.
	if err := wait("activate", times.Activated, secs(cur.KeyTTL)+PropagationDelay, keyWait+" for CDS and CDNSKEY to name the new key"); err != nil {
		return false, err
	}
	ds := newKey.DS(keys.DigestSHA256).String()
	switch {
	case opt.Force:
		// Not asked: a forced retire does not wait for the lookup.
		return false, &ParentDSError{Role: role, DS: ds, Unverified: true, Err: errors.New("not checked (forced)")}
	case opt.CheckParentDS == nil:
		return false, &ParentDSError{Role: role, DS: ds, Unverified: true, Err: errors.New("no resolver to check it with")}
	}
	found, cerr := opt.CheckParentDS(ctx, cur.Origin, newKey.DNSKEY)
	if cerr != nil {
		return false, &ParentDSError{Role: role, DS: ds, Unverified: true, Err: cerr}
	}
	if !found.Names {
		return false, &ParentDSError{Role: role, DS: ds}
	}
	if times.ParentDSSeen.IsZero() {
		// First seen now: resolvers may hold the DS RRset of before for
		// its TTL from now on (it may have changed earlier; that is not
		// known here).
		t := *times
		t.ParentDSSeen = now
		t.ParentDSTTL = uint32(max(found.TTL, 0) / time.Second)
		next.Rollover = &t
		times = &t
		record = true
	}
	dsTTL := secs(times.ParentDSTTL)
	return record, wait("the parent's DS was first seen naming the new key", times.ParentDSSeen, dsTTL+ParentPropagationDelay,
		fmt.Sprintf("the parent's DS TTL (%v) plus the parent's propagation delay (%v)", dsTTL, ParentPropagationDelay))
}

// rolloverNext says what the operator must do after step, in words.
func (z *Zone) rolloverNext(role KeyRole, step RolloverStep, s *zoneSettings, newKey *keys.Key) (string, time.Time) {
	now := z.now()
	anchors := filepath.Join(z.dir, AnchorsFile)
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch {
	case role == RoleZSK && step == Prepublish:
		t := now.Add(secs(s.KeyTTL) + PropagationDelay)
		return fmt.Sprintf("the new ZSK is published and signs nothing yet; activate it at %s or later (the DNSKEY TTL plus the propagation delay)", at(t)), t
	case role == RoleZSK && step == Activate:
		// The background re-signing replaces a signature per RRset and
		// NSEC3 record at the re-signing rate.
		z.mu.RLock()
		work := z.rrsetCount.Load() + int64(z.chain.n)
		z.mu.RUnlock()
		dsgn := time.Duration(work) * time.Second / time.Duration(z.resignRate())
		t := now.Add(dsgn + secs(z.maxDataTTL()) + PropagationDelay)
		return fmt.Sprintf("the new ZSK signs what changes; the rest of the zone is signed again with it in the background, at %d signatures/s (about %v), the old ZSK's signatures served until replaced; retire the old one at %s or later (the re-signing, then the largest TTL in the zone plus the propagation delay)", z.resignRate(), dsgn.Round(time.Second), at(t)), t
	case role == RoleZSK:
		return "the ZSK rollover is complete; nothing to do at the parent or at validators", time.Time{}
	case step == Prepublish:
		t := now.Add(secs(s.KeyTTL) + PropagationDelay)
		return fmt.Sprintf("reload validators that use a static copy of %s now (it lists both keys); validators with automatic anchors for this zone (RFC 5011) trust the new key only after their hold-down time (30 days): do not retire before; activate at %s or later (the DNSKEY TTL plus the propagation delay)", anchors, at(t)), t
	case step == Activate:
		t := now.Add(secs(s.KeyTTL) + PropagationDelay)
		return fmt.Sprintf("publish this DS at the parent now: %s (CDS and CDNSKEY name the new key for parents that poll them, RFC 7344); retire once the parent serves it and its TTL has passed, at %s at the earliest: retire checks the parent's DS and says when", newKey.DS(keys.DigestSHA256), at(t)), t
	}
	return fmt.Sprintf("reload validators that use a static copy of %s now: they still trust only the old key, which is gone, and fail to validate the zone until they load the new one; the parent's DS must name only the new key (remove the old DS there if it is still published)", anchors), time.Time{}
}
