// Package publish pushes an identity's records to any authoritative DNS
// server that takes RFC 2136 updates (this project's zone server, Knot,
// BIND, PowerDNS), authenticated with TSIG.
//
// Start with Publish.
package publish

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// DefaultTimeout bounds each exchange with the server.
const DefaultTimeout = 10 * time.Second

// Request is one publication.
type Request struct {
	// Server is the primary's address, host:port.
	Server string
	// Key signs the update; nil sends it unsigned (most servers refuse).
	Key *tsigkey.Key
	// Zone is the zone to update; "" finds it with an SOA query at Server.
	Zone string
	// Name is the identity's owner name.
	Name string
	// Records are the records at Name (owner names must equal Name).
	Records []dns.RR
	// Types are the types Remove deletes when Records is empty; nil means
	// TLSA.
	Types []uint16
	// Mode says what Publish does with the records at the name:
	//   - change.Replace (or zero) deletes the RRsets of the records' types
	//     at the name and adds the records, in one update (a key rollover
	//     or a first publication);
	//   - change.Add adds the records, keeping what is there;
	//   - change.Remove deletes the given records or, with no records, the
	//     RRsets of Types at the name (revocation, unless a wildcard covers
	//     the name: see Revoke).
	Mode change.Mode
	// Timeout per exchange; zero means DefaultTimeout.
	Timeout time.Duration
}

// Result says what the server did.
type Result struct {
	Zone string
	// StillAnswered, after a Remove of every TLSA record at the name, are
	// the TLSA records the server answers for the name all the same: a
	// wildcard's (RFC 4592), which still authenticate whoever they match
	// there. Publishing tlsa.RevocationMarker at the name (Revoke) shadows
	// the wildcard.
	StillAnswered []dns.RR
	// CheckErr is why StillAnswered could not be found out, if so.
	CheckErr error
}

// ErrUnsignedResponse is returned when the answer to a signed update
// carries no TSIG: it is discarded (RFC 8945 §5.3), and whether the update
// was applied is unknown.
var ErrUnsignedResponse = errors.New("answer to a signed update is not signed (discarded, RFC 8945 §5.3); the update may or may not have been applied")

// RcodeError is a refusal by the server, with its response code.
type RcodeError struct {
	Rcode int
	// TSIGError is the TSIG error code (BADKEY, BADSIG, ...) if any.
	TSIGError uint16
}

func (e *RcodeError) Error() string {
	s := fmt.Sprintf("publish: server answered %s", dns.RcodeToString[e.Rcode])
	if e.TSIGError != 0 {
		s += fmt.Sprintf(" (TSIG error %s)", dns.RcodeToString[int(e.TSIGError)])
	}
	return s
}

func (r *Request) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultTimeout
}

// Publish sends the update and returns once the server has accepted it.
func Publish(ctx context.Context, req Request) (*Result, error) {
	if _, _, err := net.SplitHostPort(req.Server); err != nil {
		return nil, fmt.Errorf("publish: server %q: want host:port", req.Server)
	}
	if _, ok := dns.IsDomainName(req.Name); !ok || req.Name == "" {
		return nil, fmt.Errorf("publish: invalid name %q", req.Name)
	}
	name := dns.CanonicalName(req.Name)
	for _, rr := range req.Records {
		if dns.CanonicalName(rr.Header().Name) != name {
			return nil, fmt.Errorf("publish: record %s is not at %s", rr.Header().Name, name)
		}
	}
	mode := req.Mode
	if mode == 0 {
		mode = change.Replace
	}
	if mode != change.Remove && len(req.Records) == 0 {
		return nil, errors.New("publish: no records")
	}
	zone := req.Zone
	if zone == "" {
		z, err := findZone(ctx, req, name)
		if err != nil {
			return nil, err
		}
		zone = z
	}
	zone = dns.CanonicalName(zone)
	if !dns.IsSubDomain(zone, name) {
		return nil, fmt.Errorf("publish: %s is not in zone %s", name, zone)
	}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	switch mode {
	case change.Replace:
		seen := map[uint16]bool{}
		for _, rr := range req.Records {
			t := rr.Header().Rrtype
			if !seen[t] {
				seen[t] = true
				m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET}}})
			}
		}
		m.Insert(req.Records)
	case change.Add:
		m.Insert(req.Records)
	case change.Remove:
		if len(req.Records) > 0 {
			m.Remove(req.Records)
		} else {
			types := req.Types
			if len(types) == 0 {
				types = []uint16{dns.TypeTLSA}
			}
			for _, t := range types {
				m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET}}})
			}
		}
	default:
		return nil, fmt.Errorf("publish: unknown mode %s", req.Mode)
	}
	r, err := exchange(ctx, req, m)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, rcodeError(r)
	}
	res := &Result{Zone: zone}
	if mode == change.Remove && len(req.Records) == 0 && (len(req.Types) == 0 || slices.Contains(req.Types, dns.TypeTLSA)) {
		res.StillAnswered, res.CheckErr = answered(ctx, req, name)
	}
	return res, nil
}

// Revoke returns the records of a revocation of name: tlsa.RevocationMarker
// alone, which a Replace publishes instead of the name's TLSA records.
// Unlike a Remove it holds when a wildcard covers the name (RFC 4592
// §2.2.2: a name that owns records is not answered from a wildcard).
func Revoke(name string, ttl uint32) ([]dns.RR, error) {
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN TLSA %s", dns.Fqdn(name), ttl, tlsa.RevocationMarker))
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return []dns.RR{rr}, nil
}

// answered asks the server for the TLSA records of name, without
// recursion, and returns those the answer holds for name.
func answered(ctx context.Context, req Request, name string) ([]dns.RR, error) {
	r, err := ask(ctx, req, name, dns.TypeTLSA)
	if err != nil {
		return nil, fmt.Errorf("publish: asking for %s TLSA after the removal: %w", name, err)
	}
	var out []dns.RR
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == dns.TypeTLSA && dns.CanonicalName(rr.Header().Name) == name {
			out = append(out, rr)
		}
	}
	return out, nil
}

// ask sends the server an unsigned query for name and qtype over TCP,
// without recursion: the server answers from its own zone.
func ask(ctx context.Context, req Request, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	c := &dns.Client{Net: "tcp", Timeout: req.timeout()}
	ctx, cancel := context.WithTimeout(ctx, req.timeout())
	defer cancel()
	r, _, err := c.ExchangeContext(ctx, m, req.Server)
	return r, err
}

func rcodeError(r *dns.Msg) error {
	e := &RcodeError{Rcode: r.Rcode}
	if t := r.IsTsig(); t != nil {
		e.TSIGError = t.Error
	}
	return e
}

// exchange sends m over TCP, signed when the request has a key. The
// response's TSIG is verified, except on NOTAUTH: RFC 8945 §5.3.2 error
// responses are unsigned, and the error code is what the caller needs.
func exchange(ctx context.Context, req Request, m *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, req.timeout())
	defer cancel()
	c := &dns.Client{Net: "tcp", Timeout: req.timeout()}
	conn, err := c.DialContext(ctx, req.Server)
	if err != nil {
		return nil, fmt.Errorf("publish: %s: %w", req.Server, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if req.Key != nil {
		m.SetTsig(req.Key.Name, req.Key.WireAlgorithm(), 300, time.Now().Unix())
		conn.TsigProvider = tsigkey.NewProvider(req.Key)
	}
	if err := conn.WriteMsg(m); err != nil {
		return nil, fmt.Errorf("publish: %s: %w", req.Server, err)
	}
	r, err := conn.ReadMsg()
	if r != nil && r.Rcode == dns.RcodeNotAuth {
		return r, nil // unsigned by design; only its codes are used
	}
	if err != nil {
		return nil, fmt.Errorf("publish: %s: %w", req.Server, err)
	}
	if r.Id != m.Id {
		return nil, fmt.Errorf("publish: %s: response ID mismatch", req.Server)
	}
	if req.Key != nil && r.IsTsig() == nil {
		// RFC 8945 §5.3: an unsigned answer to a signed request is
		// discarded. The dns library verifies a TSIG that is present and
		// accepts an answer without one, which anyone on the path could
		// forge: a dropped revocation would be reported as done.
		return nil, fmt.Errorf("publish: %s: %w", req.Server, ErrUnsignedResponse)
	}
	return r, nil
}

// findZone asks the server for the SOA of name: the owner of the SOA in
// the answer or authority section is the zone's apex.
func findZone(ctx context.Context, req Request, name string) (string, error) {
	r, err := ask(ctx, req, name, dns.TypeSOA)
	if err != nil {
		return "", fmt.Errorf("publish: finding the zone of %s: %w", name, err)
	}
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(soa.Hdr.Name, name) {
				return soa.Hdr.Name, nil
			}
		}
	}
	return "", fmt.Errorf("publish: %s is not authoritative for %s (%s, no SOA); give the zone", req.Server, name, dns.RcodeToString[r.Rcode])
}
