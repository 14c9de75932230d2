package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/image"
	"github.com/dnsbound/dance/zone/internal/journal"
	"github.com/dnsbound/dance/zone/internal/zoneaccess"
)

// Limits of one transfer message: well under the 64 KiB TCP message limit
// so that a message never fails to pack.
const (
	xfrMaxRRs   = 200
	xfrMaxBytes = 16000
)

func isTransfer(r *dns.Msg) bool {
	if r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 || r.Response {
		return false
	}
	t := r.Question[0].Qtype
	return t == dns.TypeAXFR || t == dns.TypeIXFR
}

// transferAllowed checks the address list and, when transfer keys are
// configured, that r is signed with one of them (its MAC was verified
// before the handler ran).
func (s *Server) transferAllowed(r *dns.Msg, peer net.Addr) bool {
	ap, err := netip.ParseAddrPort(peer.String())
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	ok := false
	for _, p := range s.cfg.TransferFrom {
		if p.Contains(addr) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	xfr := s.keys.Load().xfr
	if len(xfr) == 0 {
		return true
	}
	t := r.IsTsig()
	return t != nil && xfr[dns.CanonicalName(t.Hdr.Name)]
}

// transfer answers AXFR (RFC 5936) and IXFR (RFC 1995) over TCP and TLS.
// IXFR is answered with the SOA alone when the client is up to date, with
// the differences from the journal when it holds the client's serial, and
// with the whole zone in AXFR form otherwise (RFC 1995 §4).
func (s *Server) transfer(w dns.ResponseWriter, r *dns.Msg) { s.transferVia(w, r, false) }

// transferVia answers a transfer request; xot says it came over the XoT
// listener, whose rules (Config.XoTAuth) replace the address list and
// transfer keys of the other listeners.
func (s *Server) transferVia(w dns.ResponseWriter, r *dns.Msg, xot bool) {
	peer := w.RemoteAddr()
	var who []any // the secondary's authenticated name, for the log
	q := r.Question[0]
	refuse := func(rcode int, why string) {
		s.logRefused(logXfrRefused, "transfer refused", append([]any{"peer", peer, "qtype", dns.TypeToString[q.Qtype], "reason", why}, who...)...)
		s.metrics.count(outcomeXfrRefused)
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		if t := r.IsTsig(); t != nil {
			m.SetTsig(t.Hdr.Name, t.Algorithm, tsigFudge, time.Now().Unix())
		}
		w.WriteMsg(m)
	}
	if q.Qclass != dns.ClassINET || dns.CanonicalName(q.Name) != s.cfg.Zone.Origin() {
		refuse(dns.RcodeNotAuth, "not this zone")
		return
	}
	if xot {
		name, why := s.xotAllowed(w, r)
		if name != "" {
			who = []any{"secondary", name}
		}
		if why != "" {
			refuse(dns.RcodeRefused, why)
			return
		}
	} else if !s.transferAllowed(r, peer) {
		refuse(dns.RcodeRefused, "not allowed by address or key")
		return
	}
	var state *tls.ConnectionState
	if cs, ok := w.(dns.ConnectionStater); ok {
		state = cs.ConnectionState()
	}
	if state == nil && s.cfg.TransferTLSOnly {
		refuse(dns.RcodeRefused, "transfers only over TLS")
		return
	}
	if state != nil && state.Version < tls.VersionTLS13 {
		// RFC 9103 §5.1: XoT needs TLS 1.3.
		refuse(dns.RcodeRefused, "zone transfer over TLS older than 1.3")
		return
	}
	if !s.xfrs.begin() {
		refuse(dns.RcodeServerFailure, "server stopping")
		return
	}
	defer s.xfrs.end()
	sent := 0
	defer func() {
		if sent >= xfrReleaseRecords {
			// A collection of the whole heap: a second or so of a
			// core at a million identities, which the log shows.
			start := time.Now()
			releaseMemory()
			s.log.Info("memory returned to the system after a large transfer", "peer", peer, "records", sent, "took", time.Since(start).Round(time.Millisecond))
		}
	}()
	rrs, kind, err := s.transferRecords(r)
	if err != nil {
		s.log.Error("transfer failed", "peer", peer, "err", err)
		refuse(dns.RcodeServerFailure, "transfer failed")
		return
	}
	t := r.IsTsig()
	first := true
	send := func(part []dns.RR) bool {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		m.Compress = true
		m.Answer = part
		if !first {
			m.Question = nil // RFC 5936 §2.2.1: only the first message repeats it
		}
		if t != nil {
			m.SetTsig(t.Hdr.Name, t.Algorithm, tsigFudge, time.Now().Unix())
		}
		if err := w.WriteMsg(m); err != nil {
			// The stream may end inside a message (a write deadline
			// passed): the connection cannot carry another.
			s.log.Warn("transfer aborted", "peer", peer, "err", err)
			w.Close()
			return false
		}
		if first {
			// RFC 8945 §5.3.1: later messages' MACs cover timers only.
			w.TsigTimersOnly(true)
		}
		first = false
		return true
	}
	// RRs are produced and decoded a message at a time, from the zone's
	// snapshot for a full zone: the zone is never held whole, neither
	// packed nor as dns.RR values.
	var part []dns.RR
	size := 0
	err = rrs.Each(func(b []byte) error {
		l := len(b)
		if len(part) > 0 && (len(part) >= xfrMaxRRs || size+l > xfrMaxBytes) {
			if !send(part) {
				return errXfrAborted
			}
			part, size = nil, 0
		}
		rr, off, err := dns.UnpackRR(b, 0)
		if err != nil || off != l {
			return fmt.Errorf("%w: %v", image.ErrCorrupt, err)
		}
		part = append(part, rr)
		size += l
		sent++
		return nil
	})
	switch {
	case errors.Is(err, errXfrAborted):
		return
	case err != nil:
		s.log.Error("transfer aborted: stored zone does not decode", "peer", peer, "err", err)
		w.Close() // the secondary would wait for the rest of the zone
		return
	}
	if len(part) > 0 && !send(part) {
		return
	}
	s.metrics.count(outcomeXfrDone)
	s.metrics.count(kind)
	s.log.Info("zone transferred", append([]any{"peer", peer, "qtype", dns.TypeToString[q.Qtype], "form", kind.String(), "records", rrs.Len()}, who...)...)
}

// xfrReleaseRecords is how many records a transfer decodes (a full
// transfer of a large zone: about four per identity) before, at its end,
// it hands the memory it churned back to the system. Each record is
// decoded and packed again a message at a time, so a transfer of a
// million identities frees gigabytes of short-lived objects; the heap the
// collector grew for them would otherwise stay resident long after the
// transfer, at its peak. Incremental transfers and small zones force no
// collection.
var xfrReleaseRecords = 65536

// releaseMemory returns freed memory to the system (a variable for tests).
var releaseMemory = debug.FreeOSMemory

// errXfrAborted ends the reading of a zone whose transfer could not be
// sent on (the connection failed; logged by send).
var errXfrAborted = errors.New("server: transfer aborted")

// Kinds of transfer answers, counted in the metrics and logged.
const (
	xfrFull    = outcomeXfrFull    // the whole zone (AXFR, or IXFR fallback)
	xfrIncr    = outcomeXfrIncr    // differences from the journal (RFC 1995 §4)
	xfrCurrent = outcomeXfrCurrent // the SOA alone: the client is up to date
)

// transferRecords returns the records that answer the transfer query r and
// the kind of answer. Every full zone computed here is recorded in the
// journal, so that later IXFR queries from that serial get differences.
func (s *Server) transferRecords(r *dns.Msg) (image.Source, outcome, error) {
	q := r.Question[0]
	var client *dns.SOA
	if q.Qtype == dns.TypeIXFR && len(r.Ns) == 1 {
		client, _ = r.Ns[0].(*dns.SOA)
	}
	if client != nil {
		soa := s.cfg.Zone.Get(s.cfg.Zone.Origin(), dns.TypeSOA)
		if int32(soa[0].(*dns.SOA).Serial-client.Serial) <= 0 {
			im, err := image.Pack(soa)
			return im, xfrCurrent, err // up to date (RFC 1995 §2)
		}
	}
	full, err := s.currentZone()
	if err != nil {
		return nil, 0, err
	}
	if client == nil {
		return full, xfrFull, nil
	}
	newest, err := full.SOA()
	if err != nil {
		return nil, 0, err
	}
	vs, ok := s.journalFromTo(client.Serial, newest.Serial)
	if !ok {
		return full, xfrFull, nil // serial unknown or dropped (RFC 1995 §4)
	}
	rrs := journal.Response(newest, vs)
	if len(rrs) >= full.Len() {
		return full, xfrFull, nil // the differences are no smaller
	}
	im, err := image.Pack(rrs)
	return im, xfrIncr, err
}

// adoptSnapshot releases the copy of the zone the journal read from its
// file at start, when the zone's snapshot holds the same RRs: the
// journal's newest version is otherwise a packed copy of the whole zone
// (as large as the zone's records), kept until the serial moves on, which
// may be hours. Run once, in the background, after a start whose journal
// is at the zone's serial. A zone that differs (a signature made afresh
// since) leaves the journal's copy in place: secondaries may hold it.
func (s *Server) adoptSnapshot(ctx context.Context) {
	start := time.Now()
	full, err := s.signedSnapshot(ctx, "the journal's copy")
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("journal: snapshot of the zone failed", "err", err)
		}
		return
	}
	switch ok, err := s.journal.Adopt(full); {
	case err != nil:
		s.log.Error("journal: comparing the zone with the journal's newest version failed", "err", err)
	case ok:
		releaseMemory()
		s.log.Info("journal's newest zone is the zone's own: its copy from the file is released", "records", full.Len(), "took", time.Since(start).Round(time.Millisecond))
	default:
		s.log.Info("journal's newest zone differs from the zone's; its copy from the file is kept until the serial moves on", "took", time.Since(start).Round(time.Millisecond))
	}
}

// signedSnapshot returns the zone's transfer snapshot (zoneaccess.TransferZone)
// with every signature made. It signs what is missing first without
// holding the zone's lock (Presign), so that updates go on and the
// snapshot signs only what changed since. A presigning failure is logged,
// for what the snapshot is for, and leaves the signing to the snapshot;
// the end of ctx returns an error.
func (s *Server) signedSnapshot(ctx context.Context, what string) (image.Source, error) {
	if _, err := s.cfg.Zone.Presign(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("server: stopping: %w", ctx.Err())
		}
		s.log.Error("presigning failed", "for", what, "err", err)
	}
	return zoneaccess.TransferZone(s.cfg.Zone)
}

// currentZone returns the zone in AXFR form at the current serial, as
// recorded in the journal. Transfers take turns here: the journal sees
// serials in order, and a serial already recorded is sent as recorded
// without computing the zone again. The zone comes as the zone's snapshot
// (zoneaccess.TransferZone), which the journal keeps as its newest
// version: no packed copy of the zone is made.
func (s *Server) currentZone() (image.Source, error) {
	s.xfrMu.Lock()
	defer s.xfrMu.Unlock()
	if !s.serialSent {
		// One content per serial across runs too: a previous run may have
		// sent this serial with signatures this one cannot know (they are
		// made afresh, and a crash writes no journal); a secondary holding
		// them would be told it is current, and the next differences would
		// not apply to its copy. A serial no run has sent cannot be held
		// by anyone. (Also when the zone recorded for this serial by the
		// previous run has signatures that aged while the server was
		// stopped: it is not sent again.)
		serial, err := s.cfg.Zone.BumpSerial()
		if err != nil {
			return nil, fmt.Errorf("server: moving the serial past the one of the previous run: %w", err)
		}
		s.log.Info("serial moved on before the first transfer of this run", "serial", serial)
		s.serialSent = true
	}
	if serial, ok := s.journal.Serial(); ok && serial == s.cfg.Zone.Serial() {
		if last, ok := s.journal.Newest(); ok {
			return last, nil
		}
	}
	full, err := s.signedSnapshot(s.xfrs.context(), "a transfer")
	if err != nil {
		return nil, err
	}
	// The journal keeps one content per serial: the one it returns.
	return s.journal.RecordZone(full)
}

// journalFromTo returns the journal's versions that lead from serial from
// to serial to, and false when the journal holds no such path (from
// unknown, dropped or already current, or the journal not yet at to).
func (s *Server) journalFromTo(from, to uint32) ([]journal.Version, bool) {
	vs, ok := s.journal.Since(from)
	if !ok || len(vs) == 0 || vs[len(vs)-1].To.Serial != to {
		return nil, false
	}
	return vs, true
}

// udpIXFR answers an IXFR over UDP from the journal alone (RFC 1995 §2):
// the differences when the journal holds them up to the current serial and
// they fit in size octets, otherwise nil (the caller sends the SOA alone,
// telling the client to retry over TCP).
func (s *Server) udpIXFR(r *dns.Msg, size int) []dns.RR {
	if len(r.Ns) != 1 || s.cfg.TransferTLSOnly {
		// With TLS-only transfers, zone contents never go over UDP.
		return nil
	}
	client, ok := r.Ns[0].(*dns.SOA)
	if !ok {
		return nil
	}
	cur := s.cfg.Zone.Get(s.cfg.Zone.Origin(), dns.TypeSOA)[0].(*dns.SOA)
	vs, ok := s.journalFromTo(client.Serial, cur.Serial)
	if !ok {
		return nil
	}
	rrs := journal.Response(vs[len(vs)-1].To, vs)
	n := 0
	for _, rr := range rrs {
		if n += dns.Len(rr); n > size {
			return nil
		}
	}
	return rrs
}
