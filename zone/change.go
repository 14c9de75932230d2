package zone

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// Change is one provisioning step at one name, as the admin API and bulk
// import express them. Its Mode says what it does at the name:
//
//   - change.Add (or zero) adds the records to the RRsets at the name;
//     refused at a revoked name (ErrRevoked);
//   - change.Replace replaces every identity record at the name with the
//     records given (none: remove the identity); at a revoked name it
//     lifts the revocation;
//   - change.Remove removes every identity record at the name (a
//     revocation marker included: see Zone.Revoke).
type Change struct {
	Mode    change.Mode
	Name    string
	Records []dns.RR
}

// ParseRecord builds an identity record from its parts: owner, type
// mnemonic (TLSA, SMIMEA, OPENPGPKEY, SSHFP), presentation RDATA, and TTL
// (0: the zone's default). Only the characters of hex and base64 RDATA and
// spaces are accepted, so the data cannot smuggle zone-file syntax.
func (z *Zone) ParseRecord(name, typ, data string, ttl uint32) (dns.RR, error) {
	t, ok := dns.StringToType[strings.ToUpper(strings.TrimSpace(typ))]
	if !ok || !IsIdentityType(t) {
		return nil, updateErr(dns.RcodeRefused, "type %q is not an identity type (TLSA, SMIMEA, OPENPGPKEY, SSHFP)", typ)
	}
	if _, ok := dns.IsDomainName(name); !ok || name == "" || strings.ContainsAny(name, " \t\n\r;()\"\\$") {
		return nil, updateErr(dns.RcodeFormatError, "invalid name %q", name)
	}
	for _, c := range data {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '/' || c == '=' || c == ' ') {
			return nil, updateErr(dns.RcodeFormatError, "record data has character %q", c)
		}
	}
	if ttl == 0 {
		ttl = z.settings.TTL
	}
	if rr, ok := parseAssociation(name, t, ttl, data); ok {
		return rr, nil
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(name), ttl, dns.TypeToString[t], data))
	if err != nil || rr == nil {
		return nil, updateErr(dns.RcodeFormatError, "%s %s: bad record data: %v", name, dns.TypeToString[t], err)
	}
	return rr, nil
}

// parseAssociation is ParseRecord's short way for TLSA and SMIMEA
// records, which a bulk import brings a million of: their presentation
// RDATA "usage selector matching-type data" (RFC 6698 §2.2, RFC 8162 §2)
// read without the zone-file parser, into the record dns.NewRR would
// make of it (TestParseAssociation holds it to that). It reports false
// for other types, owner names with characters other than letters,
// digits, '-', '_', '*' and '.', and data it does not read; those take
// the long way, which also makes their error messages.
func parseAssociation(name string, t uint16, ttl uint32, data string) (dns.RR, bool) {
	if t != dns.TypeTLSA && t != dns.TypeSMIMEA {
		return nil, false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*' || c == '.') {
			return nil, false
		}
	}
	f := strings.Fields(data)
	if len(f) < 4 {
		return nil, false
	}
	var u [3]uint8
	for i := range u {
		v, err := strconv.ParseUint(f[i], 10, 8)
		if err != nil {
			return nil, false
		}
		u[i] = uint8(v)
	}
	hdr := dns.RR_Header{Name: dns.Fqdn(name), Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	cert := strings.Join(f[3:], "")
	if t == dns.TypeSMIMEA {
		return &dns.SMIMEA{Hdr: hdr, Usage: u[0], Selector: u[1], MatchingType: u[2], Certificate: cert}, true
	}
	return &dns.TLSA{Hdr: hdr, Usage: u[0], Selector: u[1], MatchingType: u[2], Certificate: cert}, true
}

// Apply makes changes in one durable transaction: all of them or, on the
// first invalid one, none. It returns the serial after the changes.
func (z *Zone) Apply(changes []Change) (uint32, error) {
	total := 0
	for _, c := range changes {
		total += len(c.Records)
	}
	if total > MaxApplyRRs {
		return 0, updateErr(dns.RcodeRefused, "%d records in one batch (limit %d)", total, MaxApplyRRs)
	}
	return z.change(func(v *view) error {
		for i, c := range changes {
			name := dns.CanonicalName(c.Name)
			if err := z.checkOwner(name); err != nil {
				return fmt.Errorf("change %d: %w", i+1, err)
			}
			mode := c.Mode
			if mode == 0 {
				mode = change.Add
			}
			if mode != change.Add && mode != change.Replace && mode != change.Remove {
				return updateErr(dns.RcodeRefused, "change %d: unknown mode %s", i+1, mode)
			}
			if mode == change.Replace || mode == change.Remove {
				for _, t := range v.typesAt(name) {
					if IsIdentityType(t) {
						if err := v.set(name, t, nil); err != nil {
							return err
						}
					}
				}
			}
			if mode == change.Remove {
				continue
			}
			if mode == change.Add && holdsMarker(v.get(name, dns.TypeTLSA)) {
				return &UpdateError{Rcode: dns.RcodeRefused, Err: ErrRevoked,
					Reason: fmt.Sprintf("change %d: %s is revoked; replacing its records lifts the revocation", i+1, name)}
			}
			for _, rr := range c.Records {
				h := rr.Header()
				if dns.CanonicalName(h.Name) != name {
					return updateErr(dns.RcodeFormatError, "change %d: record owner %s is not %s", i+1, h.Name, name)
				}
				if h.Class != dns.ClassINET || !IsIdentityType(h.Rrtype) {
					return updateErr(dns.RcodeRefused, "change %d: %s %s is not an identity record", i+1, name, dns.TypeToString[h.Rrtype])
				}
				if err := z.applyOne(v, rr, Policy{}); err != nil {
					return err
				}
			}
		}
		return v.checkMarkers()
	})
}

// Identity is the identity records at one name.
type Identity struct {
	Name    string
	Records []dns.RR
}

// Identities returns the identity records at names at or below under, in
// canonical order, starting after the name after (""), at most limit
// names (0: all).
func (z *Zone) Identities(under, after string, limit int) []Identity {
	names := z.identityNames(under, 0)
	var out []Identity
	z.mu.RLock()
	defer z.mu.RUnlock()
	if after != "" {
		after = dns.CanonicalName(after)
	}
	for _, n := range names {
		if after != "" && !canonicalLess(after, n) {
			continue
		}
		node := z.names[n]
		if node == nil {
			continue
		}
		id := Identity{Name: n}
		for _, t := range node.types() {
			if IsIdentityType(t) {
				id.Records = append(id.Records, node.rrs(t)...)
			}
		}
		out = append(out, id)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}
