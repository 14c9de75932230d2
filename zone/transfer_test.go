package zone

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/keys"
)

// writeZoneFile writes rrs (an AXFR, SOA first and last) as a zone file,
// dropping the closing SOA.
func writeZoneFile(t *testing.T, rrs []dns.RR) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rrs[:len(rrs)-1] {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	f := filepath.Join(t.TempDir(), "zone.db")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkWithTools runs the three zone verifiers on file, a zone with a KSK
// and a ZSK; each must accept it.
func checkWithTools(t *testing.T, file string) {
	t.Helper()
	checkWith(t, file, false, true)
}

// checkWith runs ldns-verify-zone and dnssec-verify, and kzonecheck when
// withKnot is set. csk says which keys file has: one or two combined
// signing keys (checked with dnssec-verify -z), or KSKs and ZSKs (checked
// with the plain dnssec-verify -o ZONE FILE, which wants a ZSK).
func checkWith(t *testing.T, file string, csk, withKnot bool) {
	t.Helper()
	// The zone file must be what the caller says, or a split zone that
	// lost its ZSK would pass as a CSK zone.
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	zsks := 0
	zp := dns.NewZoneParser(strings.NewReader(string(text)), "", file)
	for r, ok := zp.Next(); ok; r, ok = zp.Next() {
		if k, isKey := r.(*dns.DNSKEY); isKey && k.Flags&keys.FlagSEP == 0 {
			zsks++
		}
	}
	if csk != (zsks == 0) {
		t.Fatalf("zone file has %d ZSKs, checked as csk=%v", zsks, csk)
	}
	o := strings.TrimSuffix(origin, ".")
	verify := []string{"dnssec-verify", "-o", o, file}
	if csk {
		// -z: a combined signing key carries the SEP flag and signs
		// everything; without -z dnssec-verify looks for a separate key
		// without that flag and reports "Missing ZSK".
		verify = []string{"dnssec-verify", "-z", "-o", o, file}
	}
	cmds := [][]string{{"ldns-verify-zone", file}, verify}
	if withKnot {
		cmds = append(cmds, []string{"kzonecheck", "-o", o, "-d", "on", file})
	}
	for _, c := range cmds {
		bin, err := exec.LookPath(c[0])
		if err != nil {
			t.Fatalf("%s is required (scripts/debian-packages): %v", c[0], err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		out, err := exec.CommandContext(ctx, bin, c[1:]...).CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("%s rejects the transferred zone: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
}

func TestTransferVerifies(t *testing.T) {
	for _, csk := range []bool{false, true} {
		t.Run(map[bool]string{false: "ksk+zsk", true: "csk"}[csk], func(t *testing.T) {
			testTransferVerifies(t, csk)
		})
	}
}

func testTransferVerifies(t *testing.T, csk bool) {
	clock := newClock()
	z, _ := newZone(t, clock)
	if csk {
		z, _ = newCSKZone(t, clock)
	}
	var add []dns.RR
	for i := 0; i < 40; i++ {
		add = append(add,
			rr(t, fmt.Sprintf("d%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i)),
			rr(t, fmt.Sprintf("host%d.sub%d.devices.test. 300 IN SSHFP 4 2 %064x", i, i%3, i)),
		)
	}
	add = append(add,
		rr(t, "_25._tcp.mail.devices.test. 300 IN TLSA 3 1 1 abcdef"),
		rr(t, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef01._smimecert.devices.test. 300 IN SMIMEA 3 1 1 abcdef"),
		rr(t, "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._openpgpkey.devices.test. 300 IN OPENPGPKEY AQID"),
	)
	if _, err := z.Update(nil, add, Policy{}); err != nil {
		t.Fatal(err)
	}
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	if rrs[0].Header().Rrtype != dns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != dns.TypeSOA {
		t.Fatal("transfer not framed by SOA")
	}
	// Every existing name, empty non-terminals included, has an NSEC3.
	wantNSEC3 := len(z.names) + len(z.ents)
	if got := countRR(rrs, dns.TypeNSEC3); got != wantNSEC3 {
		t.Fatalf("%d NSEC3 records, want %d", got, wantNSEC3)
	}
	f0 := writeZoneFile(t, rrs)
	if d := os.Getenv("DANCE_DUMP"); d != "" {
		b, _ := os.ReadFile(f0)
		os.WriteFile(d, b, 0o644)
	}
	checkWith(t, f0, csk, true)

	// Incremental: remove names (emptying an empty non-terminal too) and
	// add others; the chain stays complete and valid.
	var del []dns.RR
	for i := 0; i < 40; i += 3 {
		del = append(del, &dns.ANY{Hdr: dns.RR_Header{Name: fmt.Sprintf("host%d.sub%d.devices.test.", i, i%3), Rrtype: dns.TypeANY, Class: dns.ClassANY}})
	}
	del = append(del, &dns.ANY{Hdr: dns.RR_Header{Name: "_25._tcp.mail.devices.test.", Rrtype: dns.TypeANY, Class: dns.ClassANY}})
	del = append(del, rr(t, "new.devices.test. 300 IN TLSA 3 1 1 0102"))
	clock.Advance(time.Second)
	if _, err := z.Update(nil, del, Policy{}); err != nil {
		t.Fatal(err)
	}
	rrs2, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := countRR(rrs2, dns.TypeNSEC3), len(z.names)+len(z.ents); got != want {
		t.Fatalf("after changes: %d NSEC3 records, want %d", got, want)
	}
	for _, r := range rrs2 {
		if strings.HasPrefix(r.Header().Name, "_tcp.mail.") || strings.HasPrefix(r.Header().Name, "mail.") {
			t.Fatalf("removed empty non-terminal still in the zone: %v", r)
		}
	}
	checkWith(t, writeZoneFile(t, rrs2), csk, true)
}

func countRR(rrs []dns.RR, t uint16) int {
	n := 0
	for _, r := range rrs {
		if r.Header().Rrtype == t {
			n++
		}
	}
	return n
}

// TestChainOrder checks the chunked chain against a plain sorted list
// through many insertions and removals (chunks split and empty).
func TestChainOrder(t *testing.T) {
	c := newChain()
	want := map[string]bool{}
	for i := 0; i < 3000; i++ {
		n := fmt.Sprintf("n%d.devices.test.", i)
		c.add(n)
		want[hashOf(n)] = true
	}
	for i := 0; i < 3000; i += 2 {
		n := fmt.Sprintf("n%d.devices.test.", i)
		c.remove(n)
		delete(want, hashOf(n))
	}
	c.add("n1.devices.test.") // already there: no duplicate
	var got []string
	var nexts []string
	c.each(func(h, next, name string) error {
		got = append(got, h)
		nexts = append(nexts, next)
		if hashOf(name) != h {
			t.Fatalf("entry %s under hash %s", name, h)
		}
		return nil
	})
	if len(got) != len(want) || c.n != len(want) {
		t.Fatalf("%d hashes (n=%d), want %d", len(got), c.n, len(want))
	}
	for i := range got {
		if !want[got[i]] || (i > 0 && got[i-1] >= got[i]) {
			t.Fatalf("hash %d out of order or unexpected", i)
		}
		if nexts[i] != got[(i+1)%len(got)] {
			t.Fatalf("next of %d is wrong", i)
		}
	}
}

func TestPresign(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	var add []dns.RR
	for i := 0; i < 50; i++ {
		add = append(add, rr(t, fmt.Sprintf("p%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i)))
	}
	if _, err := z.Update(nil, add, Policy{}); err != nil {
		t.Fatal(err)
	}
	made, err := z.Presign(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 50 TLSA + apex sets + glue + NSEC3 for every name and ENT.
	if made < 50+len(z.names)+len(z.ents) {
		t.Fatalf("Presign made %d signatures", made)
	}
	if again, _ := z.Presign(context.Background()); again != 0 {
		t.Fatalf("second Presign made %d signatures", again)
	}
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	verifyAllKeys(t, z, rrs)
	// After a change only what changed is signed again: the new TLSA,
	// the SOA and the NSEC3 records around the new name.
	if _, err := z.Update(nil, []dns.RR{rr(t, "new._device.devices.test. 300 IN TLSA 3 1 1 abcd")}, Policy{}); err != nil {
		t.Fatal(err)
	}
	if made, _ := z.Presign(context.Background()); made == 0 || made > 6 {
		t.Fatalf("Presign after one change made %d signatures", made)
	}
}
