package server

import (
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/internal/image"
	"github.com/dnsbound/dance/zone/internal/journal"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// ixfrVersions parses an RFC 1995 §4 incremental answer into versions.
func ixfrVersions(t *testing.T, rrs []dns.RR) []journal.Version {
	t.Helper()
	if len(rrs) < 3 {
		t.Fatalf("not an incremental answer: %d records", len(rrs))
	}
	newest, ok := rrs[0].(*dns.SOA)
	last, ok2 := rrs[len(rrs)-1].(*dns.SOA)
	if !ok || !ok2 || newest.Serial != last.Serial {
		t.Fatalf("incremental answer not framed by the newest SOA: %v … %v", rrs[0], rrs[len(rrs)-1])
	}
	if _, ok := rrs[1].(*dns.SOA); !ok {
		t.Fatalf("AXFR form, not incremental: second record %v", rrs[1])
	}
	var vs []journal.Version
	var cur *journal.Version
	adding := false
	for _, rr := range rrs[1 : len(rrs)-1] {
		if soa, ok := rr.(*dns.SOA); ok {
			if !adding && cur != nil {
				cur.To = soa
				adding = true
				continue
			}
			if cur != nil {
				vs = append(vs, *cur)
			}
			cur, adding = &journal.Version{From: soa}, false
			continue
		}
		if adding {
			cur.Added = append(cur.Added, rr)
		} else {
			cur.Deleted = append(cur.Deleted, rr)
		}
	}
	if cur == nil || cur.To == nil {
		t.Fatal("incremental answer ends inside a version")
	}
	return append(vs, *cur)
}

func sortedStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs[:len(rrs)-1] {
		out = append(out, rr.String())
	}
	sort.Strings(out)
	return out
}

// TestIXFRFromJournal: a client that transferred the zone at some serial
// gets only the differences afterwards, over TCP (Go client and kdig) and
// over UDP when they fit; applied to its copy they give the current zone.
func TestIXFRFromJournal(t *testing.T) {
	xk, _ := tsigkey.Generate("xfr.devices.test.", tsigkey.HMACSHA256)
	ts := startServerWith(t, func(c *Config) {
		c.TransferFrom = loopback
		c.TransferKeys = []*tsigkey.Key{xk}
		c.MaxUDPSize = 4096 // one version's differences fit in a datagram
	})
	for i := 0; i < 50; i++ {
		addRR(t, ts.zone, fmt.Sprintf("d%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i))
	}
	base, err := axfr(t, ts.addr, dns.TypeAXFR, 0, xk)
	if err != nil {
		t.Fatal(err)
	}
	s0 := base[0].(*dns.SOA).Serial
	// A serial the server never transferred: the whole zone.
	rrs, err := axfr(t, ts.addr, dns.TypeIXFR, s0-7, xk)
	if err != nil || countType(rrs, dns.TypeTLSA) != 50 {
		t.Fatalf("IXFR from an unknown serial: %v, %d TLSA", err, countType(rrs, dns.TypeTLSA))
	}
	// Two versions: an addition, then a replacement and a removal.
	addRR(t, ts.zone, "n1._device.devices.test. 300 IN TLSA 3 1 1 "+strings.Repeat("ab", 32))
	mid, err := axfr(t, ts.addr, dns.TypeAXFR, 0, xk)
	if err != nil {
		t.Fatal(err)
	}
	del := &dns.ANY{Hdr: dns.RR_Header{Name: "d3._device.devices.test.", Rrtype: dns.TypeANY, Class: dns.ClassANY}}
	if _, err := ts.zone.Update(nil, []dns.RR{del}, zone.Policy{}); err != nil {
		t.Fatal(err)
	}
	addRR(t, ts.zone, "d4._device.devices.test. 300 IN SSHFP 4 2 "+strings.Repeat("cd", 32))

	full, err := axfr(t, ts.addr, dns.TypeIXFR, s0, xk)
	if err != nil {
		t.Fatal(err)
	}
	vs := ixfrVersions(t, full)
	if len(vs) != 2 {
		t.Fatalf("IXFR from %d: %d versions, want 2", s0, len(vs))
	}
	if len(full) >= len(base) {
		t.Errorf("incremental answer (%d records) not smaller than the zone (%d)", len(full), len(base))
	}
	// The server's AXFR now: the journal's content for the current serial.
	now, err := axfr(t, ts.addr, dns.TypeAXFR, 0, xk)
	if err != nil {
		t.Fatal(err)
	}
	got, err := journal.Apply(base, vs)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := sortedStrings(got), sortedStrings(now); strings.Join(a, "\n") != strings.Join(b, "\n") {
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("base + IXFR is not the current zone: %s / %s", a[i], b[i])
			}
		}
		t.Fatalf("base + IXFR is not the current zone: %d vs %d records", len(a), len(b))
	}
	// The server counts a transfer after its last message, which the
	// client may have read first.
	testwait.Until(10*time.Second, func() bool { return ts.srv.metrics.get(xfrIncr.String()) != 0 })
	if ts.srv.metrics.get(xfrIncr.String()) == 0 {
		t.Error("incremental transfer not counted")
	}
	// From the middle version: one version.
	rrs, err = axfr(t, ts.addr, dns.TypeIXFR, mid[0].(*dns.SOA).Serial, xk)
	if err != nil {
		t.Fatal(err)
	}
	if vs := ixfrVersions(t, rrs); len(vs) != 1 || vs[0].From.Serial != mid[0].(*dns.SOA).Serial {
		t.Fatalf("IXFR from the middle version: %d versions", len(vs))
	}

	// kdig IXFR=serial: an incremental answer, signed with the transfer key.
	host, port, _ := net.SplitHostPort(ts.addr)
	out, err := runTool(t, "", "kdig", "@"+host, "-p", port, "-y", "hmac-sha256:"+xk.Name+":"+xk.Base64(),
		"IXFR="+strconv.FormatUint(uint64(s0), 10), origin)
	if err != nil || strings.Contains(out, "failed") || strings.Contains(out, "WARNING") {
		t.Fatalf("kdig IXFR: %v\n%s", err, out)
	}
	var kd []dns.RR
	for _, line := range strings.Split(out, "\n") {
		if line == "" || strings.HasPrefix(line, ";") || strings.Contains(line, "\tTSIG\t") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			t.Fatalf("kdig printed %q: %v", line, err)
		}
		kd = append(kd, rr)
	}
	if len(kd) != len(full) || len(ixfrVersions(t, kd)) != 2 {
		t.Fatalf("kdig IXFR: %d records, want %d\n%s", len(kd), len(full), out)
	}

	// Over UDP the differences fit: the same versions in one message.
	m := new(dns.Msg)
	m.SetIxfr(origin, mid[0].(*dns.SOA).Serial, "ns1.devices.test.", "hostmaster.devices.test.")
	m.SetEdns0(4096, false)
	m.SetTsig(xk.Name, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "udp", TsigSecret: map[string]string{xk.Name: xk.Base64()}, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, ts.addr)
	if err != nil || r.Rcode != dns.RcodeSuccess || r.Truncated {
		t.Fatalf("IXFR over UDP: %v %v", err, r)
	}
	if vs := ixfrVersions(t, r.Answer); len(vs) != 1 {
		t.Fatalf("IXFR over UDP: %d versions", len(vs))
	}
	// Too big for UDP (from s0, without EDNS: 512 octets): the SOA alone.
	m.SetIxfr(origin, s0, "ns1.devices.test.", "hostmaster.devices.test.")
	m.Extra = nil
	m.SetTsig(xk.Name, dns.HmacSHA256, 300, time.Now().Unix())
	r, _, err = c.Exchange(m, ts.addr)
	if err != nil || len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("IXFR over UDP, too big: %v %v", err, r)
	}
}

// TestConcurrentTransfers: clients transfer while the zone changes; every
// copy a client got, brought up to date by IXFR, is the server's zone.
func TestConcurrentTransfers(t *testing.T) {
	ts := startServerWith(t, func(c *Config) { c.TransferFrom = loopback })
	copies := make(chan []dns.RR, 64)
	behind := make(chan []dns.RR, 1)
	done := make(chan struct{})
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, nil)
				if err != nil {
					errs <- err
					return
				}
				select {
				case copies <- rrs:
				default:
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		addRR(t, ts.zone, fmt.Sprintf("c%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i))
		if i == 17 {
			// However the workers are scheduled, one copy is two changes
			// behind: small differences that IXFR must send as such.
			rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			behind <- rrs
		}
	}
	close(done)
	for w := 0; w < 4; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(copies)
	now, err := axfr(t, ts.addr, dns.TypeAXFR, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := append([][]dns.RR{<-behind}, drain(copies)...)
	want := strings.Join(sortedStrings(now), "\n")
	n := 0
	for _, c := range all {
		serial := c[0].(*dns.SOA).Serial
		inc, err := axfr(t, ts.addr, dns.TypeIXFR, serial, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(inc) == 1 { // current already
			if serial != now[0].(*dns.SOA).Serial {
				t.Fatalf("serial %d answered as current", serial)
			}
		} else if _, ok := inc[1].(*dns.SOA); ok {
			got, err := journal.Apply(c, ixfrVersions(t, inc))
			if err != nil {
				t.Fatalf("from serial %d: %v", serial, err)
			}
			c = got
			n++
		} else {
			c = inc // whole zone
		}
		if strings.Join(sortedStrings(c), "\n") != want {
			t.Fatalf("copy at serial %d brought up to date is not the zone", serial)
		}
	}
	if n == 0 {
		t.Error("no copy was brought up to date by differences")
	}
}

// drain returns what a closed channel still holds.
func drain(c <-chan []dns.RR) [][]dns.RR {
	var out [][]dns.RR
	for rrs := range c {
		out = append(out, rrs)
	}
	return out
}

// TestFirstTransferMovesSerial: a server that does not hold what an
// earlier run sent for the zone's serial (no journal file, or a crash)
// moves the serial on before its first transfer, so that no secondary can
// hold that serial with other signatures; later transfers keep it.
func TestFirstTransferMovesSerial(t *testing.T) {
	ts := startServerWith(t, func(c *Config) { c.TransferFrom = loopback })
	s0 := ts.zone.Serial()
	rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	s1 := rrs[0].(*dns.SOA).Serial
	if s1 == s0 || s1 != ts.zone.Serial() {
		t.Fatalf("first transfer at serial %d, the zone was at %d and is at %d", s1, s0, ts.zone.Serial())
	}
	rrs, err = axfr(t, ts.addr, dns.TypeIXFR, s1, nil)
	if err != nil || len(rrs) != 1 || rrs[0].(*dns.SOA).Serial != s1 {
		t.Fatalf("second transfer: %v %v, want the SOA at %d alone", err, head(rrs), s1)
	}
}

func head(rrs []dns.RR) []dns.RR { return rrs[:min(3, len(rrs))] }

// serveJournal runs a server on the zone in dir, with the zone's journal
// file, until the returned function stops it (writing the journal file),
// and returns the zone, the server and its address. clock, when not nil,
// is the zone's; log, when not nil, the server's.
func serveJournal(t *testing.T, dir string, key *tsigkey.Key, clock func() time.Time, log *syncLog) (*zone.Zone, *Server, string, func()) {
	t.Helper()
	z, err := zone.Open(dir, zone.Options{Time: clock})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Zone: z, UpdateKeys: []*tsigkey.Key{key}, TransferFrom: loopback, JournalFile: filepath.Join(dir, zone.JournalFile)}
	if log != nil {
		cfg.Logger = log.logger()
	}
	srv, ls, stop := serveConfig(t, cfg, nil)
	return z, srv, ls.Addr(), func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
		z.Close()
	}
}

// TestJournalCopyReleasedAfterRestart: after a restart, the journal's
// newest zone, read from its file, is replaced by the zone's own snapshot
// when the two hold the same RRs, so that the server does not keep a
// second copy of the zone until the serial moves on. Secondaries see no
// difference: the same zone at the same serial, and differences from it
// after the next change.
func TestJournalCopyReleasedAfterRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "zone")
	res, err := zone.Init(dir, zone.InitOptions{Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	z, _, addr, stop := serveJournal(t, dir, res.TSIG, nil, nil)
	for i := range 20 {
		addRR(t, z, fmt.Sprintf("s%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i))
	}
	first, err := axfr(t, addr, dns.TypeAXFR, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	serial := first[0].(*dns.SOA).Serial
	stop()

	var logs syncLog
	z, srv, addr, stop := serveJournal(t, dir, res.TSIG, nil, &logs)
	defer stop()
	const released = "journal's newest zone is the zone's own"
	testwait.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(logs.String(), released) {
			return fmt.Errorf("not logged yet: %q\n%s", released, logs.String())
		}
		return nil
	})
	if newest, _ := srv.journal.Newest(); newest == nil {
		t.Fatal("the journal lost its newest zone")
	} else if _, isCopy := newest.(*image.Image); isCopy {
		t.Fatal("the journal still holds the copy read from its file")
	}
	again, err := axfr(t, addr, dns.TypeAXFR, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].(*dns.SOA).Serial != serial || fmt.Sprint(sortedStrings(again)) != fmt.Sprint(sortedStrings(first)) {
		t.Fatal("the zone sent after the restart is not the one sent before it")
	}
	// The next change reaches a secondary at the old serial as a
	// difference computed from the snapshot adopted.
	addRR(t, z, "late._device.devices.test. 300 IN TLSA 3 1 1 "+strings.Repeat("ab", 32))
	diff, err := axfr(t, addr, dns.TypeIXFR, serial, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) < 4 || len(diff) >= len(first) || !strings.Contains(fmt.Sprint(diff), "late._device") {
		t.Fatalf("IXFR from %d after one change: %d RRs (the zone has %d), want a difference with the new record", serial, len(diff), len(first))
	}
	full, err := axfr(t, addr, dns.TypeAXFR, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := journal.Apply(first, ixfrVersions(t, diff))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sortedStrings(applied), sortedStrings(full); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("the difference applied to the zone of before is not the zone of now")
	}
}

// TestJournalAgedAcrossRestart: the zone a journal file keeps for the
// current serial is sent again after a restart only while its signatures
// are fresh; after a stop longer than half the identity signature
// validity, the serial moves on and the transfer carries new signatures.
// Before, the kept zone was sent with identity signatures close to (or
// past) expiry.
func TestJournalAgedAcrossRestart(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dir := filepath.Join(t.TempDir(), "zone")
	res, err := zone.Init(dir, zone.InitOptions{Origin: origin, Time: clock})
	if err != nil {
		t.Fatal(err)
	}
	serve := func() (*zone.Zone, string, func()) {
		z, _, addr, stop := serveJournal(t, dir, res.TSIG, clock, nil)
		return z, addr, stop
	}
	z, addr, stop := serve()
	addRR(t, z, "s1._device.devices.test. 300 IN TLSA 3 1 1 0102")
	first, err := axfr(t, addr, dns.TypeAXFR, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	// Restarted at once: the kept zone is sent as it was.
	z, addr, stop = serve()
	again, err := axfr(t, addr, dns.TypeAXFR, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sortedStrings(again)) != fmt.Sprint(sortedStrings(first)) {
		t.Fatal("the zone kept across an immediate restart was not sent as it was")
	}
	stop()
	// Restarted after a day and an hour (past half of the 2-day identity
	// validity): new serial, fresh signatures.
	mu.Lock()
	now = now.Add(zone.DefaultIdentitySigValidity/2 + time.Hour)
	mu.Unlock()
	z, addr, stop = serve()
	defer stop()
	later, err := axfr(t, addr, dns.TypeAXFR, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if later[0].(*dns.SOA).Serial == first[0].(*dns.SOA).Serial {
		t.Error("the serial did not move on")
	}
	n := 0
	for _, rr := range later {
		if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == dns.TypeTLSA {
			n++
			if l := time.Unix(int64(sig.Expiration), 0).Sub(clock()); l <= z.IdentitySigValidity()/2 {
				t.Errorf("TLSA signature sent with %v left", l)
			}
		}
	}
	if n == 0 {
		t.Fatal("no TLSA signature in the transfer")
	}
}
