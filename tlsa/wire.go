package tlsa

import (
	"encoding/hex"
	"fmt"

	"github.com/miekg/dns"
)

// FromDNS converts a TLSA resource record of the DNS library into a Record
// and checks its association data. Callers matching an RRset may drop
// records that fail here: Match ignores malformed records anyway.
func FromDNS(rr *dns.TLSA) (Record, error) {
	if rr == nil {
		return Record{}, fmt.Errorf("tlsa: nil record: %w", ErrSyntax)
	}
	d, err := hex.DecodeString(rr.Certificate)
	if err != nil {
		return Record{}, &DataError{Reason: DataNotHex}
	}
	r := Record{Usage: Usage(rr.Usage), Selector: Selector(rr.Selector), MatchingType: MatchingType(rr.MatchingType), Data: d}
	if err := r.checkData(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// ToDNS returns r as a TLSA resource record owned by owner (made fully
// qualified) with the given TTL, in class IN.
func (r Record) ToDNS(owner string, ttl uint32) *dns.TLSA {
	return &dns.TLSA{
		Hdr: dns.RR_Header{
			Name:   dns.Fqdn(owner),
			Rrtype: dns.TypeTLSA,
			Class:  dns.ClassINET,
			Ttl:    ttl,
		},
		Usage:        uint8(r.Usage),
		Selector:     uint8(r.Selector),
		MatchingType: uint8(r.MatchingType),
		Certificate:  hex.EncodeToString(r.Data),
	}
}
