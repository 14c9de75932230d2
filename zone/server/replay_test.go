package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/tsigkey"
)

func TestReplayCache(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	const w = 300 * time.Second
	type step struct {
		key, mac string
		signed   int64 // seconds after start
		at       int64 // server clock, seconds after start
		want     replayVerdict
	}
	for _, tt := range []struct {
		name  string
		max   int
		steps []step
	}{
		{"fresh then seen", 10, []step{
			{"k.", "aa", 1, 1, replayFresh},
			{"k.", "aa", 1, 2, replaySeen},
			{"k.", "aa", 1, 301, replaySeen}, // still within the window
			{"k.", "bb", 1, 2, replayFresh},  // another message
			{"j.", "aa", 1, 2, replayFresh},  // another key, same MAC
		}},
		{"forgotten once the time check refuses it", 10, []step{
			{"k.", "aa", 1, 1, replayFresh},
			{"k.", "cc", 400, 400, replayFresh}, // expires "aa"
			{"k.", "aa", 1, 400, replayFresh},   // the time check would refuse it first
		}},
		{"signed before the start", 10, []step{
			{"k.", "aa", -1, 1, replayTooOld},
			{"k.", "aa", 0, 1, replayFresh},
		}},
		{"full cache raises the floor of the key it forgets", 2, []step{
			{"k.", "a1", 10, 10, replayFresh},
			{"k.", "a2", 11, 11, replayFresh},
			{"j.", "b1", 12, 12, replayFresh}, // forgets a1: k refuses <= 10
			{"k.", "a1", 10, 13, replayTooOld},
			{"k.", "a3", 10, 13, replayTooOld}, // signed with a forgotten one
			{"k.", "a4", 13, 13, replayFresh},  // forgets a2: k refuses <= 11
			{"k.", "a2", 11, 14, replayTooOld},
			{"j.", "b2", 11, 14, replayFresh}, // j's floor is its own
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newReplayCache(w, tt.max, start)
			for i, s := range tt.steps {
				got := c.check(s.key, s.mac, uint64(start.Unix()+s.signed), start.Add(time.Duration(s.at)*time.Second))
				if got != s.want {
					t.Fatalf("step %d (%s %s signed %+d at %+d): %v, want %v", i, s.key, s.mac, s.signed, s.at, got, s.want)
				}
				if n := c.len(); n > tt.max {
					t.Fatalf("step %d: %d entries, bound %d", i, n, tt.max)
				}
			}
		})
	}
}

// A flood of distinct valid updates keeps the cache at its bound, and
// every message of the flood stays refused when sent again.
func TestReplayCacheFlood(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	c := newReplayCache(300*time.Second, 1000, start)
	now := start.Add(time.Second)
	for i := 0; i < 50000; i++ {
		if v := c.check("k.", fmt.Sprint(i), uint64(now.Unix()), now); v != replayFresh {
			t.Fatalf("message %d: %v", i, v)
		}
		if i%1000 == 999 {
			now = now.Add(time.Second)
		}
	}
	if n := c.len(); n != 1000 {
		t.Fatalf("%d entries after the flood, bound 1000", n)
	}
	for _, i := range []int{0, 1, 25000, 48999, 49999} {
		if v := c.check("k.", fmt.Sprint(i), uint64(start.Unix()+1+int64(i/1000)), now); v == replayFresh {
			t.Errorf("message %d accepted again", i)
		}
	}
}

// signedUpdate returns an update of ts's zone adding or deleting rr,
// signed with ts's key at signed with fudge.
func signedUpdate(t testing.TB, ts *testServer, add bool, rr string, signed time.Time, fudge uint16) ([]byte, string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(origin)
	r, err := dns.NewRR(rr)
	if err != nil {
		t.Fatal(err)
	}
	if add {
		m.Insert([]dns.RR{r})
	} else {
		m.RemoveRRset([]dns.RR{r})
	}
	m.SetTsig(ts.key.Name, dns.HmacSHA256, fudge, signed.Unix())
	wire, mac, err := dns.TsigGenerate(m, ts.key.Base64(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	return wire, mac
}

// sendWire sends a packed request over network and returns the packed
// response.
func sendWire(t testing.TB, network, addr string, wire []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if network == "tcp" {
		wire = append(binary.BigEndian.AppendUint16(nil, uint16(len(wire))), wire...)
	}
	if _, err := c.Write(wire); err != nil {
		t.Fatal(err)
	}
	if network == "tcp" {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			t.Fatalf("no reply over tcp: %v", err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := make([]byte, 65535)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("no reply over udp: %v", err)
	}
	return b[:n]
}

// checkBadTime checks that resp answers a request with MAC reqMAC with
// NOTAUTH and BADTIME, signed with ts's key over the request's MAC (RFC
// 8945 §5.2.3), echoing the request's Time Signed and Fudge and carrying
// the server's clock in Other Data.
func checkBadTime(t testing.TB, ts *testServer, resp []byte, reqMAC string, signed time.Time, fudge uint16) {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(resp); err != nil {
		t.Fatal(err)
	}
	tsig := m.IsTsig()
	if m.Rcode != dns.RcodeNotAuth || tsig == nil || tsig.Error != dns.RcodeBadTime {
		t.Fatalf("want NOTAUTH with TSIG error BADTIME, got %v", m)
	}
	if tsig.MAC == "" {
		t.Fatal("BADTIME response is not signed")
	}
	if err := verifyTSIG(resp, ts.key.Secret, reqMAC); err != nil {
		t.Fatalf("BADTIME response does not verify: %v", err)
	}
	if tsig.TimeSigned != uint64(signed.Unix()) || tsig.Fudge != fudge {
		t.Fatalf("BADTIME response: time %d fudge %d, want the request's %d %d", tsig.TimeSigned, tsig.Fudge, signed.Unix(), fudge)
	}
	other, err := hex.DecodeString(tsig.OtherData)
	if err != nil || len(other) != 6 {
		t.Fatalf("other data %q: want the server's 48-bit time", tsig.OtherData)
	}
	var srv int64
	for _, b := range other {
		srv = srv<<8 | int64(b)
	}
	if d := time.Since(time.Unix(srv, 0)); d < -time.Minute || d > time.Minute {
		t.Fatalf("server time in other data is %v away from now", d)
	}
}

// TestTSIGWindowCapsClientFudge: the client's Fudge (up to 65535 s) does not
// widen the server's window. An update signed 10 hours ago with fudge
// 65535 used to be applied.
func TestTSIGWindowCapsClientFudge(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name    string
		window  time.Duration
		signed  time.Time
		fudge   uint16
		applied bool
	}{
		{"10 hours ago, fudge 65535", 0, now.Add(-10 * time.Hour), 65535, false},
		{"10 hours ahead, fudge 65535", 0, now.Add(10 * time.Hour), 65535, false},
		{"400 s ago, fudge 65535", 0, now.Add(-400 * time.Second), 65535, false},
		{"400 s ago, fudge 300", 0, now.Add(-400 * time.Second), 300, false},
		{"200 s ago, fudge 300", 0, now.Add(-200 * time.Second), 300, true},
		{"200 s ago, fudge 100", 0, now.Add(-200 * time.Second), 100, false},
		{"400 s ago, fudge 65535, window 1h", time.Hour, now.Add(-400 * time.Second), 65535, true},
		{"2 h ago, fudge 65535, window 1h", time.Hour, now.Add(-2 * time.Hour), 65535, false},
	} {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				ts := startServerWith(t, func(c *Config) { c.TSIGWindow, c.replayStart = tt.window, now.Add(-3*time.Hour) })
				const rr = "s1._device.devices.test. 300 IN TLSA 3 1 1 abcd"
				wire, mac := signedUpdate(t, ts, true, rr, tt.signed, tt.fudge)
				resp := sendWire(t, network, ts.addr, wire)
				got := len(ts.zone.Get("s1._device.devices.test.", dns.TypeTLSA)) == 1
				if got != tt.applied {
					t.Fatalf("applied %v, want %v", got, tt.applied)
				}
				if tt.applied {
					if err := dns.TsigVerify(resp, ts.key.Base64(), mac, false); err != nil {
						t.Fatalf("response does not verify: %v", err)
					}
					return
				}
				checkBadTime(t, ts, resp, mac, tt.signed, tt.fudge)
				if ts.srv.metrics.get("tsig_badtime") != 1 {
					t.Fatalf("tsig_badtime = %d, want 1", ts.srv.metrics.get("tsig_badtime"))
				}
			})
		}
	}
}

// TestUpdateReplayRefused: an update captured on the wire and sent again
// after the identity was removed does not bring it back, over UDP or TCP;
// the refusal is a signed BADTIME, logged and counted. Before the replay
// cache the add was applied again.
func TestUpdateReplayRefused(t *testing.T) {
	var logs syncLog
	ts := startServerWith(t, func(c *Config) { c.Logger = logs.logger() })
	const name = "s1._device.devices.test."
	const rr = name + " 300 IN TLSA 3 1 1 abcd"
	addWire, addMAC := signedUpdate(t, ts, true, rr, time.Now(), 300)
	if m := unpack(t, sendWire(t, "udp", ts.addr, addWire)); m.Rcode != dns.RcodeSuccess {
		t.Fatalf("add: %v", m)
	}
	delWire, delMAC := signedUpdate(t, ts, false, rr, time.Now(), 300)
	if m := unpack(t, sendWire(t, "tcp", ts.addr, delWire)); m.Rcode != dns.RcodeSuccess {
		t.Fatalf("delete: %v", m)
	}
	if ts.zone.Get(name, dns.TypeTLSA) != nil {
		t.Fatal("identity not removed")
	}
	for i, network := range []string{"udp", "tcp"} {
		resp := sendWire(t, network, ts.addr, addWire)
		checkBadTime(t, ts, resp, addMAC, unpackTime(t, addWire), 300)
		if ts.zone.Get(name, dns.TypeTLSA) != nil {
			t.Fatalf("replayed add over %s brought the revoked identity back", network)
		}
		if got := ts.srv.metrics.get("tsig_replay"); got != uint64(i+1) {
			t.Fatalf("tsig_replay = %d, want %d", got, i+1)
		}
	}
	// A new add by the key holder (a new MAC) is applied; the captured
	// delete cannot undo it.
	addWire2, _ := signedUpdate(t, ts, true, rr, time.Now(), 300)
	if m := unpack(t, sendWire(t, "tcp", ts.addr, addWire2)); m.Rcode != dns.RcodeSuccess {
		t.Fatalf("new add: %v", m)
	}
	checkBadTime(t, ts, sendWire(t, "udp", ts.addr, delWire), delMAC, unpackTime(t, delWire), 300)
	if len(ts.zone.Get(name, dns.TypeTLSA)) != 1 {
		t.Fatal("replayed delete removed the identity")
	}
	if !strings.Contains(logs.String(), "replay") {
		t.Fatalf("replays not logged:\n%s", logs.String())
	}
}

func unpack(t testing.TB, b []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m
}

func unpackTime(t testing.TB, wire []byte) time.Time {
	return time.Unix(int64(unpack(t, wire).IsTsig().TimeSigned), 0)
}

// udpCapture forwards datagrams between a client and the server at
// upstream, keeping a copy of each request; with dropFirst it drops the
// server's answer to the first request, so the client retransmits it.
type udpCapture struct {
	pc        net.PacketConn
	mu        sync.Mutex
	requests  [][]byte
	dropFirst bool
}

func startCapture(t testing.TB, upstream string, dropFirst bool) *udpCapture {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &udpCapture{pc: pc, dropFirst: dropFirst}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := append([]byte(nil), buf[:n]...)
			c.mu.Lock()
			c.requests = append(c.requests, req)
			drop := c.dropFirst && len(c.requests) == 1
			c.mu.Unlock()
			go func() {
				up, err := net.Dial("udp", upstream)
				if err != nil {
					return
				}
				defer up.Close()
				up.SetDeadline(time.Now().Add(10 * time.Second))
				up.Write(req)
				b := make([]byte, 65535)
				n, err := up.Read(b)
				if err != nil {
					return
				}
				if !drop {
					pc.WriteTo(b[:n], from)
				}
			}()
		}
	}()
	return c
}

func (c *udpCapture) addr() string { return c.pc.LocalAddr().String() }

func (c *udpCapture) captured() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.requests...)
}

// TestNsupdateReplayRefused: the real nsupdate adds an identity through a
// capturing relay and removes it; the captured add, sent again, is refused
// with a signed BADTIME and the identity stays removed. An nsupdate whose
// first answer was lost retransmits the same message, which the server
// refuses the same way: nsupdate then reports the BADTIME (the add itself
// was applied once).
func TestNsupdateReplayRefused(t *testing.T) {
	ts := startServer(t, nil)
	keyFile := filepath.Join(ts.dir, zone.TSIGFile)
	const name = "s1._device.devices.test."
	const tlsa = name + " 300 TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	script := func(addr string, lines ...string) string {
		host, port, _ := net.SplitHostPort(addr)
		return fmt.Sprintf("server %s %s\nzone devices.test\n%s\nsend\n", host, port, strings.Join(lines, "\n"))
	}
	relay := startCapture(t, ts.addr, false)
	if out, err := runTool(t, script(relay.addr(), "update add "+tlsa), "nsupdate", "-k", keyFile); err != nil {
		t.Fatalf("nsupdate add: %v\n%s", err, out)
	}
	reqs := relay.captured()
	if len(reqs) != 1 || unpack(t, reqs[0]).Opcode != dns.OpcodeUpdate {
		t.Fatalf("captured %d requests, want the one update", len(reqs))
	}
	captured := reqs[0]
	if out, err := runTool(t, script(ts.addr, "update delete "+name+" TLSA"), "nsupdate", "-k", keyFile); err != nil {
		t.Fatalf("nsupdate delete: %v\n%s", err, out)
	}
	if ts.zone.Get(name, dns.TypeTLSA) != nil {
		t.Fatal("identity not removed")
	}
	req := unpack(t, captured)
	resp := sendWire(t, "udp", ts.addr, captured)
	checkBadTime(t, ts, resp, req.IsTsig().MAC, time.Unix(int64(req.IsTsig().TimeSigned), 0), req.IsTsig().Fudge)
	if ts.zone.Get(name, dns.TypeTLSA) != nil {
		t.Fatal("replayed nsupdate message brought the removed identity back")
	}

	// A lost answer: nsupdate retransmits the same bytes and is told BADTIME.
	lossy := startCapture(t, ts.addr, true)
	out, err := runTool(t, script(lossy.addr(), "update add "+tlsa), "nsupdate", "-t", "20", "-u", "1", "-r", "3", "-k", keyFile)
	if err == nil || !strings.Contains(out, "BADTIME") {
		t.Fatalf("retransmitted update: err %v, output %q; want a BADTIME report", err, out)
	}
	if n := len(lossy.captured()); n < 2 {
		t.Fatalf("nsupdate sent %d copies, want a retransmission", n)
	}
	if len(ts.zone.Get(name, dns.TypeTLSA)) != 1 {
		t.Fatal("the first copy of the update was not applied")
	}
	t.Logf("nsupdate on a replayed message:\n%s", out)
}

// syncLog collects a server's log lines for a test to read.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *syncLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// verifyTSIG checks the HMAC-SHA256 MAC of a signed response over the
// request's MAC, the message and the TSIG variables (RFC 8945 §4.3.1,
// §4.3.3). The dns library refuses to verify any NOTAUTH message, which
// a BADTIME response is, so the test computes it itself.
func verifyTSIG(resp []byte, secret []byte, reqMAC string) error {
	m := new(dns.Msg)
	if err := m.Unpack(resp); err != nil {
		return err
	}
	tsig := m.IsTsig()
	if tsig == nil {
		return errors.New("no TSIG")
	}
	// The message as sent, without the TSIG record, with the original ID
	// and the additional count less one.
	var buf []byte
	rm, err := hex.DecodeString(reqMAC)
	if err != nil {
		return err
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(rm)))
	buf = append(buf, rm...)
	raw := append([]byte(nil), resp[:tsigOffset(resp)]...)
	binary.BigEndian.PutUint16(raw[0:], tsig.OrigId)
	binary.BigEndian.PutUint16(raw[10:], binary.BigEndian.Uint16(raw[10:])-1)
	buf = append(buf, raw...)
	name := make([]byte, 256)
	n, _ := dns.PackDomainName(dns.CanonicalName(tsig.Hdr.Name), name, 0, nil, false)
	buf = append(buf, name[:n]...)
	buf = binary.BigEndian.AppendUint16(buf, dns.ClassANY)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	n, _ = dns.PackDomainName(dns.CanonicalName(tsig.Algorithm), name, 0, nil, false)
	buf = append(buf, name[:n]...)
	buf = append(buf, byte(tsig.TimeSigned>>40), byte(tsig.TimeSigned>>32), byte(tsig.TimeSigned>>24), byte(tsig.TimeSigned>>16), byte(tsig.TimeSigned>>8), byte(tsig.TimeSigned))
	buf = binary.BigEndian.AppendUint16(buf, tsig.Fudge)
	buf = binary.BigEndian.AppendUint16(buf, tsig.Error)
	other, err := hex.DecodeString(tsig.OtherData)
	if err != nil {
		return err
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(other)))
	buf = append(buf, other...)
	h := hmac.New(sha256.New, secret)
	h.Write(buf)
	got, err := hex.DecodeString(tsig.MAC)
	if err != nil || !hmac.Equal(got, h.Sum(nil)) {
		return errors.New("MAC does not verify")
	}
	return nil
}

// tsigOffset returns where the last additional record, the TSIG, starts.
func tsigOffset(msg []byte) int {
	var h dns.Header
	h.Qdcount = binary.BigEndian.Uint16(msg[4:])
	off := 12
	for i := 0; i < int(h.Qdcount); i++ {
		_, o, _ := dns.UnpackDomainName(msg, off)
		off = o + 4
	}
	counts := int(binary.BigEndian.Uint16(msg[6:])) + int(binary.BigEndian.Uint16(msg[8:])) + int(binary.BigEndian.Uint16(msg[10:])) - 1
	for i := 0; i < counts; i++ {
		_, o, err := dns.UnpackRR(msg, off)
		if err != nil {
			return len(msg)
		}
		off = o
	}
	return off
}

// TestTransferTSIGWindow: a transfer request signed long ago with a wide
// Fudge is refused with a signed BADTIME, not answered with the zone; one
// signed now is answered. (Transfers change nothing, so a copy of a
// request within the window is answered again: it sends what the copied
// request's answer already showed.)
func TestTransferTSIGWindow(t *testing.T) {
	xk, err := tsigkey.Generate("xfr.devices.test.", tsigkey.HMACSHA256)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerWith(t, func(c *Config) { c.TransferFrom, c.TransferKeys = loopback, []*tsigkey.Key{xk} })
	ts.key = xk
	for _, tt := range []struct {
		name   string
		signed time.Time
		fudge  uint16
		ok     bool
	}{
		{"now", time.Now(), 300, true},
		{"10 hours ago, fudge 65535", time.Now().Add(-10 * time.Hour), 65535, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion(origin, dns.TypeAXFR)
			m.SetTsig(xk.Name, xk.WireAlgorithm(), tt.fudge, tt.signed.Unix())
			wire, mac, err := dns.TsigGenerate(m, xk.Base64(), "", false)
			if err != nil {
				t.Fatal(err)
			}
			resp := sendWire(t, "tcp", ts.addr, wire)
			r := unpack(t, resp)
			if tt.ok {
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != dns.TypeSOA {
					t.Fatalf("transfer refused: %v", r)
				}
				return
			}
			if len(r.Answer) != 0 {
				t.Fatalf("transfer signed 10 hours ago answered with %d records", len(r.Answer))
			}
			checkBadTime(t, ts, resp, mac, tt.signed, tt.fudge)
		})
	}
}
