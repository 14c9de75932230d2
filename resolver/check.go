package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Problem says why a zone checked by CheckZones cannot be validated, in
// terms of what an operator changes.
type Problem uint8

const (
	// ProblemNone: the zone's keys validate as Secure.
	ProblemNone Problem = iota
	// ProblemUnreachable: the upstream gave no usable answer about the
	// zone (no response, a timeout, SERVFAIL). This may pass: check again
	// later rather than give up.
	ProblemUnreachable
	// ProblemNoAnchor: no trust anchor leads to the zone through this
	// upstream. None covers it, or the anchor's zone cannot be fetched
	// through the upstream, or its keys are not the anchor's.
	ProblemNoAnchor
	// ProblemInsecure: the chain from the anchor proves the zone unsigned
	// (no DS at its parent) or signed only with algorithms this resolver
	// does not validate.
	ProblemInsecure
	// ProblemNoSignatures: the upstream's answers carry no RRSIG records
	// although the zone should be signed: it strips them, or does not
	// pass DNSSEC records on (RFC 4035 §3.2.1).
	ProblemNoSignatures
	// ProblemNotValidated: with Config.TrustAD, the upstream does not set
	// the AD bit for the zone: it does not validate it (it has no trust
	// anchor for it).
	ProblemNotValidated
	// ProblemBogus: the zone's signatures or its chain of trust fail.
	ProblemBogus
)

// String returns a lower-case name: "ok", "unreachable", "no-anchor",
// "insecure", "no-signatures", "not-validated", "bogus".
func (p Problem) String() string {
	switch p {
	case ProblemNone:
		return "ok"
	case ProblemUnreachable:
		return "unreachable"
	case ProblemNoAnchor:
		return "no-anchor"
	case ProblemInsecure:
		return "insecure"
	case ProblemNoSignatures:
		return "no-signatures"
	case ProblemNotValidated:
		return "not-validated"
	case ProblemBogus:
		return "bogus"
	}
	return fmt.Sprintf("Problem(%d)", uint8(p))
}

// ZoneCheck is what CheckZones found for one zone.
type ZoneCheck struct {
	// Zone is the zone the names live in, fully qualified; when the
	// upstream could not be asked, the first name itself.
	Zone string
	// Names are the names given to CheckZones that live in Zone.
	Names []string
	// Status is the DNSSEC status of Zone's SOA record, and so of its
	// keys and their chain, as this resolver sees it: Secure when names in
	// the zone can be validated.
	Status Status
	// Problem classifies a Status other than Secure.
	Problem Problem
	// Reason says what failed; nil when Secure.
	Reason *Reason
}

// OK reports whether the zone validates as Secure.
func (c ZoneCheck) OK() bool { return c.Problem == ProblemNone }

// Err returns nil for a Secure zone, else a *ZoneError.
func (c ZoneCheck) Err() error {
	if c.OK() {
		return nil
	}
	return &ZoneError{Check: c}
}

// ZoneError is the error of a zone that does not validate as Secure.
type ZoneError struct{ Check ZoneCheck }

func (e *ZoneError) Error() string {
	c := e.Check
	s := fmt.Sprintf("zone %s (%s): %s", strings.TrimSuffix(c.Zone, "."), strings.Join(c.Names, ", "), c.Problem)
	if c.Reason != nil {
		s += ": " + c.Reason.String()
	}
	return s
}

// CheckZones finds the zone of each of names (through an SOA query) and
// checks that its SOA record and keys validate as Secure with this resolver's
// upstreams, anchors and TrustAD setting, so that a configuration that
// cannot validate those names is found before any of them is looked up.
// Names in one zone are checked once; the result holds one ZoneCheck per
// zone, in the order the names first met it. Use it at start and after a
// reload; a zone with ProblemUnreachable is worth checking again later, any
// other problem is the configuration's.
func (r *Resolver) CheckZones(ctx context.Context, names []string) []ZoneCheck {
	var out []ZoneCheck
	index := map[string]int{}
	for _, n := range names {
		name := dns.CanonicalName(n)
		if _, ok := dns.IsDomainName(name); !ok {
			out = append(out, ZoneCheck{Zone: name, Names: []string{n}, Problem: ProblemBogus,
				Reason: reasonf(EDEOther, "", "%q is not a domain name", n)})
			continue
		}
		zone, sigs, err := r.zoneOf(ctx, name)
		if err != nil {
			out = append(out, ZoneCheck{Zone: name, Names: []string{n}, Problem: ProblemUnreachable,
				Reason: reasonf(EDENetworkError, "", "SOA query for %s: %v", name, err)})
			continue
		}
		if i, ok := index[zone]; ok {
			out[i].Names = append(out[i].Names, n)
			continue
		}
		c := r.checkZone(ctx, zone, sigs)
		c.Names = []string{n}
		index[zone] = len(out)
		out = append(out, c)
	}
	return out
}

// probe asks the upstream with DO and CD set and does not validate: what
// the upstream serves, signatures included.
func (r *Resolver) probe(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	q.CheckingDisabled = true
	q.SetEdns0(ednsBufferSize, true)
	return r.client.exchange(ctx, q)
}

// zoneOf returns the zone that holds name (the owner of the SOA record an
// SOA query answers with, or that its denial carries) and whether the
// answer carried signatures.
func (r *Resolver) zoneOf(ctx context.Context, name string) (string, bool, error) {
	msg, err := r.probe(ctx, name, dns.TypeSOA)
	if err != nil {
		return "", false, err
	}
	zone, sigs := "", false
	for _, sec := range [][]dns.RR{msg.Answer, msg.Ns} {
		for _, rr := range sec {
			switch x := rr.(type) {
			case *dns.SOA:
				if zone == "" && dns.IsSubDomain(x.Hdr.Name, name) {
					zone = dns.CanonicalName(x.Hdr.Name)
				}
			case *dns.RRSIG:
				if x.TypeCovered == dns.TypeSOA {
					sigs = true
				}
			}
		}
	}
	if zone == "" {
		return "", false, fmt.Errorf("the answer names no zone for %s (no SOA record)", name)
	}
	return zone, sigs, nil
}

// checkZone validates zone's SOA record (and so its keys) and classifies a failure; sigs
// says whether the upstream's SOA answer carried signatures.
func (r *Resolver) checkZone(ctx context.Context, zone string, sigs bool) ZoneCheck {
	c := ZoneCheck{Zone: zone}
	// The SOA is signed with the zone's keys, so its validation takes the
	// DNSKEY RRset and the chain above it too.
	res, err := r.Lookup(ctx, zone, dns.TypeSOA)
	if err != nil {
		c.Problem = ProblemUnreachable
		if errors.Is(err, ErrOverloaded) {
			c.Reason = reasonf(EDEOther, zone, "%v", err)
		} else {
			c.Reason = reasonf(EDENetworkError, zone, "%v", err)
		}
		return c
	}
	c.Status, c.Reason = res.Status, res.Reason
	switch res.Status {
	case Secure:
		c.Problem = ProblemNone
	case Insecure:
		// Validated locally, Insecure is proven by signed data from the
		// anchor down: the zone is unsigned, not stripped (stripping
		// makes the chain Bogus).
		c.Problem = ProblemInsecure
		if r.cfg.TrustAD {
			c.Problem = ProblemNotValidated
		}
	case Bogus:
		an := r.cfg.Anchors.closest(zone)
		switch {
		case !sigs && !r.cfg.TrustAD:
			c.Problem = ProblemNoSignatures
			c.Reason = reasonf(EDERRSIGsMissing, zone, "the upstream's answers for %s carry no signatures (%s)", zone, res.Reason)
		case !r.cfg.TrustAD && an != nil && res.Reason != nil && res.Reason.Zone == an.zone && res.Reason.Code == EDEDNSKEYMissing:
			// The anchor's zone answers with other keys: the anchor is
			// not this zone's (a private hierarchy checked against the
			// root's keys, or a stale anchor).
			c.Problem = ProblemNoAnchor
		default:
			c.Problem = ProblemBogus
		}
	default:
		c.Problem, c.Reason = r.indeterminate(ctx, zone, res.Reason)
	}
	return c
}

// indeterminate classifies an Indeterminate SOA lookup for zone, whose
// SOA the upstream did serve. No anchor covering it is the configuration's
// problem; so is an anchor whose own zone the upstream cannot serve (a
// resolver of a private zone that cannot reach the root, say). Anything
// else may be an outage between the two.
func (r *Resolver) indeterminate(ctx context.Context, zone string, reason *Reason) (Problem, *Reason) {
	if r.cfg.TrustAD {
		return ProblemUnreachable, reason
	}
	an := r.cfg.Anchors.closest(zone)
	if an == nil {
		return ProblemNoAnchor, reason
	}
	if an.zone == zone {
		return ProblemUnreachable, reason
	}
	if _, err := r.probe(ctx, an.zone, dns.TypeDNSKEY); err != nil {
		return ProblemNoAnchor, reasonf(EDEDNSSECIndeterminate, an.zone,
			"the upstream serves %s but not the DNSKEY records of the trust anchor's zone %s: %v", zone, an.zone, err)
	}
	return ProblemUnreachable, reason
}
