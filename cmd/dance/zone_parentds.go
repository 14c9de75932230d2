package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/zone"
)

// parentDSFlags configure how `zone serve` checks the parent's DS before a
// KSK or CSK retire: through a validating resolver, like dance lookup.
type parentDSFlags struct {
	upstreams cli.StringList
	anchors   string
}

const parentDSHelp = `Before a KSK or CSK retire (dance zone rollover), the server checks that the
parent's DS RRset names the new key: it asks --parent-resolver (default: the
nameservers of /etc/resolv.conf) and validates the answer from the IANA root
keys, plus --parent-anchors for a parent outside the public DNS. A parent that
cannot be reached or validated refuses the retire; only --force takes it then.`

func (f *parentDSFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.upstreams, "parent-resolver", "DNS server `ADDR` to ask for the zone's DS at its parent before a KSK or CSK retire (repeatable; default: /etc/resolv.conf)")
	fs.StringVar(&f.anchors, "parent-anchors", "", "trust anchors `FILE` (DS or DNSKEY lines) for validating the parent's DS, added to the root keys")
}

// checker returns the zone.ParentDSChecker of the flags. The anchors are
// read now, so a bad file is a usage error at start.
func (f *parentDSFlags) checker(env *cli.Env) (zone.ParentDSChecker, error) {
	rf := resolverFlags{upstreams: f.upstreams, anchors: f.anchors, minTTL: time.Second}
	if _, err := rf.newResolver(env); err != nil {
		return nil, err
	}
	return func(ctx context.Context, origin string, key *dns.DNSKEY) (zone.ParentDS, error) {
		// A resolver of its own for each check: a cached answer from
		// before the parent's change must not hide it for the DS TTL.
		r, err := rf.newResolver(env)
		if err != nil {
			return zone.ParentDS{}, err
		}
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		return parentDS(ctx, r, origin, key)
	}, nil
}

// parentDS looks up the DS RRset of origin through r and reports whether
// it names key. Only a Secure answer counts: an insecure, bogus or
// indeterminate one is an error (the parent cannot be validated).
func parentDS(ctx context.Context, r *resolver.Resolver, origin string, key *dns.DNSKEY) (zone.ParentDS, error) {
	res, err := r.Lookup(ctx, origin, dns.TypeDS)
	if err != nil {
		return zone.ParentDS{}, fmt.Errorf("DS lookup for %s: %w", origin, err)
	}
	if err := res.Err(); err != nil {
		return zone.ParentDS{}, fmt.Errorf("DS lookup for %s: %w", origin, err)
	}
	var out zone.ParentDS
	for _, rr := range res.Records {
		ds, ok := rr.(*dns.DS)
		if !ok {
			continue
		}
		out.TTL = max(out.TTL, time.Duration(ds.Hdr.Ttl)*time.Second)
		if zone.DSNamesKey(ds, key) {
			out.Names = true
		}
	}
	// A cache counts the TTL down; the signature keeps the parent's.
	if res.Msg != nil {
		for _, rr := range res.Msg.Answer {
			if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == dns.TypeDS {
				out.TTL = max(out.TTL, time.Duration(sig.OrigTtl)*time.Second)
			}
		}
	}
	return out, nil
}
