package dnstest

import (
	"context"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

func (h *Hierarchy) handler(network string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		h.queries.Add(1)
		if h.cfg.Hold != nil {
			<-h.cfg.Hold
		}
		resp := h.answer(r)
		if h.cfg.SetAD && !r.CheckingDisabled && resp.Rcode == dns.RcodeSuccess {
			resp.AuthenticatedData = true
		}
		if network == "udp" {
			size := dns.MinMsgSize
			if o := r.IsEdns0(); o != nil {
				size = int(o.UDPSize())
			}
			if h.cfg.TruncateUDP {
				resp.Answer, resp.Ns, resp.Extra = nil, nil, nil
				resp.Truncated = true
			} else {
				resp.Truncate(size)
			}
		}
		_ = w.WriteMsg(resp)
	}
}

// Exchange answers q in-process, as the server would (without Hold):
// for benchmarks and tests that want no sockets. It has the signature of
// resolver.Config.Exchange.
func (h *Hierarchy) Exchange(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
	h.queries.Add(1)
	resp := h.answer(q)
	if h.cfg.SetAD && !q.CheckingDisabled && resp.Rcode == dns.RcodeSuccess {
		resp.AuthenticatedData = true
	}
	// A copy: the caller may modify what it gets.
	return resp.Copy(), nil
}

// answer builds the response to r from the deepest zone holding the name.
func (h *Hierarchy) answer(r *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(r)
	resp.RecursionAvailable = true
	if len(r.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	q := r.Question[0]
	do := false
	if o := r.IsEdns0(); o != nil {
		do = o.Do()
		resp.SetEdns0(1232, do)
	}
	name := dns.CanonicalName(q.Name)
	z := h.zoneOf(name, q.Qtype == dns.TypeDS)
	if z == nil || q.Qclass != dns.ClassINET {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	z.respond(resp, name, q.Qtype, do)
	if !do || z.opts.Fault == StripSignatures {
		resp.Answer = stripSigs(resp.Answer, !do, z.name)
		resp.Ns = stripSigs(resp.Ns, !do, z.name)
	}
	if z.opts.Fault == BrokenDenial {
		var ns []dns.RR
		for _, rr := range resp.Ns {
			t := rr.Header().Rrtype
			if s, ok := rr.(*dns.RRSIG); ok {
				t = s.TypeCovered
			}
			if t != dns.TypeNSEC && t != dns.TypeNSEC3 {
				ns = append(ns, rr)
			}
		}
		resp.Ns = ns
	}
	return resp
}

// stripSigs removes DNSSEC records: all of them when all is true (no DO
// bit), otherwise the RRSIGs made by zone.
func stripSigs(rrs []dns.RR, all bool, zone string) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		switch x := rr.(type) {
		case *dns.RRSIG:
			if all || x.SignerName == zone {
				continue
			}
		case *dns.NSEC, *dns.NSEC3:
			if all {
				continue
			}
		}
		out = append(out, rr)
	}
	return out
}

func (z *zone) rrset(name string, t uint16) []dns.RR {
	out := append([]dns.RR{}, z.data[name][t]...)
	return append(out, z.sigs[name][t]...)
}

func (z *zone) exists(name string) bool { return z.data[name] != nil || z.ents[name] }

// respond fills resp for name/qtype (RFC 1034 §4.3.2, RFC 4035 §3.1).
func (z *zone) respond(resp *dns.Msg, name string, qtype uint16, do bool) {
	if z.data[name] != nil {
		if rrs := z.data[name][qtype]; len(rrs) > 0 && (qtype != dns.TypeNS || name == z.name) {
			resp.Answer = z.rrset(name, qtype)
			return
		}
		if rrs := z.data[name][dns.TypeCNAME]; len(rrs) > 0 {
			resp.Answer = z.rrset(name, dns.TypeCNAME)
			return
		}
		z.nodata(resp, name, qtype)
		return
	}
	if z.ents[name] {
		z.nodata(resp, name, qtype)
		return
	}
	// DNAME substitution (RFC 6672 §3.2): the signed DNAME and an unsigned
	// synthesized CNAME.
	for a := parent(name); dns.IsSubDomain(z.name, a) && a != z.name; a = parent(a) {
		if d := z.data[a][dns.TypeDNAME]; len(d) > 0 {
			target := strings.TrimSuffix(name, a) + d[0].(*dns.DNAME).Target
			resp.Answer = append(z.rrset(a, dns.TypeDNAME), &dns.CNAME{
				Hdr:    dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: d[0].Header().Ttl},
				Target: dns.Fqdn(target)})
			return
		}
	}
	// Closest encloser, then wildcard (RFC 4592 §3.3.1).
	ce := parent(name)
	for !z.exists(ce) && ce != z.name {
		ce = parent(ce)
	}
	wild := "*." + ce
	if z.data[wild] != nil {
		nc := nextCloser(name, ce)
		src := z.data[wild][qtype]
		if len(src) == 0 {
			src = z.data[wild][dns.TypeCNAME]
		}
		if len(src) == 0 {
			// Wildcard NODATA (RFC 4035 §3.1.3.4).
			z.soa(resp)
			resp.Ns = append(resp.Ns, z.match(ce)...)
			resp.Ns = append(resp.Ns, z.cover(name, nc)...)
			resp.Ns = append(resp.Ns, z.match(wild)...)
			resp.Ns = dedup(resp.Ns)
			return
		}
		t := src[0].Header().Rrtype
		for _, rr := range src {
			c := dns.Copy(rr)
			c.Header().Name = name
			resp.Answer = append(resp.Answer, c)
		}
		for _, rr := range z.sigs[wild][t] {
			c := dns.Copy(rr)
			c.Header().Name = name
			resp.Answer = append(resp.Answer, c)
		}
		resp.Ns = append(resp.Ns, z.cover(name, nc)...)
		return
	}
	if z.opts.Denial == Compact {
		// RFC 9824 §3: NOERROR and an NSEC at the name with NXNAME.
		z.soa(resp)
		resp.Ns = append(resp.Ns, z.compactNSEC(name, []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME})...)
		return
	}
	resp.Rcode = dns.RcodeNameError
	z.soa(resp)
	resp.Ns = append(resp.Ns, z.match(ce)...) // NSEC3 closest encloser; nothing for NSEC
	resp.Ns = append(resp.Ns, z.cover(name, nextCloser(name, ce))...)
	resp.Ns = append(resp.Ns, z.cover(wild, wild)...)
	resp.Ns = dedup(resp.Ns)
}

func (z *zone) nodata(resp *dns.Msg, name string, qtype uint16) {
	z.soa(resp)
	switch z.opts.Denial {
	case Compact:
		types := []uint16{dns.TypeRRSIG, dns.TypeNSEC}
		for t := range z.data[name] {
			types = append(types, t)
		}
		sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
		resp.Ns = append(resp.Ns, z.compactNSEC(name, types)...)
	case NSEC:
		if z.nsec[name] != nil {
			resp.Ns = append(resp.Ns, z.rrset(name, dns.TypeNSEC)...)
		} else {
			resp.Ns = append(resp.Ns, z.cover(name, name)...) // empty non-terminal
		}
	case NSEC3:
		if m := z.match(name); len(m) > 0 {
			resp.Ns = append(resp.Ns, m...)
			return
		}
		// Opted-out delegation: closest encloser and covering next closer.
		ce := parent(name)
		for len(z.match(ce)) == 0 && ce != z.name {
			ce = parent(ce)
		}
		resp.Ns = append(resp.Ns, z.match(ce)...)
		resp.Ns = append(resp.Ns, z.cover(nextCloser(name, ce), nextCloser(name, ce))...)
		resp.Ns = dedup(resp.Ns)
	}
}

func (z *zone) soa(resp *dns.Msg) {
	resp.Ns = append(resp.Ns, z.rrset(z.name, dns.TypeSOA)...)
}

// match returns the NSEC3 record (and signature) whose hash is name's; for
// NSEC zones, nothing.
func (z *zone) match(name string) []dns.RR {
	if z.opts.Denial == NSEC {
		if z.nsec[name] != nil && strings.HasPrefix(name, "*.") {
			return z.rrset(name, dns.TypeNSEC)
		}
		return nil
	}
	if z.opts.Denial != NSEC3 {
		return nil
	}
	h := z.hash(name)
	for _, n := range z.nsec3 {
		if strings.EqualFold(strings.SplitN(n.Hdr.Name, ".", 2)[0], h) {
			return append([]dns.RR{n}, z.n3sigs[strings.ToUpper(h)]...)
		}
	}
	return nil
}

// cover returns the record proving name absent: for NSEC the predecessor of
// name, for NSEC3 the record covering the hash of nc.
func (z *zone) cover(name, nc string) []dns.RR {
	switch z.opts.Denial {
	case NSEC:
		prev := z.names[len(z.names)-1]
		for _, n := range z.names {
			if canonicalLess(name, n) {
				break
			}
			prev = n
		}
		return z.rrset(prev, dns.TypeNSEC)
	case NSEC3:
		h := z.hash(nc)
		recs := z.nsec3
		last := recs[len(recs)-1]
		for _, n := range recs {
			if strings.ToUpper(strings.SplitN(n.Hdr.Name, ".", 2)[0]) > h {
				break
			}
			last = n
		}
		owner := strings.ToUpper(strings.SplitN(last.Hdr.Name, ".", 2)[0])
		return append([]dns.RR{last}, z.n3sigs[owner]...)
	}
	return nil
}

// compactNSEC makes and signs the RFC 9824 NSEC for name: next name is the
// immediate successor "\000.name".
func (z *zone) compactNSEC(name string, types []uint16) []dns.RR {
	rec := &dns.NSEC{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 60},
		NextDomain: `\000.` + name, TypeBitMap: types}
	z.mu.Lock()
	defer z.mu.Unlock()
	sig, err := z.sign([]dns.RR{rec})
	if err != nil {
		return []dns.RR{rec}
	}
	return []dns.RR{rec, sig}
}

// nextCloser is the ancestor-or-self of name one label longer than ce.
func nextCloser(name, ce string) string {
	n := name
	for parent(n) != ce && n != "." {
		n = parent(n)
	}
	return n
}

func dedup(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	seen := map[string]bool{}
	for _, rr := range rrs {
		s := rr.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, rr)
		}
	}
	return out
}
