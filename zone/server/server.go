// Package server is the authoritative DNS server of an identity zone: it
// answers queries over UDP and TCP from a zone.Zone, signing online, and
// takes RFC 2136 updates authenticated with TSIG.
//
// To serve a zone directory with everything around it (update keys and
// policy, journal and signature files, admin API, metrics listener), use
// zone/serve. Here, start with New, Listen and Server.Serve; ServeDNS is
// the dns.Handler for callers that run their own listeners, and Collector
// the server's Prometheus metrics.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"

	"github.com/dnsbound/dance/internal/logthrottle"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/internal/journal"
	"github.com/dnsbound/dance/zone/internal/zoneaccess"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// Defaults for Config fields left zero.
const (
	// DefaultJournalVersions and DefaultJournalRecords bound the IXFR
	// journal: versions of the zone kept (RFC 1995; an older serial gets
	// the whole zone) and changed records in all of them.
	DefaultJournalVersions = 64
	DefaultJournalRecords  = 200000
	// DefaultMaxUDPSize is the largest UDP response: 1232 octets avoids IP
	// fragmentation on common paths (DNS flag day 2020).
	DefaultMaxUDPSize = 1232
	// minUDPSize is the size every client can take (RFC 1035 §4.2.1,
	// RFC 6891 §6.2.5).
	minUDPSize = 512
	// tcpIdleTimeout closes idle TCP connections (RFC 7766 §6.2.3 asks
	// for seconds, not minutes).
	tcpIdleTimeout = 10 * time.Second
	// tcpReadTimeout bounds a slow client's partial message.
	tcpReadTimeout = 5 * time.Second
	// maxTCPQueries per connection, so one client cannot hold a
	// connection forever.
	maxTCPQueries = 10000
	// tsigFudge is the Fudge of the server's own signed responses, in
	// seconds (RFC 8945 §10 recommends 300).
	tsigFudge = 300
)

// udpIXFROverhead is the room left in a UDP IXFR answer for everything but
// its records: header, question, OPT and a TSIG record with an HMAC-SHA512
// MAC and a long key name.
const udpIXFROverhead = 400

// ednsFlagCO is the Compact Answers OK flag in the EDNS header flags
// (RFC 9824 §5), the bit after DO.
const ednsFlagCO = 0x4000

// Config configures a Server.
type Config struct {
	// Zone is the zone served (required).
	Zone *zone.Zone
	// UpdateKeys are the TSIG keys accepted for UPDATE. With none, every
	// update is refused.
	UpdateKeys []*tsigkey.Key
	// Policies limit what each key (by name) may change; a key without an
	// entry may change identity records anywhere in the zone. New refuses
	// a key that could write at one of the zone's admin names
	// (zone.Options.AdminNames, zone.Zone.CheckPolicy).
	Policies map[string]zone.Policy
	// TransferFrom lists the client addresses allowed to transfer the
	// zone (AXFR, IXFR). Empty means no transfers.
	TransferFrom []netip.Prefix
	// TransferKeys, when not empty, are the TSIG keys one of which must
	// sign every transfer request (RFC 5936 §6, RFC 8945). These keys can
	// not be used for updates.
	TransferKeys []*tsigkey.Key
	// TransferTLSOnly refuses transfers that do not arrive over TLS
	// (RFC 9103 XoT), so zone contents never cross the network in clear.
	TransferTLSOnly bool
	// XoTAuth says what a transfer over the XoT listener
	// (Listeners.XoT) needs: a DANE-authenticated client (XoTDANE, the
	// zero value), a transfer key (XoTTSIG), or both (XoTBoth).
	XoTAuth XoTAuth
	// XoTAuthenticate, when not nil, authenticates the client certificate
	// of an XoT connection again before each transfer in the DANE modes
	// (zone/serve passes the verification core of the listener's
	// configuration, whose verdicts it caches): a secondary revoked after
	// its handshake is refused once the verdict has expired. Nil relies on
	// the handshake alone.
	XoTAuthenticate XoTAuthenticator
	// Notify lists secondaries (host:port) sent a NOTIFY (RFC 1996) after
	// every change of the zone.
	Notify []string
	// JournalVersions and JournalRecords bound the IXFR journal (zero:
	// DefaultJournalVersions, DefaultJournalRecords); the oldest
	// versions are dropped first and their serials get the whole zone.
	JournalVersions, JournalRecords int
	// JournalFile, when set, keeps the journal across restarts: Serve
	// writes it when it stops and New reads it when the zone's store is
	// still at the generation it was written at (nothing changed the zone
	// since), so secondaries keep getting differences.
	JournalFile string
	// MaxUDPSize caps UDP responses; zero means DefaultMaxUDPSize.
	MaxUDPSize int
	// RateLimit limits, per client prefix, the UDP answers that need a
	// signature made for them alone (limit.go); on unless RateLimit.Off.
	// Both limits apply to what Serve and ServeDNS answer.
	RateLimit RateLimit
	// SigningLimit is the ceiling on such signatures per second for the
	// whole server; on unless SigningLimit.Off.
	SigningLimit SigningLimit
	// MaxTCPConns caps the connections open at once on each of the TCP
	// and TLS listeners; zero means DefaultMaxTCPConns. A connection over
	// the cap is closed as soon as it is accepted and counted
	// (dance_zone_tcp_refused_total); the log reports them at most once
	// per 10 s.
	MaxTCPConns int
	// Time returns the current time for the limits; nil means time.Now.
	Time func() time.Time
	// TSIGWindow is the largest difference between a signed request's
	// Time Signed and the server's clock that is accepted, whatever Fudge
	// the request carries (a request is accepted only within both); zero
	// means DefaultTSIGWindow. Signed updates are also remembered for the
	// window and refused when sent again (see replayCache).
	TSIGWindow time.Duration
	// Logger receives one line per applied or rejected update and per
	// failure of the server; lines about requests refused before their
	// sender is known (bad TSIG, unsigned updates, transfers not allowed,
	// replays) come at most once per 10 s for each kind, with the number
	// held back. nil discards.
	Logger *slog.Logger
	// notifyTimeout and notifyAfter, when set, replace the wait for a
	// NOTIFY response and the timer between attempts (notify.go): tests
	// record the back-off schedule instead of sleeping through it.
	notifyTimeout time.Duration
	notifyAfter   func(time.Duration) <-chan time.Time
	// replayStart, when set, replaces the start time of the replay cache
	// (updates signed before it are refused): tests set it in the past.
	replayStart time.Time
	// writeTimeout, when set, replaces tcpWriteTimeout: tests stall a
	// transfer without waiting that long.
	writeTimeout time.Duration
	// udpLoops, when above zero, replaces the number of UDP reader loops
	// (udpLoopCount); udpPortable makes them use golang.org/x/net's
	// batches, as on systems other than Linux. Tests set them.
	udpLoops    int
	udpPortable bool
}

// Server answers for one zone.
type Server struct {
	cfg Config
	// keys are the TSIG keys and update policies in force (SetKeys
	// replaces them); provider verifies and signs with them.
	keys     atomic.Pointer[keySet]
	provider keyProvider
	// changed wakes the notifier; it holds at most one pending signal.
	changedc chan struct{}
	log      *slog.Logger
	maxUDP   int
	metrics  *metrics
	cache    *respCache
	limits   *limits
	// journal holds the differences between transferred versions (IXFR).
	journal *journal.Journal
	// xfrs counts the transfers running, for Serve to wait for.
	xfrs running
	// xfrMu makes transfers compute and record the zone one at a time.
	xfrMu sync.Mutex
	// serialSent is whether the journal holds what every secondary got for
	// the serials this run may record: at the start, whether it was loaded
	// from a file written at the store's current generation whose newest
	// zone is at the zone's serial. Otherwise a previous run may have sent
	// the zone's serial with signatures this run cannot know (made afresh
	// each run; a crash writes no journal), so the first transfer moves
	// the serial on first (see currentZone). Guarded by xfrMu.
	serialSent bool
	// adoptJournal is whether the journal's newest zone, read from its
	// file, is at the zone's serial and still to be sent as recorded:
	// Serve then offers the journal the zone's own snapshot in its place
	// (adoptSnapshot).
	adoptJournal bool
	// tsigWindow is Config.TSIGWindow or its default; replay remembers
	// the updates accepted within it.
	tsigWindow time.Duration
	replay     *replayCache
	// reqLogs space the log lines about refused requests (reqlog.go).
	reqLogs *logthrottle.Throttle[reqLogKind]
	// udpRunning counts the UDP reader loops running (tests).
	udpRunning atomic.Int32
}

var _ dns.Handler = (*Server)(nil)

// keySet is one generation of the server's TSIG keys.
type keySet struct {
	provider *tsigkey.Provider
	// update and xfr are the key names allowed for each purpose.
	update, xfr map[string]bool
	policies    map[string]zone.Policy
}

// newKeySet checks and indexes update and transfer keys.
func newKeySet(z *zone.Zone, update []*tsigkey.Key, policies map[string]zone.Policy, transfer []*tsigkey.Key) (*keySet, error) {
	ks := &keySet{update: map[string]bool{}, xfr: map[string]bool{}, policies: policies}
	// Administrators authenticated by DANE must not be publishable by an
	// update key (zone.Options.AdminNames): refuse a key that could.
	for _, k := range update {
		n := dns.CanonicalName(k.Name)
		if err := z.CheckPolicy(n, policies[n]); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		ks.update[n] = true
	}
	for _, k := range transfer {
		n := dns.CanonicalName(k.Name)
		if ks.update[n] {
			return nil, fmt.Errorf("server: key %s is both an update and a transfer key", n)
		}
		ks.xfr[n] = true
	}
	ks.provider = tsigkey.NewProvider(append(append([]*tsigkey.Key{}, update...), transfer...)...)
	return ks, nil
}

// keyProvider is the dns.TsigProvider of a server: the keys in force.
type keyProvider struct{ s *Server }

func (p keyProvider) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	return p.s.keys.Load().provider.Generate(msg, t)
}

func (p keyProvider) Verify(msg []byte, t *dns.TSIG) error {
	return p.s.keys.Load().provider.Verify(msg, t)
}

// Key returns the key in force with the given name, or nil.
func (p keyProvider) Key(name string) *tsigkey.Key { return p.s.keys.Load().provider.Key(name) }

// SetKeys replaces the update keys, their policies and the transfer keys
// (Config.UpdateKeys, Policies, TransferKeys) while the server runs, after
// the checks New makes; on error nothing changes. A request already
// verified is answered under the keys it was verified with.
func (s *Server) SetKeys(update []*tsigkey.Key, policies map[string]zone.Policy, transfer []*tsigkey.Key) error {
	ks, err := newKeySet(s.cfg.Zone, update, policies, transfer)
	if err != nil {
		return err
	}
	s.keys.Store(ks)
	return nil
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Zone == nil {
		return nil, errors.New("server: no zone")
	}
	if cfg.XoTAuth > XoTBoth {
		return nil, fmt.Errorf("server: unknown %v", cfg.XoTAuth)
	}
	if cfg.XoTAuth.NeedsTSIG() && len(cfg.TransferKeys) == 0 {
		return nil, fmt.Errorf("server: XoT auth %v needs transfer keys", cfg.XoTAuth)
	}
	ks, err := newKeySet(cfg.Zone, cfg.UpdateKeys, cfg.Policies, cfg.TransferKeys)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, maxUDP: cfg.MaxUDPSize, metrics: new(metrics),
		reqLogs:  logthrottle.New[reqLogKind](limitLogInterval, int(numReqLogKinds)),
		changedc: make(chan struct{}, 1), cache: newRespCache(),
		journal: journal.New(cmp.Or(cfg.JournalVersions, DefaultJournalVersions), cmp.Or(cfg.JournalRecords, DefaultJournalRecords))}
	s.provider = keyProvider{s}
	s.keys.Store(ks)
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	now := cfg.Time
	if now == nil {
		now = time.Now
	}
	s.limits = &limits{rrl: newRRL(cfg.RateLimit, now), ceiling: newCeiling(cfg.SigningLimit, now), now: now}
	if cfg.TSIGWindow != 0 && cfg.TSIGWindow < time.Second {
		// Time Signed counts seconds (RFC 8945 §4.2).
		return nil, fmt.Errorf("server: TSIG window %v is below one second", cfg.TSIGWindow)
	}
	s.tsigWindow = cfg.TSIGWindow
	if s.tsigWindow == 0 {
		s.tsigWindow = DefaultTSIGWindow
	}
	start := cfg.replayStart
	if start.IsZero() {
		start = time.Now()
	}
	s.replay = newReplayCache(s.tsigWindow, 0, start)
	if cfg.JournalFile != "" {
		gen, err := zoneaccess.Generation(cfg.Zone)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		serial := cfg.Zone.Serial()
		switch ok, err := s.journal.Load(cfg.JournalFile, gen, serial); {
		case err != nil:
			s.log.Warn("journal file not used; secondaries get one full transfer", "file", cfg.JournalFile, "err", err)
		case ok:
			v, n := s.journal.Len()
			s.log.Info("journal loaded", "file", cfg.JournalFile, "versions", v, "records", n)
			last, _ := s.journal.Serial()
			s.serialSent = last == serial
			if im, ok := s.journal.Newest(); ok && s.serialSent {
				// Sent again as recorded (one content per serial) unless
				// its signatures aged while the server was stopped.
				if fresh, err := zoneaccess.ImageFresh(cfg.Zone, im); err != nil || !fresh {
					s.serialSent = false
					s.log.Info("journal's newest zone has signatures due for refresh; the serial moves on at the first transfer", "serial", serial, "err", err)
				}
			}
			// Still to be sent as recorded: Serve replaces the copy read
			// from the file with the zone's snapshot, when equal.
			s.adoptJournal = s.serialSent
		}
	}
	if s.maxUDP <= 0 {
		s.maxUDP = DefaultMaxUDPSize
	}
	if s.maxUDP < minUDPSize {
		s.maxUDP = minUDPSize
	}
	return s, nil
}

// acceptMsg is the first, header-only filter (before the body is parsed):
// responses are dropped, unknown opcodes get NOTIMP, and section counts that
// no valid request has get FORMERR, so hostile messages are not parsed.
func acceptMsg(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	switch int(dh.Bits>>11) & 0xF {
	case dns.OpcodeQuery, dns.OpcodeNotify:
		// RFC 9619: exactly one question; an IXFR query carries one SOA
		// in the authority section (RFC 1995 §3); OPT and TSIG.
		if dh.Qdcount != 1 || dh.Ancount > 1 || dh.Nscount > 1 || dh.Arcount > 2 {
			return dns.MsgReject
		}
	case dns.OpcodeUpdate:
		if dh.Qdcount != 1 || int(dh.Ancount)+int(dh.Nscount) > zone.MaxUpdateRRs || dh.Arcount > 2 {
			return dns.MsgReject
		}
	default:
		return dns.MsgRejectNotImplemented
	}
	return dns.MsgAccept
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if !isUDP(w) && isTransfer(r) && w.TsigStatus() == nil && (r.IsTsig() == nil || s.provider.Key(r.IsTsig().Hdr.Name) != nil && s.inWindow(r.IsTsig(), time.Now())) {
		s.transfer(w, r)
		return
	}
	udp := isUDP(w)
	size := 0
	if udp {
		size = s.udpSize(r)
	}
	key, cacheable := s.cache.key(r, udp, size)
	if cacheable {
		if wire := s.cache.get(key, r.Id, s.cfg.Zone.Serial(), s.cfg.Zone.Now()); wire != nil {
			s.metrics.count(outcomeCacheHit)
			w.Write(wire)
			return
		}
	}
	if m, dropped := s.admit(r, udp, w.RemoteAddr()); dropped {
		return
	} else if m != nil {
		if err := w.WriteMsg(m); err != nil {
			s.logRefused(logWriteFailed, "write response", "peer", w.RemoteAddr(), "err", err)
		}
		return
	}
	serial := s.cfg.Zone.Serial()
	resp, raw := s.handle(r, w.TsigStatus(), udp, w.RemoteAddr())
	if raw != nil {
		w.Write(raw)
		return
	}
	if resp == nil {
		return
	}
	if cacheable && resp.Rcode != dns.RcodeServerFailure {
		wire, err := resp.Pack()
		if err != nil {
			s.log.Warn("pack response", "peer", w.RemoteAddr(), "err", err)
			return
		}
		s.cache.put(key, wire, serial, s.cfg.Zone.Now())
		w.Write(wire)
		return
	}
	if err := w.WriteMsg(resp); err != nil {
		s.logRefused(logWriteFailed, "write response", "peer", w.RemoteAddr(), "err", err)
	}
}

// udpSize is the largest UDP response r's sender takes, capped by the
// server's limit.
func (s *Server) udpSize(r *dns.Msg) int {
	size := minUDPSize
	if opt := r.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
		size = int(opt.UDPSize())
	}
	if size > s.maxUDP {
		size = s.maxUDP
	}
	return size
}

func isUDP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.UDPAddr)
	return ok
}

// handle computes the response to r. tsigStatus is the result of verifying
// r's TSIG record (nil when valid or absent). When the response must bypass
// TSIG signing (an unsigned TSIG error, RFC 8945 §5.2), it is returned
// packed in raw. handle never panics on any parsed message; fuzz tests call
// it directly.
func (s *Server) handle(r *dns.Msg, tsigStatus error, udp bool, peer net.Addr) (resp *dns.Msg, raw []byte) {
	if r.Response {
		return nil, nil
	}
	if t := r.IsTsig(); t != nil {
		switch now := time.Now(); {
		case s.provider.Key(t.Hdr.Name) != nil && errors.Is(tsigStatus, dns.ErrTime):
			// The MAC is good, the time outside the request's own Fudge.
			s.metrics.count(outcomeTSIGBadTime)
			s.logRefused(logTSIGFudge, "tsig time outside the request's fudge", "peer", peer, "key", t.Hdr.Name, "signed", t.TimeSigned, "fudge", t.Fudge, "now", now.Unix())
			return s.badTime(r, t, now), nil
		case tsigStatus != nil || s.provider.Key(t.Hdr.Name) == nil:
			s.metrics.count(outcomeTSIGFailure)
			s.logRefused(logTSIGFailed, "tsig verification failed", "peer", peer, "key", t.Hdr.Name, "err", tsigStatus)
			return nil, s.tsigError(r, t, tsigStatus)
		case !s.inWindow(t, now):
			// RFC 8945 §5.2.3, with the server's window: the client's
			// Fudge (up to 18 hours) does not widen it.
			s.metrics.count(outcomeTSIGBadTime)
			s.logRefused(logTSIGWindow, "tsig time outside the server's window", "peer", peer, "key", t.Hdr.Name, "signed", t.TimeSigned, "fudge", t.Fudge, "now", now.Unix(), "window", s.tsigWindow)
			return s.badTime(r, t, now), nil
		case r.Opcode == dns.OpcodeUpdate:
			if v := s.replay.check(dns.CanonicalName(t.Hdr.Name), strings.ToLower(t.MAC), t.TimeSigned, now); v != replayFresh {
				s.metrics.count(outcomeTSIGReplay)
				s.logRefused(logTSIGReplay, "signed update refused: replay", "peer", peer, "key", t.Hdr.Name, "signed", t.TimeSigned, "reason", v.String())
				return s.badTime(r, t, now), nil
			}
		}
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = false
	m.RecursionAvailable = false
	m.RecursionDesired = r.RecursionDesired
	opt := r.IsEdns0()
	if opt != nil && opt.Version() != 0 {
		// RFC 6891 §6.1.3: BADVERS with our highest version, 0.
		m.SetRcode(r, dns.RcodeBadVers)
		m.SetEdns0(dns.DefaultMsgSize, false)
		return s.finish(r, m, udp), nil
	}
	if n := countOPT(r); n > 1 {
		// RFC 6891 §6.1.1: more than one OPT is a format error.
		m.SetRcode(r, dns.RcodeFormatError)
		return s.finish(r, m, udp), nil
	}
	if len(r.Question) != 1 && r.Opcode != dns.OpcodeStatus {
		// The header filter checked QDCOUNT; a message that ends before its
		// question is just as malformed (RFC 9619).
		m.SetRcode(r, dns.RcodeFormatError)
		s.metrics.count(outcomeFormErr)
		return s.finish(r, m, udp), nil
	}
	switch r.Opcode {
	case dns.OpcodeQuery:
		s.query(r, m, opt, peer)
	case dns.OpcodeUpdate:
		s.update(r, m, udp, peer)
	case dns.OpcodeNotify:
		// This server is a primary; it does not take NOTIFY.
		m.SetRcode(r, dns.RcodeRefused)
	default:
		m.SetRcode(r, dns.RcodeNotImplemented)
	}
	if opt != nil {
		size := s.udpSize(r)
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(uint16(s.maxUDP))
		if opt.Do() {
			o.SetDo()
		}
		m.Extra = append(m.Extra, o)
		return s.finishSize(r, m, udp, size), nil
	}
	return s.finish(r, m, udp), nil
}

func countOPT(r *dns.Msg) int {
	n := 0
	for _, rr := range r.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

func (s *Server) finish(r, m *dns.Msg, udp bool) *dns.Msg {
	return s.finishSize(r, m, udp, minUDPSize)
}

// finishSize truncates UDP responses to size (RFC 2181 §9: drop whole
// RRsets and set TC so the client retries over TCP) and signs with TSIG
// when the request was signed.
func (s *Server) finishSize(r, m *dns.Msg, udp bool, size int) *dns.Msg {
	if udp {
		m.Truncate(size)
	}
	if t := r.IsTsig(); t != nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, tsigFudge, time.Now().Unix())
	}
	return m
}

// inWindow reports whether t was signed within the server's window of now
// (RFC 8945 §5.2.3 with the server's own bound; the dns library checks the
// request's Fudge).
func (s *Server) inWindow(t *dns.TSIG, now time.Time) bool {
	d := int64(t.TimeSigned) - now.Unix()
	if d < 0 {
		d = -d
	}
	return d <= int64(s.tsigWindow/time.Second)
}

// badTime builds the response to a request with a valid MAC that is
// refused for its time: NOTAUTH and TSIG error BADTIME, signed with the
// request's key (the caller's writer signs it, covering the request's
// MAC), echoing the request's Time Signed and Fudge, with the server's
// time in Other Data (RFC 8945 §5.2.3), so that the client can verify the
// refusal and see the two clocks.
//
// A replayed update gets BADTIME as well: its MAC is valid, so BADSIG or
// BADKEY would be false and would go unsigned (RFC 8945 §5.3.2), letting
// anyone forge them. BADTIME is what RFC 8945 §5.2.3 answers to its own
// replay check (a Time Signed earlier than the latest seen from the key),
// and a copy is never newer than the message it copies, which the server
// has seen. nsupdate prints "clocks are unsynchronized" and
// "NOTAUTH(BADTIME)"; the server's log says "replay".
func (s *Server) badTime(r *dns.Msg, t *dns.TSIG, now time.Time) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeNotAuth)
	m.Answer, m.Ns, m.Extra = nil, nil, nil
	var other [6]byte // a 48-bit time, as Time Signed
	u := uint64(now.Unix())
	for i := 5; i >= 0; i-- {
		other[i] = byte(u)
		u >>= 8
	}
	tsig := tsigErrorRecord(r, t, dns.RcodeBadTime)
	tsig.OtherLen = uint16(len(other))
	tsig.OtherData = hex.EncodeToString(other[:])
	m.Extra = append(m.Extra, tsig)
	return m
}

// tsigErrorRecord is the TSIG record of an error response to r, whose
// TSIG is t: t's key, algorithm, Time Signed and Fudge, r's ID, and the
// TSIG error code (RFC 8945 §5.2). It has no MAC: the response is signed
// by the writer (BADTIME) or not at all (BADKEY, BADSIG).
func tsigErrorRecord(r *dns.Msg, t *dns.TSIG, code uint16) *dns.TSIG {
	return &dns.TSIG{
		Hdr:        dns.RR_Header{Name: t.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm:  t.Algorithm,
		TimeSigned: t.TimeSigned,
		Fudge:      t.Fudge,
		OrigId:     r.Id,
		Error:      code,
	}
}

// tsigError builds the unsigned error response of RFC 8945 §5.2: NOTAUTH
// and a TSIG record carrying BADKEY or BADSIG with no MAC (§5.3.2).
func (s *Server) tsigError(r *dns.Msg, t *dns.TSIG, status error) []byte {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeNotAuth)
	m.Ns, m.Answer, m.Extra = nil, nil, nil
	code := uint16(dns.RcodeBadSig)
	switch {
	case s.provider.Key(t.Hdr.Name) == nil, errors.Is(status, dns.ErrSecret), errors.Is(status, dns.ErrKeyAlg):
		code = dns.RcodeBadKey
	}
	m.Extra = append(m.Extra, tsigErrorRecord(r, t, code))
	b, err := m.Pack()
	if err != nil {
		return nil
	}
	return b
}

func (s *Server) query(r, m *dns.Msg, opt *dns.OPT, peer net.Addr) {
	q := r.Question[0]
	if q.Qclass != dns.ClassINET {
		m.SetRcode(r, dns.RcodeRefused)
		s.metrics.count(outcomeRefused)
		return
	}
	switch q.Qtype {
	case dns.TypeAXFR:
		// RFC 5936 §4.2: AXFR is a TCP protocol; transfers over TCP do not
		// get here (see ServeDNS).
		m.SetRcode(r, dns.RcodeRefused)
		s.metrics.count(outcomeRefused)
		return
	case dns.TypeIXFR:
		// RFC 1995 §2: over UDP, a reply that does not fit carries only
		// the SOA, telling the client to retry over TCP.
		if !s.transferAllowed(r, peer) || dns.CanonicalName(q.Name) != s.cfg.Zone.Origin() {
			m.SetRcode(r, dns.RcodeRefused)
			s.metrics.count(outcomeRefused)
			return
		}
		m.Authoritative = true
		// Room for the header, question, OPT and TSIG records.
		if rrs := s.udpIXFR(r, s.udpSize(r)-udpIXFROverhead); rrs != nil {
			m.Answer = rrs
			s.metrics.count(xfrIncr)
			return
		}
		m.Answer = s.cfg.Zone.Get(s.cfg.Zone.Origin(), dns.TypeSOA)
		return
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeMAILA, dns.TypeMAILB, dns.TypeNXNAME:
		// Meta types are not questions (RFC 6895 §3.1).
		m.SetRcode(r, dns.RcodeFormatError)
		s.metrics.count(outcomeFormErr)
		return
	}
	o := zone.QueryOptions{}
	if opt != nil {
		o.DNSSEC = opt.Do()
		o.CompactOK = uint16(opt.Hdr.Ttl)&ednsFlagCO != 0
	}
	a, err := s.cfg.Zone.Query(q.Name, q.Qtype, o)
	if err != nil {
		s.log.Error("query failed", "qname", q.Name, "qtype", dns.TypeToString[q.Qtype], "err", err)
		m.SetRcode(r, dns.RcodeServerFailure)
		s.metrics.count(outcomeServFail)
		return
	}
	s.metrics.count(queryOutcome(a.Outcome))
	m.Rcode = a.Rcode
	m.Authoritative = a.Outcome != zone.NotInZone
	m.Answer = a.Answer
	m.Ns = a.Ns
}

func (s *Server) update(r, m *dns.Msg, udp bool, peer net.Addr) {
	m.Answer, m.Ns = nil, nil
	t := r.IsTsig()
	if t == nil {
		s.logRefused(logUnsignedUpdate, "unsigned update refused", "peer", peer)
		m.SetRcode(r, dns.RcodeRefused)
		s.metrics.count(outcomeUpdateRefused)
		return
	}
	zq := r.Question[0]
	if zq.Qtype != dns.TypeSOA || zq.Qclass != dns.ClassINET {
		// RFC 2136 §3.1.1: the zone section names one SOA.
		m.SetRcode(r, dns.RcodeFormatError)
		s.metrics.count(outcomeUpdateRefused)
		return
	}
	if dns.CanonicalName(zq.Name) != s.cfg.Zone.Origin() {
		m.SetRcode(r, dns.RcodeNotAuth)
		s.metrics.count(outcomeUpdateRefused)
		return
	}
	keyName := dns.CanonicalName(t.Hdr.Name)
	ks := s.keys.Load()
	if !ks.update[keyName] {
		s.logRefused(logUpdateKey, "update with a key not allowed to update", "peer", peer, "key", keyName)
		m.SetRcode(r, dns.RcodeRefused)
		s.metrics.count(outcomeUpdateRefused)
		return
	}
	pol := ks.policies[keyName]
	serial, err := s.cfg.Zone.Update(r.Answer, r.Ns, pol)
	if err != nil {
		rc := zone.RcodeOf(err)
		m.SetRcode(r, rc)
		s.log.Info("update rejected", "peer", peer, "key", keyName, "rcode", dns.RcodeToString[rc], "reason", err)
		s.metrics.count(outcomeUpdateRefused)
		return
	}
	s.metrics.count(outcomeUpdateApplied)
	s.log.Info("update applied", "peer", peer, "key", keyName, "serial", serial)
}

// keepFreshInterval is how often the server checks whether the serial
// must move for secondaries to fetch refreshed signatures.
const keepFreshInterval = time.Hour

func (s *Server) keepFresh(ctx context.Context) {
	// Often enough for the zone's re-sign age (a quarter of the identity
	// signature validity), which the check rounds up by one interval.
	t := time.NewTicker(min(keepFreshInterval, s.cfg.Zone.ResignAge()/4))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			bumped, err := s.cfg.Zone.KeepFresh(0)
			if err != nil {
				s.log.Error("serial bump for re-signing failed", "err", err)
			} else if bumped {
				s.log.Info("serial bumped so secondaries fetch refreshed signatures", "serial", s.cfg.Zone.Serial())
			}
		}
	}
}

// Listeners are the bound sockets of a server.
type Listeners struct {
	UDP net.PacketConn
	TCP net.Listener
	// TLS, if set, serves DNS over TLS (RFC 7858) and zone transfers
	// over TLS (RFC 9103).
	TLS net.Listener
	// XoT, if set, serves zone transfers over TLS 1.3 (RFC 9103) to the
	// secondaries that Config.XoTAuth admits (ListenXoT), and queries.
	XoT net.Listener
}

// ALPN protocol for DNS over TLS, which XoT also uses (RFC 9103 §7.1).
const alpnDoT = "dot"

// ListenTLS binds a DNS-over-TLS listener on addr with cfg's certificate.
// TLS 1.2 is the minimum (RFC 7858 §3.2, RFC 8310); transfers further
// require TLS 1.3 (RFC 9103 §5.1), checked per connection.
func ListenTLS(addr string, cfg *tls.Config) (net.Listener, error) {
	c := cfg.Clone()
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	if len(c.NextProtos) == 0 {
		c.NextProtos = []string{alpnDoT}
	}
	l, err := tls.Listen("tcp", addr, c)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return l, nil
}

// Listen binds UDP and TCP on addr. With port 0, both get the same port
// (UDP first; the TCP bind is retried on a few fresh ports if taken).
func Listen(addr string) (*Listeners, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen address %q: %w", addr, err)
	}
	for attempt := 0; attempt < 20; attempt++ {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		_, p, _ := net.SplitHostPort(pc.LocalAddr().String())
		l, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err != nil {
			pc.Close()
			if port == "0" {
				continue
			}
			return nil, fmt.Errorf("server: %w", err)
		}
		return &Listeners{UDP: pc, TCP: l}, nil
	}
	return nil, fmt.Errorf("server: no free port on %s for both UDP and TCP", host)
}

// Addr is the bound address (the same port for UDP and TCP).
func (l *Listeners) Addr() string { return l.TCP.Addr().String() }

// Close closes every socket of l. Serve closes them when it stops; Close is
// for a caller that gives up before serving (closing twice is harmless).
func (l *Listeners) Close() {
	l.UDP.Close()
	l.TCP.Close()
	if l.TLS != nil {
		l.TLS.Close()
	}
	if l.XoT != nil {
		l.XoT.Close()
	}
}

// Serve answers on ls until ctx is done, then shuts down: it stops reading,
// lets in-flight requests finish, cuts off zone transfers still sending
// and waits for them to end, and closes the sockets.
func (s *Server) Serve(ctx context.Context, ls *Listeners) error {
	tcp := &dns.Server{
		Listener:      s.streamListener(ls.TCP, "tcp"),
		Handler:       s,
		MsgAcceptFunc: acceptMsg,
		TsigProvider:  s.provider,
		IdleTimeout:   func() time.Duration { return tcpIdleTimeout },
		ReadTimeout:   tcpReadTimeout,
		MaxTCPQueries: maxTCPQueries,
	}
	servers := []*dns.Server{tcp}
	if ls.TLS != nil {
		servers = append(servers, &dns.Server{
			Listener:      s.streamListener(ls.TLS, "tls"),
			Net:           "tcp-tls",
			Handler:       s,
			MsgAcceptFunc: acceptMsg,
			TsigProvider:  s.provider,
			IdleTimeout:   func() time.Duration { return tcpIdleTimeout },
			ReadTimeout:   tcpReadTimeout,
			MaxTCPQueries: maxTCPQueries,
		})
	}
	if ls.XoT != nil {
		servers = append(servers, &dns.Server{
			Listener:      s.streamListener(ls.XoT, "xot"),
			Net:           "tcp-tls",
			Handler:       xotHandler{s},
			MsgAcceptFunc: acceptMsg,
			TsigProvider:  s.provider,
			IdleTimeout:   func() time.Duration { return tcpIdleTimeout },
			ReadTimeout:   tcpReadTimeout,
			MaxTCPQueries: maxTCPQueries,
		})
	}
	// Every goroutine runs in one group: the first to fail ends the
	// others (gctx), and Serve returns its error. Errors of listeners
	// closed on purpose (stopping) are not failures.
	g, gctx := errgroup.WithContext(ctx)
	var stopping atomic.Bool
	startedc := make(chan struct{}, len(servers))
	for _, srv := range servers {
		srv.NotifyStartedFunc = func() { startedc <- struct{}{} }
	}
	g.Go(func() error {
		s.keepFresh(gctx)
		return nil
	})
	if s.adoptJournal {
		g.Go(func() error {
			s.adoptSnapshot(gctx)
			return nil
		})
	}
	if len(s.cfg.TransferFrom) > 0 || ls.XoT != nil {
		// Secondaries need the whole zone signed: sign it ahead, after
		// start and after every change, so a transfer starts at once.
		presign := make(chan struct{}, 1)
		presign <- struct{}{}
		defer s.cfg.Zone.Watch(func(uint32) {
			select {
			case presign <- struct{}{}:
			default:
			}
		})()
		g.Go(func() error {
			for {
				select {
				case <-gctx.Done():
					return nil
				case <-presign:
				}
				start := time.Now()
				run, err := s.cfg.Zone.PresignAhead(gctx)
				if err != nil && gctx.Err() == nil {
					s.log.Error("presigning failed", "err", err)
				} else if err == nil {
					// walk says whether the run looked at the whole zone
					// or what changed: a full walk of a large zone takes
					// seconds even when it signs little.
					level := slog.LevelInfo
					if run.Signatures == 0 {
						level = slog.LevelDebug
					}
					attrs := []any{"signatures", run.Signatures, "walk", run.Walk(),
						"names", run.Names, "chain_entries", run.ChainEntries}
					if run.ChainLeft {
						attrs = append(attrs, "chain", "left to the next run")
					}
					s.log.Log(gctx, level, "zone presigned", append(attrs, "took", time.Since(start).Round(time.Millisecond))...)
				}
			}
		})
	}
	if len(s.cfg.Notify) > 0 {
		defer s.cfg.Zone.Watch(func(uint32) { s.changed() })()
		g.Go(func() error {
			s.notifier(gctx)
			return nil
		})
	}
	for _, srv := range servers {
		g.Go(func() error {
			if err := srv.ActivateAndServe(); err != nil && !stopping.Load() {
				return fmt.Errorf("server: %w", err)
			}
			return nil
		})
	}
	// A UDP reader loop per core, each on its own descriptor of the one
	// socket (udp.go, udpConns); the extra descriptors are closed with
	// the listeners.
	udpConns := s.udpConns(ls.UDP, s.udpLoopCount())
	defer closeConns(udpConns[1:])
	for _, pc := range udpConns {
		g.Go(func() error {
			if err := s.serveUDP(gctx, pc); err != nil && !stopping.Load() {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		// Wait for the TCP (and TLS) servers to run before waiting for
		// the end: a dns.Server told to shut down before it has started
		// refuses ("server not started") and then serves on.
	wait:
		for running := 0; running < len(servers); running++ {
			select {
			case <-startedc:
			case <-gctx.Done():
				break wait
			}
		}
		<-gctx.Done()
		stopping.Store(true)
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range servers {
			srv.ShutdownContext(sctx)
		}
		// Transfers still sending (to a slow secondary) are cut off, and
		// waited for: none reads its snapshot of the zone once Serve has
		// returned (the journal is saved then, and the zone may be
		// closed).
		for _, srv := range servers {
			srv.Listener.(*writeDeadlineListener).stopWrites()
		}
		<-s.xfrs.stop()
		// Closing the sockets ends whatever still reads them, a server
		// that never started included (closing twice is harmless).
		ls.Close()
		closeConns(udpConns[1:])
		return nil
	})
	err := g.Wait()
	if s.cfg.JournalFile != "" {
		// No transfer runs any more: the journal is complete for the
		// store's current generation. A change made after this (the admin
		// API still running) gives the store another generation, and the
		// next start does not use the file.
		gen, jerr := zoneaccess.Generation(s.cfg.Zone)
		if jerr == nil {
			jerr = s.journal.Save(s.cfg.JournalFile, gen)
		}
		if jerr != nil {
			s.log.Warn("journal not saved; secondaries get one full transfer after the restart", "err", jerr)
		}
	}
	return err
}
