// Package secondary keeps a copy of a zone from its primary over XoT (zone
// transfers over TLS, RFC 9103) with both ends authenticated by DNS: the
// secondary presents its DNS-bound identity (a certificate whose key its
// TLSA record holds), and authenticates the primary by the TLSA records at
// _PORT._tcp.HOST of the primary's name (danetls.DANEClientConfig, through
// the verification core). It is what `dance zone secondary` runs.
//
// For most uses:
//
//	s, err := secondary.New(secondary.Config{
//		Zone: "ids.example.com", Primary: "ns1.example.com:853",
//		Identity: cert, Verifier: core, File: "/var/lib/dance/ids.zone",
//	})
//	if err != nil { ... }
//	err = s.Run(ctx) // transfers, then refreshes on the SOA timers and NOTIFY
//
// Refresh makes one transfer: an IXFR from the serial held (RFC 1995)
// when there is a copy, an AXFR otherwise; the result is written to File
// atomically (a new file renamed over the old), so a reader never sees a
// half-written zone and a failed transfer leaves the copy as it was.
//
// Run also keeps the SOA expire timer (RFC 1035 §3.3.13, RFC 1034
// §4.3.5): when EXPIRE seconds pass without a successful refresh (a
// transfer, or a check that found the serial current), the copy is
// expired: logged once, reported by
// Status, Health (503) and the dance_secondary_expired gauge, and with
// OnExpire ExpireRemove the file is deleted. The next successful refresh
// clears the state and writes the file again.
//
// # Security considerations
//
// The primary is authenticated by DANE only: no TLSA record that matches,
// no transfer (there is no fallback to PKIX or to an unauthenticated
// server). NOTIFY messages (NotifyListen) are not authenticated; one only
// makes the secondary ask its primary, over the authenticated channel,
// whether there is something new, and NOTIFYs are acted upon at most once
// every NotifyMinInterval. The zone's DNSSEC signatures are not checked
// here: the copy is what the authenticated primary sent.
package secondary

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/atomicfile"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone/server"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// Timers.
const (
	// DefaultTimeout bounds one transfer: connection, handshake (DNS
	// lookups included) and every message.
	DefaultTimeout = 2 * time.Minute
	// MinRefresh and MaxRefresh clamp the SOA refresh and retry timers
	// (RFC 1035 §3.3.13), so a zone's SOA can neither make the secondary
	// hammer its primary nor fall asleep for weeks.
	MinRefresh = 10 * time.Second
	MaxRefresh = 24 * time.Hour
	// NotifyMinInterval spaces the refreshes that NOTIFY messages
	// trigger (RFC 1996 §4.7 leaves the rate to the secondary).
	NotifyMinInterval = 2 * time.Second
)

// Config configures a Secondary. Every field without a default is
// required.
type Config struct {
	// Zone is the zone's name.
	Zone string
	// Primary is "HOST:PORT": HOST is the primary's name, sent as SNI and
	// looked up for its TLSA records at _PORT._tcp.HOST.
	Primary string
	// Addr is the address to connect to; "" means Primary.
	Addr string
	// Identity is the secondary's certificate and key, presented to the
	// primary.
	Identity tls.Certificate
	// Verifier authenticates the primary (a *verify.Core).
	Verifier verify.ServerVerifier
	// TSIG, when not nil, signs every request: for a primary that asks a
	// transfer key as well (or instead).
	TSIG *tsigkey.Key
	// File is where the zone is kept (zone-file format). A copy already
	// there is read at New and brought up to date by IXFR.
	File string
	// NotifyListen, when set, is a UDP address where NOTIFY messages for
	// the zone (RFC 1996) trigger a refresh.
	NotifyListen string
	// Timeout bounds one transfer; zero means DefaultTimeout.
	Timeout time.Duration
	// Logger receives a line per transfer and per failure; nil discards.
	Logger *slog.Logger
	// OnExpire is what to do with File when the copy expires; "" is
	// ExpireKeep.
	OnExpire ExpirePolicy
	// Registerer, when not nil, receives the dance_secondary_* gauges.
	Registerer prometheus.Registerer
}

// Kinds of refresh results.
const (
	KindFull    = "axfr"    // the whole zone
	KindIncr    = "ixfr"    // differences applied to the copy held
	KindCurrent = "current" // nothing new
)

// Result is what one refresh did.
type Result struct {
	Serial  uint32
	Kind    string // KindFull, KindIncr or KindCurrent
	Records int    // records in the copy now
	Changed bool   // File was written
}

// Errors.
var (
	// ErrRefused is a transfer the primary answered with an error code
	// (a *RefusedError).
	ErrRefused = errors.New("secondary: the primary refused the transfer")
	// ErrBadTransfer is an answer that is not a well-formed transfer of
	// the zone, or differences that do not apply to the copy held.
	ErrBadTransfer = errors.New("secondary: bad transfer")
	// ErrHandshake is a TLS connection that failed (a *HandshakeError):
	// the primary not authenticated by DANE, or this secondary refused.
	ErrHandshake = errors.New("secondary: TLS handshake with the primary failed")
)

// RefusedError is the primary's error code for a transfer.
type RefusedError struct {
	Primary string
	Rcode   int
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("secondary: %s refused the transfer: %s", e.Primary, dns.RcodeToString[e.Rcode])
}
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// HandshakeError is a failed connection to the primary. verify.ReasonOf
// gives the reason when the primary was not authenticated; a handshake the
// primary refused ends with a TLS alert from it (handshake_failure,
// certificate_required).
type HandshakeError struct {
	Primary string
	Err     error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("secondary: TLS handshake with %s failed: %v", e.Primary, e.Err)
}
func (e *HandshakeError) Unwrap() error        { return e.Err }
func (e *HandshakeError) Is(target error) bool { return target == ErrHandshake }

// FileError is a copy in Config.File that cannot be used: unreadable,
// or not a zone file of Config.Zone. Nothing is overwritten; remove the
// file to transfer the whole zone again.
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("secondary: %s: %v (remove it to transfer the whole zone again)", e.File, e.Err)
}
func (e *FileError) Unwrap() error { return e.Err }

// Secondary keeps one zone's copy. Make it with New.
type Secondary struct {
	cfg    Config
	origin string
	tls    *tls.Config
	log    *slog.Logger

	mu      sync.Mutex // one refresh at a time; guards the copy
	records map[string]dns.RR
	soa     *dns.SOA // nil: no copy yet

	notifyc chan struct{}
	st      state
	metrics *metrics
	// xfer makes one transfer: transfer, or a test's primary.
	xfer func(context.Context) ([]dns.RR, error)
}

// New checks cfg, makes the TLS configuration and reads the copy in
// cfg.File, if there is one.
func New(cfg Config) (*Secondary, error) {
	switch {
	case cfg.Zone == "":
		return nil, errors.New("secondary: no zone")
	case cfg.Primary == "":
		return nil, errors.New("secondary: no primary")
	case cfg.File == "":
		return nil, errors.New("secondary: no file for the zone")
	case len(cfg.Identity.Certificate) == 0:
		return nil, errors.New("secondary: no identity to present")
	case cfg.Verifier == nil:
		return nil, errors.New("secondary: no verifier to authenticate the primary")
	}
	if _, ok := dns.IsDomainName(cfg.Zone); !ok {
		return nil, fmt.Errorf("secondary: zone %q: not a domain name", cfg.Zone)
	}
	if cfg.Addr == "" {
		cfg.Addr = cfg.Primary
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	pol, err := ParseExpirePolicy(string(cfg.OnExpire))
	if err != nil {
		return nil, err
	}
	cfg.OnExpire = pol
	base := danetls.ClientConfig(&tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{server.ALPN}}, cfg.Identity)
	tc, err := danetls.DANEClientConfig(base, cfg.Verifier, cfg.Primary)
	if err != nil {
		return nil, fmt.Errorf("secondary: primary %q: %w", cfg.Primary, err)
	}
	s := &Secondary{cfg: cfg, origin: dns.CanonicalName(cfg.Zone), tls: tc, log: cfg.Logger,
		records: map[string]dns.RR{}, notifyc: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.xfer = s.transfer
	if err := s.load(); err != nil {
		return nil, err
	}
	s.setCopy()
	if s.metrics, err = newMetrics(cfg.Registerer, s.origin); err != nil {
		return nil, err
	}
	return s, nil
}

// Serial returns the serial of the copy held, and false without one.
func (s *Secondary) Serial() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.soa == nil {
		return 0, false
	}
	return s.soa.Serial, true
}

// load reads the copy in cfg.File.
func (s *Secondary) load() error {
	data, err := os.ReadFile(s.cfg.File)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &FileError{File: s.cfg.File, Err: err}
	}
	zp := dns.NewZoneParser(bytes.NewReader(data), s.origin, s.cfg.File)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return &FileError{File: s.cfg.File, Err: err}
	}
	if len(rrs) == 0 {
		return nil
	}
	soa, ok := rrs[0].(*dns.SOA)
	if !ok || dns.CanonicalName(soa.Hdr.Name) != s.origin {
		return &FileError{File: s.cfg.File, Err: fmt.Errorf("does not start with the SOA of %s", s.origin)}
	}
	for _, rr := range rrs[1:] {
		if !dns.IsSubDomain(s.origin, dns.CanonicalName(rr.Header().Name)) {
			return &FileError{File: s.cfg.File, Err: fmt.Errorf("record %s is outside %s", rr.Header().Name, s.origin)}
		}
		s.records[key(rr)] = rr
	}
	s.soa = soa
	return nil
}

// key identifies an RR in the copy: owner (lower case), class, type and
// data; not the TTL, as IXFR deletions need not repeat it.
func key(rr dns.RR) string {
	c := dns.Copy(rr)
	h := c.Header()
	h.Name, h.Ttl = strings.ToLower(h.Name), 0
	return c.String()
}

// Refresh brings the copy up to date with one transfer (RFC 1995: IXFR
// from the serial held, AXFR without a copy) and writes File when it
// changed.
func (s *Secondary) Refresh(ctx context.Context) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res, err := s.refresh(ctx)
	if err := s.refreshed(time.Now(), err); err != nil {
		return Result{}, err
	}
	lvl := slog.LevelInfo
	if res.Kind == KindCurrent {
		lvl = slog.LevelDebug
	}
	s.log.Log(ctx, lvl, "zone refreshed", "zone", s.origin, "primary", s.cfg.Primary, "serial", res.Serial, "form", res.Kind, "records", res.Records)
	return res, nil
}

// refresh is Refresh's transfer, applied and written; the caller holds
// s.mu.
func (s *Secondary) refresh(ctx context.Context) (Result, error) {
	rrs, err := s.xfer(ctx)
	if err != nil {
		return Result{}, err
	}
	res, err := s.apply(rrs)
	if err != nil {
		return Result{}, err
	}
	s.setCopy()
	if res.Changed {
		if err := s.write(); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// transfer connects, asks and returns every RR of the answer.
func (s *Secondary) transfer(ctx context.Context) ([]dns.RR, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("secondary: connecting to %s: %w", s.cfg.Primary, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	c := tls.Client(nc, s.tls)
	if err := c.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, &HandshakeError{Primary: s.cfg.Primary, Err: err}
	}
	m := new(dns.Msg)
	if s.soa != nil {
		m.SetIxfr(s.origin, s.soa.Serial, s.soa.Ns, s.soa.Mbox)
	} else {
		m.SetAxfr(s.origin)
	}
	hc := &headerConn{Conn: c}
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: hc}, ReadTimeout: s.cfg.Timeout}
	if k := s.cfg.TSIG; k != nil {
		tr.TsigSecret = map[string]string{k.Name: k.Base64()}
		m.SetTsig(k.Name, k.WireAlgorithm(), 300, time.Now().Unix())
	}
	ch, err := tr.In(m, s.cfg.Addr)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("secondary: sending the transfer request to %s: %w", s.cfg.Primary, err)
	}
	var out []dns.RR
	var ferr error
	for env := range ch {
		if env.Error != nil && ferr == nil {
			ferr = env.Error
		}
		out = append(out, env.RR...)
	}
	if ferr != nil {
		// In TLS 1.3 the client's handshake is over before the server
		// has checked the client's certificate: its refusal is an alert
		// read with the first answer.
		var op *net.OpError
		if errors.As(ferr, &op) && op.Op == "remote error" {
			return nil, &HandshakeError{Primary: s.cfg.Primary, Err: ferr}
		}
		if rcode, ok := hc.rcode(); ok && rcode != dns.RcodeSuccess {
			return nil, &RefusedError{Primary: s.cfg.Primary, Rcode: rcode}
		}
		return nil, fmt.Errorf("secondary: transfer from %s: %w", s.cfg.Primary, ferr)
	}
	return out, nil
}

// headerConn keeps the first bytes read from a DNS-over-TCP stream: the
// two-byte length (RFC 1035 §4.2.2) and the start of the first message's
// header, whose RCODE says whether the primary refused the transfer.
type headerConn struct {
	net.Conn
	head [6]byte
	n    int
}

func (c *headerConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.n < len(c.head) {
		c.n += copy(c.head[c.n:], p[:n])
	}
	return n, err
}

// rcode is the RCODE in the header of the first message read (RFC 1035
// §4.1.1: the low four bits of the header's fourth byte), if one was.
func (c *headerConn) rcode() (int, bool) {
	if c.n < len(c.head) {
		return 0, false
	}
	return int(c.head[5] & 0x0f), true
}

// apply takes an answer into the copy: a whole zone (AXFR form), the SOA
// alone (current), or differences (RFC 1995 §4). The copy changes only
// when the whole answer applies.
func (s *Secondary) apply(rrs []dns.RR) (Result, error) {
	bad := func(format string, a ...any) (Result, error) {
		return Result{}, fmt.Errorf("%w from %s: %s", ErrBadTransfer, s.cfg.Primary, fmt.Sprintf(format, a...))
	}
	if len(rrs) == 0 {
		return bad("no records")
	}
	newest, ok := rrs[0].(*dns.SOA)
	if !ok || dns.CanonicalName(newest.Hdr.Name) != s.origin {
		return bad("the answer does not start with the zone's SOA")
	}
	for _, rr := range rrs {
		if !dns.IsSubDomain(s.origin, dns.CanonicalName(rr.Header().Name)) {
			return bad("record %s is outside the zone", rr.Header().Name)
		}
	}
	if len(rrs) == 1 {
		if s.soa == nil || int32(newest.Serial-s.soa.Serial) > 0 {
			return bad("the SOA alone, serial %d, for a copy at %v", newest.Serial, s.serialText())
		}
		return Result{Serial: s.soa.Serial, Kind: KindCurrent, Records: len(s.records) + 1}, nil
	}
	last, ok := rrs[len(rrs)-1].(*dns.SOA)
	if !ok || last.Serial != newest.Serial {
		return bad("the answer does not end with the SOA it started with")
	}
	if _, incr := rrs[1].(*dns.SOA); !incr {
		// The whole zone.
		recs := make(map[string]dns.RR, len(rrs))
		for _, rr := range rrs[1 : len(rrs)-1] {
			if rr.Header().Rrtype == dns.TypeSOA {
				return bad("a second SOA inside a full transfer")
			}
			recs[key(rr)] = rr
		}
		s.records, s.soa = recs, newest
		return Result{Serial: newest.Serial, Kind: KindFull, Records: len(recs) + 1, Changed: true}, nil
	}
	if s.soa == nil {
		return bad("differences for a secondary without a copy")
	}
	// Differences: (old SOA, deletions, new SOA, additions)+, newest SOA.
	recs := make(map[string]dns.RR, len(s.records))
	for k, v := range s.records {
		recs[k] = v
	}
	cur := s.soa.Serial
	i := 1
	for i < len(rrs)-1 {
		old, ok := rrs[i].(*dns.SOA)
		if !ok || old.Serial != cur {
			return bad("differences from serial %v, the copy is at %d", serialOf(rrs[i]), cur)
		}
		i++
		for ; i < len(rrs)-1 && rrs[i].Header().Rrtype != dns.TypeSOA; i++ {
			k := key(rrs[i])
			if _, ok := recs[k]; !ok {
				return bad("deletes %s, which the copy does not hold", rrs[i])
			}
			delete(recs, k)
		}
		next, ok := rrs[i].(*dns.SOA)
		if !ok {
			return bad("a version without its new SOA")
		}
		i++
		for ; i < len(rrs)-1 && rrs[i].Header().Rrtype != dns.TypeSOA; i++ {
			recs[key(rrs[i])] = rrs[i]
		}
		cur = next.Serial
	}
	if cur != newest.Serial {
		return bad("differences end at serial %d, not %d", cur, newest.Serial)
	}
	s.records, s.soa = recs, newest
	return Result{Serial: newest.Serial, Kind: KindIncr, Records: len(recs) + 1, Changed: true}, nil
}

func (s *Secondary) serialText() string {
	if s.soa == nil {
		return "none"
	}
	return fmt.Sprint(s.soa.Serial)
}

func serialOf(rr dns.RR) any {
	if soa, ok := rr.(*dns.SOA); ok {
		return soa.Serial
	}
	return "none (" + dns.TypeToString[rr.Header().Rrtype] + ")"
}

// write writes the copy to File atomically: SOA first, then the records
// sorted by owner and type, one a line.
func (s *Secondary) write() error {
	lines := make([]string, 0, len(s.records))
	for _, rr := range s.records {
		lines = append(lines, rr.String())
	}
	sort.Strings(lines)
	var b bytes.Buffer
	fmt.Fprintf(&b, "; %s serial %d, transferred from %s\n", s.origin, s.soa.Serial, s.cfg.Primary)
	b.WriteString(s.soa.String() + "\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if err := atomicfile.WriteFile(s.cfg.File, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("secondary: writing the zone: %w", err)
	}
	return nil
}

// Notify asks for a refresh, as a NOTIFY does; Run takes it at most once
// every NotifyMinInterval.
func (s *Secondary) Notify() {
	select {
	case s.notifyc <- struct{}{}:
	default:
	}
}

// Run refreshes at once, then when the SOA refresh timer runs out (the
// retry timer after a failure) and on NOTIFY, until ctx is done. Failures
// are logged and retried; Run returns nil when ctx ends, or the failure
// of the NOTIFY listener.
func (s *Secondary) Run(ctx context.Context) error {
	var notifyErr chan error
	if s.cfg.NotifyListen != "" {
		pc, err := net.ListenPacket("udp", s.cfg.NotifyListen)
		if err != nil {
			return fmt.Errorf("secondary: NOTIFY listener: %w", err)
		}
		srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serveNotify)}
		notifyErr = make(chan error, 1)
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { notifyErr <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-notifyErr:
			return fmt.Errorf("secondary: NOTIFY listener: %w", err)
		}
		s.log.Info("listening for NOTIFY", "addr", pc.LocalAddr().String())
		defer func() {
			srv.Shutdown()
			<-notifyErr
		}()
	}
	var lastNotify time.Time
	s.startClock(time.Now())
	for {
		ok := s.refreshOnce(ctx)
		s.checkExpiry(time.Now())
		notified, err := s.wait(ctx, s.timer(ok), notifyErr)
		if err != nil || ctx.Err() != nil {
			return err
		}
		if notified {
			if d := time.Until(lastNotify.Add(NotifyMinInterval)); d > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(d):
				}
			}
			lastNotify = time.Now()
		}
	}
}

// wait waits d, or for a NOTIFY (notified), ctx or the NOTIFY listener's
// failure, marking the copy expired if its time comes meanwhile.
func (s *Secondary) wait(ctx context.Context, d time.Duration, notifyErr chan error) (notified bool, err error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		var expC <-chan time.Time
		var et *time.Timer
		if left, ok := s.untilExpiry(time.Now()); ok {
			et = time.NewTimer(max(left, 0))
			expC = et.C
		}
		stop := func() {
			if et != nil {
				et.Stop()
			}
		}
		select {
		case <-ctx.Done():
			stop()
			return false, nil
		case err := <-notifyErr:
			stop()
			return false, fmt.Errorf("secondary: NOTIFY listener: %w", err)
		case <-t.C:
			stop()
			return false, nil
		case <-s.notifyc:
			stop()
			return true, nil
		case <-expC:
			s.checkExpiry(time.Now())
		}
	}
}

// refreshOnce refreshes and logs a failure; it reports success.
func (s *Secondary) refreshOnce(ctx context.Context) bool {
	if _, err := s.Refresh(ctx); err != nil {
		if ctx.Err() == nil {
			s.log.Error("refresh failed", "zone", s.origin, "primary", s.cfg.Primary, "err", err)
		}
		return false
	}
	return true
}

// timer is the wait before the next refresh: the SOA's refresh after a
// success, its retry after a failure (RFC 1035 §3.3.13), clamped.
func (s *Secondary) timer(ok bool) time.Duration {
	s.mu.Lock()
	soa := s.soa
	s.mu.Unlock()
	d := MinRefresh * 6
	if soa != nil {
		d = time.Duration(soa.Refresh) * time.Second
		if !ok {
			d = time.Duration(soa.Retry) * time.Second
		}
	}
	return clampRefresh(d)
}

// clampRefresh clamps a refresh or retry timer to MinRefresh..MaxRefresh.
func clampRefresh(d time.Duration) time.Duration {
	return min(max(d, MinRefresh), MaxRefresh)
}

// serveNotify answers NOTIFY for the zone (RFC 1996 §3.7) and asks for a
// refresh; anything else is refused.
func (s *Secondary) serveNotify(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	if r.Opcode != dns.OpcodeNotify || len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeRefused)
		w.WriteMsg(m)
		return
	}
	if dns.CanonicalName(r.Question[0].Name) != s.origin {
		m.SetRcode(r, dns.RcodeNotAuth)
		w.WriteMsg(m)
		return
	}
	m.SetReply(r)
	m.Authoritative = true
	w.WriteMsg(m)
	s.log.Info("NOTIFY received", "zone", s.origin, "from", w.RemoteAddr().String())
	s.Notify()
}
