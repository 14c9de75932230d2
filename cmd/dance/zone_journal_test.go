package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// startServe runs `dance zone serve` in-process on the zone directory dir
// with extra flags, on loopback ports it picks, and returns the DNS and
// admin API addresses. The server stops when the test ends.
func startServe(t *testing.T, dir string, extra ...string) (addr, api string) {
	t.Helper()
	addr, api, stop := startServeStop(t, dir, extra...)
	t.Cleanup(func() { stop() })
	return addr, api
}

// startServeStop is startServe returning a function that stops the server
// (as SIGINT/SIGTERM do), checks that it exited 0 and returns what it
// logged.
func startServeStop(t *testing.T, dir string, extra ...string) (addr, api string, stop func() string) {
	t.Helper()
	addr, api, errb, stopCode := adminServe(t, dir, extra...)
	stop = func() string {
		if code := stopCode(); code != 0 {
			t.Errorf("serve exit %d after shutdown: %s", code, errb.String())
		}
		return errb.String()
	}
	return addr, api, stop
}

// --journal-versions bounds the IXFR journal: with one version kept, a
// secondary one change behind gets the difference, one two changes behind
// the whole zone (with the default it would get the differences too).
func TestZoneServeJournalFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	for _, bad := range [][]string{{"--journal-versions", "0"}, {"--journal-records", "-1"}} {
		var e bytes.Buffer
		args := append([]string{"zone", "serve", "--dir", dir}, bad...)
		if code := run(context.Background(), args, nil, &bytes.Buffer{}, &e); code != 2 || !strings.Contains(e.String(), "at least 1") {
			t.Errorf("%v: exit %d, %q", bad, code, e.String())
		}
	}
	addr, api := startServe(t, dir, "--allow-transfer", "127.0.0.1", "--journal-versions", "1")
	serial := func() uint32 {
		m := new(dns.Msg)
		m.SetQuestion("devices.test.", dns.TypeSOA)
		r, err := dns.Exchange(m, addr)
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("SOA query: %v %v", err, r)
		}
		return r.Answer[0].(*dns.SOA).Serial
	}
	// xfr asks for an IXFR from serial over TCP and returns the records.
	xfr := func(from uint32) []dns.RR {
		m := new(dns.Msg)
		m.SetIxfr("devices.test.", from, "ns1.devices.test.", "hostmaster.devices.test.")
		tr := &dns.Transfer{}
		env, err := tr.In(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		var rrs []dns.RR
		for e := range env {
			if e.Error != nil {
				t.Fatal(e.Error)
			}
			rrs = append(rrs, e.RR...)
		}
		return rrs
	}
	add := func(name string) {
		var o, e bytes.Buffer
		if code := run(context.Background(), []string{"zone", "add", "--api", api, "--dir", dir, name, "TLSA", "3 1 1 0102"}, nil, &o, &e); code != 0 {
			t.Fatalf("zone add %s: %d %s", name, code, e.String())
		}
	}
	s1 := serial()
	xfr(s1 - 1) // the journal records s1
	add("j1._device.devices.test")
	s2 := serial()
	xfr(s1) // records s2: version s1→s2
	add("j2._device.devices.test")
	s3 := serial()
	incr := xfr(s2) // records s3: version s2→s3; s1→s2 dropped
	if len(incr) < 3 || incr[1].Header().Rrtype != dns.TypeSOA || incr[1].(*dns.SOA).Serial != s2 {
		t.Fatalf("IXFR from %d (one change behind) is not incremental: %v", s2, head(incr))
	}
	full := xfr(s1)
	if len(full) < 3 || full[1].Header().Rrtype == dns.TypeSOA || full[0].(*dns.SOA).Serial != s3 {
		t.Fatalf("IXFR from %d (two changes behind, one version kept) is not the whole zone: %v", s1, head(full))
	}
}

func head(rrs []dns.RR) []dns.RR { return rrs[:min(3, len(rrs))] }

// Signatures made while serving are saved at the stop and used at the next
// start (zone.SigCacheFile): the second start logs them loaded and answers
// with the very signature the first run made.
func TestZoneServeKeepsSignatures(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	sig := func(addr string) string {
		m := new(dns.Msg)
		m.SetQuestion("k1._device.devices.test.", dns.TypeTLSA)
		m.SetEdns0(1232, true)
		r, err := dns.Exchange(m, addr)
		if err != nil || len(r.Answer) != 2 {
			t.Fatalf("TLSA query: %v %v", err, r)
		}
		return r.Answer[1].(*dns.RRSIG).Signature
	}
	addr, api, stop := startServeStop(t, dir)
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"zone", "add", "--api", api, "--dir", dir, "k1._device.devices.test", "TLSA", "3 1 1 0102"}, nil, &o, &e); code != 0 {
		t.Fatalf("zone add: %s", e.String())
	}
	first := sig(addr)
	if log := stop(); !strings.Contains(log, "signatures saved") {
		t.Fatalf("no save logged at stop:\n%s", log)
	}
	addr, _, stop = startServeStop(t, dir)
	defer stop()
	if again := sig(addr); again != first {
		t.Errorf("signature after restart differs: made again instead of loaded")
	}
	if log := stop(); !strings.Contains(log, "signatures loaded") {
		t.Errorf("no load logged at start:\n%s", log)
	}
}

// The IXFR journal survives a restart (zone.JournalFile): a secondary that
// transferred before the stop gets only the difference of a change made
// after the restart, not the whole zone.
func TestZoneServeJournalAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	xfr := func(addr string, from uint32) []dns.RR {
		m := new(dns.Msg)
		m.SetIxfr("devices.test.", from, "ns1.devices.test.", "hostmaster.devices.test.")
		env, err := (&dns.Transfer{}).In(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		var rrs []dns.RR
		for e := range env {
			if e.Error != nil {
				t.Fatal(e.Error)
			}
			rrs = append(rrs, e.RR...)
		}
		return rrs
	}
	addr, api, stop := startServeStop(t, dir, "--allow-transfer", "127.0.0.1")
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"zone", "add", "--api", api, "--dir", dir, "r1._device.devices.test", "TLSA", "3 1 1 0102"}, nil, &o, &e); code != 0 {
		t.Fatalf("zone add: %s", e.String())
	}
	held := xfr(addr, 0) // what a secondary holds
	s1 := held[0].(*dns.SOA).Serial
	stop()
	addr, api, stop = startServeStop(t, dir, "--allow-transfer", "127.0.0.1")
	defer stop()
	if code := run(context.Background(), []string{"zone", "add", "--api", api, "--dir", dir, "r2._device.devices.test", "TLSA", "3 1 1 0304"}, nil, &o, &e); code != 0 {
		t.Fatalf("zone add: %s", e.String())
	}
	incr := xfr(addr, s1)
	if len(incr) < 3 || incr[1].Header().Rrtype != dns.TypeSOA || incr[1].(*dns.SOA).Serial != s1 {
		t.Fatalf("IXFR from %d after a restart is not incremental: %v", s1, head(incr))
	}
	if len(incr) >= len(held) {
		t.Fatalf("IXFR after the restart has %d RRs, the zone %d", len(incr), len(held))
	}
	if log := stop(); !strings.Contains(log, "journal loaded") {
		t.Errorf("no journal load logged:\n%s", log)
	}
}
