package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// crashOrigin is the zone of TestZoneServeJournalAfterKill.
const crashOrigin = "devices.test."

// danceProc is a `dance zone serve` process.
type danceProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan struct{}
}

// startDanceProc starts the binary bin serving dir with transfers allowed
// from loopback, and waits until it prints its address.
func startDanceProc(t *testing.T, bin, dir string) *danceProc {
	t.Helper()
	cmd := exec.Command(bin, "zone", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "off", "--allow-transfer", "127.0.0.1")
	p := &danceProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`on (127\.0\.0\.1:\d+) \(udp, tcp\)`)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	select {
	case p.addr = <-addrc:
		return p
	case <-p.done:
		t.Fatalf("dance zone serve exited at start: %s", p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("dance zone serve did not report its address: %s", p.stderr.String())
	}
	return nil
}

// kill sends sig and waits for the process to end.
func (p *danceProc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *danceProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// secondaryCopy is what a secondary holds: the zone in AXFR form (SOA
// first and last).
type secondaryCopy struct {
	rrs []dns.RR
}

func (c *secondaryCopy) serial() uint32 { return c.rrs[0].(*dns.SOA).Serial }

// transferIn runs an AXFR (from == nil) or an IXFR from *from over TCP and
// returns the records, or an error when the transfer did not complete.
func transferIn(addr string, from *uint32) ([]dns.RR, error) {
	m := new(dns.Msg)
	if from == nil {
		m.SetAxfr(crashOrigin)
	} else {
		m.SetIxfr(crashOrigin, *from, "ns1."+crashOrigin, "hostmaster."+crashOrigin)
	}
	tr := &dns.Transfer{DialTimeout: 5 * time.Second, ReadTimeout: 20 * time.Second}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			return nil, env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	if len(rrs) == 0 {
		return nil, fmt.Errorf("empty transfer")
	}
	first, ok1 := rrs[0].(*dns.SOA)
	last, ok2 := rrs[len(rrs)-1].(*dns.SOA)
	if !ok1 || !ok2 || first.Serial != last.Serial {
		return nil, fmt.Errorf("transfer cut short (%d RRs)", len(rrs))
	}
	return rrs, nil
}

// applyIXFR applies an IXFR answer to c as a secondary does (RFC 1995 §4):
// the SOA alone when c is current, the whole zone in AXFR form, or
// versions of differences. It reports whether the answer was incremental.
func applyIXFR(c *secondaryCopy, rrs []dns.RR) (bool, error) {
	newest := rrs[0].(*dns.SOA)
	if len(rrs) == 1 {
		if newest.Serial != c.serial() {
			return false, fmt.Errorf("SOA alone at serial %d, the copy is at %d", newest.Serial, c.serial())
		}
		return false, nil
	}
	if _, ok := rrs[1].(*dns.SOA); !ok {
		c.rrs = rrs // the whole zone
		return false, nil
	}
	// The copy's records, minus SOA, keyed by presentation form; the
	// differences apply in order, each from the serial the previous one
	// reached (RFC 1995 §4).
	serial := c.serial()
	held := map[string]dns.RR{}
	var order []string
	for _, rr := range c.rrs[1 : len(c.rrs)-1] {
		if k := rr.String(); rr.Header().Rrtype != dns.TypeSOA && held[k] == nil {
			held[k] = rr
			order = append(order, k)
		}
	}
	var to *dns.SOA
	for i := 1; i < len(rrs)-1; {
		from := rrs[i].(*dns.SOA)
		if from.Serial != serial {
			return true, fmt.Errorf("version from %d, the copy is at %d", from.Serial, serial)
		}
		to = nil
		for i++; i < len(rrs); i++ {
			if soa, ok := rrs[i].(*dns.SOA); ok {
				to = soa
				break
			}
			k := rrs[i].String()
			if held[k] == nil {
				return true, fmt.Errorf("serial %d deletes %s, which the copy does not hold", from.Serial, k)
			}
			delete(held, k)
		}
		if to == nil {
			return false, fmt.Errorf("version from %d without a new SOA", from.Serial)
		}
		for i++; i < len(rrs); i++ {
			if _, ok := rrs[i].(*dns.SOA); ok {
				break
			}
			if k := rrs[i].String(); held[k] == nil {
				held[k] = rrs[i]
				order = append(order, k)
			}
		}
		serial = to.Serial
	}
	if to == nil || to.Serial != newest.Serial {
		return true, fmt.Errorf("differences lead to %d, the answer says %d", serial, newest.Serial)
	}
	out := []dns.RR{to}
	for _, k := range order {
		if rr := held[k]; rr != nil {
			out = append(out, rr)
			held[k] = nil
		}
	}
	c.rrs = append(out, to)
	return true, nil
}

func zoneStrings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs[:len(rrs)-1] { // the closing SOA repeats the first
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

// TestZoneServeJournalAfterKill kills `dance zone serve` with SIGKILL at
// random points of a stream of updates and transfers (and stops it in
// order now and then, so that a journal file is written), restarts it,
// and checks that every secondary's copy, brought up to date by IXFR from
// whatever the restarted server holds, is the zone an AXFR gives, and at
// the end that the AXFR is the stored zone.
//
// Before the journal recorded the store's generation and a run moved the
// serial on before its first transfer, a server restarted after a crash
// signed the zone at the serial it found again: a secondary that got that
// serial before the crash was told it was current, kept other signatures
// than the AXFR, and the next differences did not apply to its copy.
func TestZoneServeJournalAfterKill(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dance")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", crashOrigin, "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	keys, err := tsigkey.ReadFile(filepath.Join(dir, zone.TSIGFile))
	if err != nil {
		t.Fatal(err)
	}
	key := keys[0]
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var names atomic.Int64
	// update adds an identity, or removes an earlier one; it returns an
	// error when the server did not apply it (killed meanwhile).
	update := func(addr string, r *rand.Rand) error {
		m := new(dns.Msg)
		m.SetUpdate(crashOrigin)
		n := names.Add(1)
		rr, _ := dns.NewRR(fmt.Sprintf("n%d._device.%s 300 IN TLSA 3 1 1 %016x", n, crashOrigin, r.Uint64()))
		if n > 3 && r.IntN(3) == 0 {
			m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: fmt.Sprintf("n%d._device.%s", r.Int64N(n-1)+1, crashOrigin), Rrtype: dns.TypeTLSA, Class: dns.ClassINET}}})
		} else {
			m.Insert([]dns.RR{rr})
		}
		m.SetTsig(key.Name, key.WireAlgorithm(), 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{key.Name: key.Base64()}}
		resp, _, err := c.Exchange(m, addr)
		if err != nil {
			return err
		}
		if resp.Rcode != dns.RcodeSuccess {
			return fmt.Errorf("update: %s", dns.RcodeToString[resp.Rcode])
		}
		return nil
	}
	var reference []dns.RR // the last AXFR of a quiet zone
	incremental := 0       // IXFR answers applied right after a restart
	// check brings every secondary up to date by IXFR and compares it
	// with an AXFR; nothing changes the zone meanwhile.
	check := func(p *danceProc, secs []*secondaryCopy, when string) {
		t.Helper()
		axfr, err := transferIn(p.addr, nil)
		if err != nil {
			t.Fatalf("%s: AXFR: %v\n%s", when, err, p.stderr.String())
		}
		want := zoneStrings(axfr)
		for i, c := range secs {
			from := c.serial()
			rrs, err := transferIn(p.addr, &from)
			if err != nil {
				t.Fatalf("%s: secondary %d: IXFR from %d: %v", when, i, from, err)
			}
			incr, err := applyIXFR(c, rrs)
			if err != nil {
				t.Fatalf("%s: secondary %d: the IXFR from %d does not apply to its copy: %v", when, i, from, err)
			}
			if incr && when == "after the restart" {
				incremental++
			}
			if got := zoneStrings(c.rrs); !slices.Equal(got, want) {
				t.Fatalf("%s: secondary %d, at %d before the IXFR (incremental %v), holds a zone at %d that differs from the AXFR at %d:\n%s",
					when, i, from, incr, c.serial(), axfr[0].(*dns.SOA).Serial, diffStrings(got, want))
			}
		}
		reference = axfr
	}
	var secs []*secondaryCopy
	const iterations = 9
	for iter := 0; iter < iterations; iter++ {
		p := startDanceProc(t, bin, dir)
		check(p, secs, "after the restart")
		if err := update(p.addr, rng); err != nil {
			t.Fatalf("update after the restart: %v\n%s", err, p.stderr.String())
		}
		check(p, secs, "after a change")
		axfr, err := transferIn(p.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		secs = append(secs, &secondaryCopy{rrs: axfr})

		// A stream of updates, and secondaries refreshing at random
		// moments, until the end of this run.
		stopStream := make(chan struct{})
		var killed atomic.Bool // SIGKILL sent: errors from now on are the crash's
		var wg sync.WaitGroup
		wg.Add(1)
		streamSeed := rng.Uint64()
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(streamSeed, 1))
			for {
				select {
				case <-stopStream:
					return
				default:
				}
				if update(p.addr, r) != nil && (p.exited() || killed.Load()) {
					return
				}
			}
		}()
		mode := iter % 3 // 0: SIGKILL amid updates, 1: SIGKILL once quiet, 2: orderly stop once quiet
		runFor := time.Duration(50+rng.IntN(700)) * time.Millisecond
		var killer *time.Timer
		if mode == 0 {
			killer = time.AfterFunc(runFor, func() { killed.Store(true); p.kill(syscall.SIGKILL) })
		}
		end := time.Now().Add(runFor)
		for !p.exited() && (mode == 0 || time.Now().Before(end)) {
			c := secs[rng.IntN(len(secs))]
			from := c.serial()
			rrs, err := transferIn(p.addr, &from)
			if err != nil {
				if killed.Load() {
					<-p.done
					break // killed during the transfer: the copy stays as it was
				}
				t.Fatalf("IXFR from %d during updates: %v\n%s", from, err, p.stderr.String())
			}
			if _, err := applyIXFR(c, rrs); err != nil {
				t.Fatalf("IXFR from %d during updates does not apply: %v", from, err)
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		}
		close(stopStream)
		wg.Wait()
		if killer != nil {
			killer.Stop()
		}
		if mode != 0 {
			// Quiet now: one secondary takes the zone's last serial, which
			// the server then either loses in a crash or saves.
			c := secs[rng.IntN(len(secs))]
			from := c.serial()
			rrs, err := transferIn(p.addr, &from)
			if err != nil {
				t.Fatalf("IXFR from %d: %v", from, err)
			}
			if _, err := applyIXFR(c, rrs); err != nil {
				t.Fatalf("IXFR from %d does not apply: %v", from, err)
			}
		}
		sig := syscall.SIGKILL
		if mode == 2 {
			sig = syscall.SIGTERM
		}
		p.kill(sig)
		t.Logf("run %d: mode %d after %v, %d updates sent so far, secondaries at %v", iter, mode, runFor, names.Load(), serials(secs))
	}
	p := startDanceProc(t, bin, dir)
	check(p, secs, "after the restart")
	p.kill(syscall.SIGTERM)
	if incremental == 0 {
		t.Error("no IXFR after a restart was incremental: the journal file was never used")
	}
	// The AXFR is the stored zone: the same records, signatures aside.
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	stored, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	unsigned := func(rrs []dns.RR) []string {
		var out []string
		for _, s := range zoneStrings(rrs) {
			rr, _ := dns.NewRR(s)
			if t := rr.Header().Rrtype; t != dns.TypeRRSIG && t != dns.TypeNSEC3 {
				out = append(out, s)
			}
		}
		return out
	}
	if got, want := unsigned(reference), unsigned(stored); !slices.Equal(got, want) {
		t.Fatalf("the last AXFR is not the stored zone:\n%s", diffStrings(got, want))
	}
	if _, err := os.Stat(filepath.Join(dir, zone.JournalFile)); err != nil {
		t.Errorf("no journal file after an orderly stop: %v", err)
	}
}

func serials(secs []*secondaryCopy) []uint32 {
	out := make([]uint32, len(secs))
	for i, c := range secs {
		out[i] = c.serial()
	}
	return out
}

// diffStrings lists the lines only in got (-) and only in want (+), both
// sorted, at most 20.
func diffStrings(got, want []string) string {
	var b bytes.Buffer
	n := 0
	i, j := 0, 0
	for (i < len(got) || j < len(want)) && n < 20 {
		switch {
		case j >= len(want) || i < len(got) && got[i] < want[j]:
			fmt.Fprintf(&b, "- %s\n", got[i])
			i++
			n++
		case i >= len(got) || want[j] < got[i]:
			fmt.Fprintf(&b, "+ %s\n", want[j])
			j++
			n++
		default:
			i++
			j++
		}
	}
	return b.String()
}
