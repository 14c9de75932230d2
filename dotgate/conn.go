package dotgate

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/logtext"
	"github.com/dnsbound/dance/verify"
)

// dnsHeaderLen is the length of a DNS header (RFC 1035 §4.1.1), the
// shortest message.
const dnsHeaderLen = 12

// MaxUpstreamInFlight bounds Config.UpstreamMaxInFlight so that every
// upstream connection always has a free message ID for the next query.
const MaxUpstreamInFlight = 1 << 15

// keepaliveUnit is the unit of the edns-tcp-keepalive TIMEOUT (RFC 7828
// §3.1): 100 milliseconds.
const keepaliveUnit = 100 * time.Millisecond

// clientConn is one authenticated client connection: one reader (the
// goroutine of serveConn) and the goroutines of its queries in flight,
// which write their answers as they come, in any order (RFC 7766
// §6.2.1.1).
type clientConn struct {
	s         *Server
	raw       net.Conn
	tc        *tls.Conn
	subject   string
	wmu       sync.Mutex
	inFlight  chan struct{}
	lastWrite atomic.Int64 // unix nanoseconds of the last answer written
	cut       atomic.Bool  // closed for a slow reader
	wg        sync.WaitGroup
}

// serveConn authenticates one client and answers its queries.
func (s *Server) serveConn(c net.Conn) {
	tc := tls.Server(c, s.tls)
	defer tc.Close()
	remote := c.RemoteAddr().String()
	// The core logs its own refusals, with the client's address, at most
	// once a minute for a name it refused before (verify.RefusalLogInterval).
	ctx, cancel := context.WithTimeout(verify.WithPeerAddr(s.ctx, remote), s.cfg.HandshakeTimeout)
	_ = c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		result := handshakeFailed
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			result = handshakeTimeout
		}
		s.m.handshakes.WithLabelValues(result).Inc()
		var ve *verify.Error
		if !errors.As(err, &ve) && s.ctx.Err() == nil {
			s.log.Info("dotgate: client refused", "addr", remote, "stage", "tls", "reason", result, "err", logtext.Bound(err.Error(), logtext.MaxText))
		}
		return
	}
	id, ok := danetls.IdentityFromConn(tc)
	if !ok {
		s.m.handshakes.WithLabelValues(handshakeFailed).Inc()
		s.log.Info("dotgate: client refused", "addr", remote, "stage", "tls", "reason", "no identity")
		return
	}
	subject := id.Subject()
	if s.policy.Load().Rule(subject) == nil {
		s.m.handshakes.WithLabelValues(handshakeNoRule).Inc()
		// A user authenticated under its domain's CA, but not named on
		// the policy, can come back as fast as it handshakes: one line a
		// minute for its name.
		name := logtext.Bound(subject, logtext.MaxName)
		if ok, suppressed := s.names.Allow(name, s.limit.now()); ok {
			attrs := []any{"addr", remote, "stage", "policy", "identity", name, "reason", "not in the policy"}
			if suppressed > 0 {
				attrs = append(attrs, "suppressed", suppressed)
			}
			s.log.Info("dotgate: client refused", attrs...)
		}
		return
	}
	s.m.handshakes.WithLabelValues(handshakeOK).Inc()
	cc := &clientConn{s: s, raw: c, tc: tc, subject: subject, inFlight: make(chan struct{}, s.cfg.MaxInFlight)}
	cc.lastWrite.Store(time.Now().UnixNano())
	// Answers of queries in flight go out before the connection closes.
	defer cc.wg.Wait()
	for n := 0; n < s.cfg.MaxQueries; n++ {
		buf, reason := cc.readQuery()
		if buf == nil {
			if reason != "" {
				s.m.closed.WithLabelValues(reason).Inc()
			}
			return
		}
		// The verdict holds until the TLSA answer's TTL (or a certificate
		// of the path) runs out: a revoked client cannot keep being answered on
		// an old connection past that.
		if !s.limit.now().Before(id.Expires) {
			s.m.closed.WithLabelValues(closeExpired).Inc()
			return
		}
		resp, fwd := s.answer(subject, buf)
		switch {
		case resp != nil:
			if !cc.write(resp) {
				return
			}
		case fwd != nil:
			// Past MaxInFlight the gate stops reading this connection.
			cc.inFlight <- struct{}{}
			cc.wg.Add(1)
			go func() {
				defer cc.wg.Done()
				defer func() { <-cc.inFlight }()
				cc.write(s.forward(fwd))
			}()
		default:
			s.m.closed.WithLabelValues(closeMalformed).Inc()
			return
		}
	}
	s.m.closed.WithLabelValues(closeMaxQueries).Inc()
}

// readQuery reads the next query, length prefix and message. It returns
// nil and the reason to count (or "" for a client that closed) when the
// connection is to end. The connection is idle (RFC 7766 §6.2.3) when no
// query is in flight and none has arrived for IdleTimeout since the last
// query or answer; a query begun must arrive whole within IdleTimeout,
// or the client is trickling it in and is cut like an idle one.
func (cc *clientConn) readQuery() ([]byte, string) {
	var prefix [2]byte
	idle := cc.s.cfg.IdleTimeout
	_ = cc.raw.SetReadDeadline(time.Now().Add(idle))
	for {
		n, err := io.ReadFull(cc.tc, prefix[:])
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, ""
		}
		if n == 0 {
			if len(cc.inFlight) > 0 {
				_ = cc.raw.SetReadDeadline(time.Now().Add(idle))
				continue
			}
			if last := time.Unix(0, cc.lastWrite.Load()).Add(idle); time.Now().Before(last) {
				_ = cc.raw.SetReadDeadline(last)
				continue
			}
		}
		return nil, closeIdle
	}
	_ = cc.raw.SetReadDeadline(time.Now().Add(idle))
	size := int(binary.BigEndian.Uint16(prefix[:]))
	if size < dnsHeaderLen || size > cc.s.cfg.MaxQuerySize {
		return nil, closeOversize
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(cc.tc, buf); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, closeIdle
		}
		return nil, ""
	}
	return buf, ""
}

// write sends one answer. A client that does not take it within
// IdleTimeout, or a connection that broke, is closed: the reader then
// ends too. It reports whether the answer went out.
func (cc *clientConn) write(r *dns.Msg) bool {
	out, err := r.Pack()
	if err != nil || len(out) > dns.MaxMsgSize {
		cc.s.log.Warn("dotgate: answer not sent", "identity", cc.subject, "err", err, "size", len(out))
		r = &dns.Msg{MsgHdr: r.MsgHdr, Question: r.Question}
		r.Rcode = dns.RcodeServerFailure
		if out, err = r.Pack(); err != nil {
			cc.raw.Close()
			return false
		}
	}
	msg := make([]byte, 2+len(out))
	binary.BigEndian.PutUint16(msg, uint16(len(out)))
	copy(msg[2:], out)
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	_ = cc.raw.SetWriteDeadline(time.Now().Add(cc.s.cfg.IdleTimeout))
	if _, err := cc.tc.Write(msg); err != nil {
		// The writes waiting behind this one fail the same way: the
		// connection is counted once.
		if errors.Is(err, os.ErrDeadlineExceeded) && !cc.cut.Swap(true) {
			cc.s.m.closed.WithLabelValues(closeSlowReader).Inc()
		}
		cc.raw.Close()
		return false
	}
	cc.lastWrite.Store(time.Now().UnixNano())
	return true
}

// answer reads one query from the identity subject. It returns the reply
// to send at once (REFUSED, FORMERR, NOTIMP), or the query to forward, or
// neither when the query cannot be read at all (the connection is closed
// then).
func (s *Server) answer(subject string, wire []byte) (reply, fwd *dns.Msg) {
	q := new(dns.Msg)
	if err := q.Unpack(wire); err != nil {
		// A header that reads as a query gets FORMERR (RFC 1035 §4.1.1);
		// a response, or anything else, is not a query at all.
		if wire[2]&0x80 != 0 {
			return nil, nil
		}
		s.m.queries.WithLabelValues(queryFormErr).Inc()
		r := new(dns.Msg)
		r.Id = binary.BigEndian.Uint16(wire[0:2])
		r.Opcode = int(wire[2]>>3) & 0xF
		r.Response = true
		r.Rcode = dns.RcodeFormatError
		return r, nil
	}
	if q.Response {
		return nil, nil
	}
	refuse := func(rcode int, result string) (*dns.Msg, *dns.Msg) {
		s.m.queries.WithLabelValues(result).Inc()
		r := new(dns.Msg)
		r.SetRcode(q, rcode)
		s.keepalive(q, r)
		return r, nil
	}
	switch {
	case q.Opcode != dns.OpcodeQuery:
		return refuse(dns.RcodeNotImplemented, queryNotImpl)
	case len(q.Question) != 1:
		return refuse(dns.RcodeFormatError, queryFormErr)
	}
	qs := q.Question[0]
	switch {
	case qs.Qclass != dns.ClassINET, qs.Qtype == dns.TypeAXFR, qs.Qtype == dns.TypeIXFR:
		return refuse(dns.RcodeRefused, queryRefusedOther)
	}
	rule := s.policy.Load().Rule(subject)
	if rule == nil || !rule.Allows(qs.Name) {
		return refuse(dns.RcodeRefused, queryRefusedZone)
	}
	// Over the rate the query is REFUSED rather than dropped: dropping
	// (as response rate limiting does on UDP, against spoofed sources)
	// buys nothing on an authenticated TLS connection, whose source is
	// proven, and would leave the client waiting out its timeout while it
	// holds the connection; REFUSED costs the gate less and tells the
	// client at once.
	if !s.limit.allow(rule.Identity, rule.Rate) {
		return refuse(dns.RcodeRefused, queryRefusedRate)
	}
	return nil, q
}

// forward sends q to the upstream and returns its answer, or SERVFAIL.
func (s *Server) forward(q *dns.Msg) *dns.Msg {
	fail := func(err error) *dns.Msg {
		s.m.queries.WithLabelValues(queryUpstreamError).Inc()
		if s.ctx.Err() == nil {
			s.log.Warn("dotgate: upstream", "upstream", s.cfg.Upstream, "err", err)
		}
		r := new(dns.Msg)
		r.SetRcode(q, dns.RcodeServerFailure)
		s.keepalive(q, r)
		return r
	}
	// The keepalive option is of the client's connection (RFC 7828 §3.2:
	// hop by hop), not the upstream's.
	up := q.Copy()
	stripKeepalive(up)
	wire, err := up.Pack()
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.UpstreamTimeout)
	defer cancel()
	a, err := s.up.exchange(ctx, wire)
	if err != nil {
		return fail(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(a); err != nil {
		return fail(err)
	}
	// RFC 7766 §7: the answer is matched by ID and question, not by
	// order; one for another question is not this query's.
	if !r.Response || len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, q.Question[0].Name) ||
		r.Question[0].Qtype != q.Question[0].Qtype || r.Question[0].Qclass != q.Question[0].Qclass {
		return fail(errors.New("the upstream answered another question"))
	}
	stripKeepalive(r)
	s.keepalive(q, r)
	s.m.queries.WithLabelValues(queryForwarded).Inc()
	return r
}

// keepalive adds to r the gate's idle timeout in an edns-tcp-keepalive
// option when the client's query q carries the option (RFC 7828 §3.2.2),
// so that the client knows how long it may keep the connection unused.
func (s *Server) keepalive(q, r *dns.Msg) {
	qo := q.IsEdns0()
	if qo == nil {
		return
	}
	asked := false
	for _, o := range qo.Option {
		if o.Option() == dns.EDNS0TCPKEEPALIVE {
			asked = true
		}
	}
	if !asked {
		return
	}
	ro := r.IsEdns0()
	if ro == nil {
		r.SetEdns0(qo.UDPSize(), qo.Do())
		ro = r.IsEdns0()
	}
	t := min(s.cfg.IdleTimeout/keepaliveUnit, 0xFFFF)
	ro.Option = append(ro.Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: uint16(t)})
}

// stripKeepalive removes edns-tcp-keepalive options from m.
func stripKeepalive(m *dns.Msg) {
	o := m.IsEdns0()
	if o == nil {
		return
	}
	kept := o.Option[:0]
	for _, e := range o.Option {
		if e.Option() != dns.EDNS0TCPKEEPALIVE {
			kept = append(kept, e)
		}
	}
	o.Option = kept
}
