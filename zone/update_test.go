package zone

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestUpdateRFC2136(t *testing.T) {
	const (
		s1 = "s1._device.devices.test."
		s2 = "s2._device.devices.test."
	)
	tlsa := func(name, data string) string { return name + " 300 IN TLSA 3 1 1 " + data }
	// exists builds a prerequisite record with class ANY or NONE and no data.
	pre := func(name string, t uint16, class uint16) dns.RR {
		return &dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: t, Class: class}}
	}
	type check struct {
		name  string
		t     uint16
		count int
	}
	tests := []struct {
		name    string
		prereq  func(t *testing.T) []dns.RR
		updates func(t *testing.T) []dns.RR
		policy  Policy
		rcode   int
		after   []check
	}{
		{
			name: "add",
			updates: func(t *testing.T) []dns.RR {
				return []dns.RR{rr(t, tlsa(s2, "aa")), rr(t, tlsa(s2, "bb")), rr(t, tlsa(s2, "aa"))}
			},
			rcode: dns.RcodeSuccess,
			after: []check{{s2, dns.TypeTLSA, 2}, {s1, dns.TypeTLSA, 1}},
		},
		{
			name:    "delete one record",
			updates: func(t *testing.T) []dns.RR { return []dns.RR{del(t, tlsa(s1, "01"), dns.ClassNONE)} },
			rcode:   dns.RcodeSuccess,
			after:   []check{{s1, dns.TypeTLSA, 0}},
		},
		{
			name:    "delete rrset",
			updates: func(t *testing.T) []dns.RR { return []dns.RR{del(t, tlsa(s1, "01"), dns.ClassANY)} },
			rcode:   dns.RcodeSuccess,
			after:   []check{{s1, dns.TypeTLSA, 0}},
		},
		{
			name: "delete name keeps apex",
			updates: func(t *testing.T) []dns.RR {
				return []dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeANY, Class: dns.ClassANY}}}
			},
			rcode: dns.RcodeSuccess,
			after: []check{{origin, dns.TypeSOA, 1}, {origin, dns.TypeDNSKEY, 2}, {origin, dns.TypeNS, 1}},
		},
		{
			name:    "A refused",
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, s2+" 300 IN A 192.0.2.1")} },
			rcode:   dns.RcodeRefused,
		},
		{
			name:    "NS refused",
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, origin+" 300 IN NS ns9.example.")} },
			rcode:   dns.RcodeRefused,
			after:   []check{{origin, dns.TypeNS, 1}},
		},
		{
			name: "DNSKEY delete refused",
			updates: func(t *testing.T) []dns.RR {
				return []dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassANY}}}
			},
			rcode: dns.RcodeRefused,
			after: []check{{origin, dns.TypeDNSKEY, 2}},
		},
		{
			name: "all or nothing",
			updates: func(t *testing.T) []dns.RR {
				return []dns.RR{rr(t, tlsa(s2, "aa")), rr(t, s2+" 300 IN TXT hi")}
			},
			rcode: dns.RcodeRefused,
			after: []check{{s2, dns.TypeTLSA, 0}},
		},
		{
			name:    "outside zone",
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa("x.example.com.", "aa"))} },
			rcode:   dns.RcodeNotZone,
		},
		{
			name:    "asterisk not leftmost",
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa("a.*._device.devices.test.", "aa"))} },
			rcode:   dns.RcodeRefused,
		},
		{
			name:    "policy subtree",
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa("x._user.devices.test.", "aa"))} },
			policy:  Policy{Subtree: "_device.devices.test."},
			rcode:   dns.RcodeRefused,
		},
		{
			name:    "policy subtree ok",
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa(s2, "aa"))} },
			policy:  Policy{Subtree: "_device.devices.test."},
			rcode:   dns.RcodeSuccess,
			after:   []check{{s2, dns.TypeTLSA, 1}},
		},
		{
			name:    "policy types",
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, s2+" 300 IN SSHFP 4 2 abcd")} },
			policy:  Policy{Types: []uint16{dns.TypeTLSA}},
			rcode:   dns.RcodeRefused,
		},
		{
			name:    "prereq name in use",
			prereq:  func(t *testing.T) []dns.RR { return []dns.RR{pre(s1, dns.TypeANY, dns.ClassANY)} },
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa(s1, "aa"))} },
			rcode:   dns.RcodeSuccess,
			after:   []check{{s1, dns.TypeTLSA, 2}},
		},
		{
			name:    "prereq name in use fails",
			prereq:  func(t *testing.T) []dns.RR { return []dns.RR{pre(s2, dns.TypeANY, dns.ClassANY)} },
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa(s2, "aa"))} },
			rcode:   dns.RcodeNameError,
			after:   []check{{s2, dns.TypeTLSA, 0}},
		},
		{
			name:   "prereq ENT is in use",
			prereq: func(t *testing.T) []dns.RR { return []dns.RR{pre("_device.devices.test.", dns.TypeANY, dns.ClassANY)} },
			rcode:  dns.RcodeSuccess,
		},
		{
			name:    "prereq name not in use fails",
			prereq:  func(t *testing.T) []dns.RR { return []dns.RR{pre(s1, dns.TypeANY, dns.ClassNONE)} },
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa(s2, "aa"))} },
			rcode:   dns.RcodeYXDomain,
			after:   []check{{s2, dns.TypeTLSA, 0}},
		},
		{
			name:    "prereq rrset exists fails",
			prereq:  func(t *testing.T) []dns.RR { return []dns.RR{pre(s1, dns.TypeSSHFP, dns.ClassANY)} },
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa(s2, "aa"))} },
			rcode:   dns.RcodeNXRrset,
		},
		{
			name:    "prereq rrset does not exist fails",
			prereq:  func(t *testing.T) []dns.RR { return []dns.RR{pre(s1, dns.TypeTLSA, dns.ClassNONE)} },
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa(s2, "aa"))} },
			rcode:   dns.RcodeYXRrset,
		},
		{
			name: "prereq value dependent",
			prereq: func(t *testing.T) []dns.RR {
				p := rr(t, tlsa(s1, "01"))
				p.Header().Ttl = 0
				return []dns.RR{p}
			},
			updates: func(t *testing.T) []dns.RR {
				return []dns.RR{del(t, tlsa(s1, "01"), dns.ClassANY), rr(t, tlsa(s1, "02"))}
			},
			rcode: dns.RcodeSuccess,
			after: []check{{s1, dns.TypeTLSA, 1}},
		},
		{
			name: "prereq value dependent fails",
			prereq: func(t *testing.T) []dns.RR {
				p := rr(t, tlsa(s1, "99"))
				p.Header().Ttl = 0
				return []dns.RR{p}
			},
			updates: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa(s2, "aa"))} },
			rcode:   dns.RcodeNXRrset,
		},
		{
			name:   "prereq with TTL",
			prereq: func(t *testing.T) []dns.RR { return []dns.RR{rr(t, tlsa(s1, "01"))} },
			rcode:  dns.RcodeFormatError,
		},
		{
			name: "delete with TTL",
			updates: func(t *testing.T) []dns.RR {
				d := rr(t, tlsa(s1, "01"))
				d.Header().Class = dns.ClassNONE
				return []dns.RR{d}
			},
			rcode: dns.RcodeFormatError,
			after: []check{{s1, dns.TypeTLSA, 1}},
		},
		{
			name: "bad class",
			updates: func(t *testing.T) []dns.RR {
				d := rr(t, tlsa(s1, "01"))
				d.Header().Class = dns.ClassCHAOS
				return []dns.RR{d}
			},
			rcode: dns.RcodeFormatError,
		},
		{
			name: "too many records in a set",
			updates: func(t *testing.T) []dns.RR {
				var out []dns.RR
				for i := 0; i <= MaxRRsPerSet; i++ {
					out = append(out, rr(t, tlsa(s2, fmt.Sprintf("%04x", i))))
				}
				return out
			},
			rcode: dns.RcodeRefused,
			after: []check{{s2, dns.TypeTLSA, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			z, _ := newZone(t, clock)
			if _, err := z.Update(nil, []dns.RR{rr(t, tlsa(s1, "01"))}, Policy{}); err != nil {
				t.Fatal(err)
			}
			before := z.Serial()
			clock.Advance(time.Second)
			var prereq, updates []dns.RR
			if tt.prereq != nil {
				prereq = tt.prereq(t)
			}
			if tt.updates != nil {
				updates = tt.updates(t)
			}
			serial, err := z.Update(prereq, updates, tt.policy)
			if rc := RcodeOf(err); rc != tt.rcode {
				t.Fatalf("rcode %s (%v), want %s", dns.RcodeToString[rc], err, dns.RcodeToString[tt.rcode])
			}
			var ue *UpdateError
			if err != nil && !errors.As(err, &ue) {
				t.Fatalf("error %v is not an UpdateError", err)
			}
			if err != nil && z.Serial() != before {
				t.Errorf("failed update changed the serial")
			}
			if err == nil && len(updates) > 0 && tt.name != "delete name keeps apex" && serial == before {
				t.Errorf("serial did not increase: %d", serial)
			}
			for _, c := range tt.after {
				if got := len(z.Get(c.name, c.t)); got != c.count {
					t.Errorf("%s %s has %d records, want %d", c.name, dns.TypeToString[c.t], got, c.count)
				}
			}
		})
	}
}

func TestUpdatePersistsAndSerialIncreases(t *testing.T) {
	clock := newClock()
	z, dir := newZone(t, clock)
	s0 := z.Serial()
	var serials []uint32
	for i := 0; i < 3; i++ {
		s, err := z.Update(nil, []dns.RR{rr(t, fmt.Sprintf("d%d.devices.test. 300 IN TLSA 3 1 1 abcd", i))}, Policy{})
		if err != nil {
			t.Fatal(err)
		}
		serials = append(serials, s)
	}
	prev := s0
	for _, s := range serials {
		if int32(s-prev) <= 0 {
			t.Fatalf("serials %d then %v do not increase", s0, serials)
		}
		prev = s
	}
	// An update that changes nothing keeps the serial.
	s, err := z.Update(nil, []dns.RR{rr(t, "d0.devices.test. 300 IN TLSA 3 1 1 abcd")}, Policy{})
	if err != nil || s != prev {
		t.Fatalf("no-op update: serial %d (was %d), %v", s, prev, err)
	}
	z.Close()
	z2, err := Open(dir, Options{Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer z2.Close()
	if z2.Serial() != prev || len(z2.Get("d2.devices.test.", dns.TypeTLSA)) != 1 {
		t.Fatalf("after reopen: serial %d (want %d), d2 %v", z2.Serial(), prev, z2.Get("d2.devices.test.", dns.TypeTLSA))
	}
	if got := z2.identityNames("devices.test.", 0); len(got) != 3 || got[0] != "d0.devices.test." {
		t.Fatalf("Names = %v", got)
	}
}

func TestSignaturesRefreshed(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	sigOf := func() *dns.RRSIG {
		a, err := z.Query(origin, dns.TypeSOA, QueryOptions{DNSSEC: true})
		if err != nil {
			t.Fatal(err)
		}
		return a.Answer[1].(*dns.RRSIG)
	}
	first := sigOf()
	if sigOf().Signature != first.Signature {
		t.Fatal("signature not cached between queries")
	}
	// Six days on, the 14-day signature still has more than 7 days left.
	clock.Advance(6 * 24 * time.Hour)
	if sigOf().Signature != first.Signature {
		t.Fatal("signature replaced too early")
	}
	// Past the refresh point the next answer carries a new signature that
	// is valid well into the future.
	clock.Advance(2 * 24 * time.Hour)
	second := sigOf()
	if second.Signature == first.Signature || second.Expiration <= first.Expiration {
		t.Fatalf("signature not refreshed: exp %d -> %d", first.Expiration, second.Expiration)
	}
	if time.Unix(int64(second.Expiration), 0).Sub(clock.Now()) < 13*24*time.Hour {
		t.Fatalf("refreshed signature expires at %d", second.Expiration)
	}
}

func TestNextSerial(t *testing.T) {
	tests := []struct{ old, now, want uint32 }{
		{100, 50, 101},
		{100, 500, 500},
		{0xffffffff, 5, 5},          // wraps (RFC 1982): 5 is after 0xffffffff+1 = 0
		{0xffffffff, 0x80000000, 0}, // undefined distance (RFC 1982 §3.2): keep counting
	}
	for _, tt := range tests {
		if got := nextSerial(tt.old, tt.now); got != tt.want {
			t.Errorf("nextSerial(%d, %d) = %d, want %d", tt.old, tt.now, got, tt.want)
		}
	}
}

func TestConcurrentQueriesAndUpdates(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			if _, err := z.Update(nil, []dns.RR{rr(t, fmt.Sprintf("c%d._device.devices.test. 300 IN TLSA 3 1 1 abcd", i))}, Policy{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			if n := len(z.identityNames(origin, 0)); n != 50 {
				t.Fatalf("%d names after 50 updates", n)
			}
			return
		default:
		}
		if _, err := z.Query("c1._device.devices.test.", dns.TypeTLSA, QueryOptions{DNSSEC: true}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeepFresh: with no changes for longer than the re-sign age, the
// serial moves and a transfer carries signatures valid for the full
// period again.
func TestKeepFresh(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	if _, err := z.Transfer(); err != nil { // signs everything
		t.Fatal(err)
	}
	s0 := z.Serial()
	clock.Advance(z.ResignAge() - time.Minute)
	if bumped, err := z.KeepFresh(0); bumped || err != nil || z.Serial() != s0 {
		t.Fatalf("bumped early: %v %v", bumped, err)
	}
	clock.Advance(2 * time.Hour)
	if bumped, err := z.KeepFresh(0); !bumped || err != nil || int32(z.Serial()-s0) <= 0 {
		t.Fatalf("not bumped: %v %v serial %d", bumped, err, z.Serial())
	}
	// Eight days after the first signing, the transfer's signatures are
	// fresh ones (more than the 7-day refresh margin left), not the first
	// ones (6 days left).
	clock.Advance(5 * 24 * time.Hour)
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rrs {
		if sig, ok := r.(*dns.RRSIG); ok {
			left := time.Unix(int64(sig.Expiration), 0).Sub(clock.Now())
			if left < 7*24*time.Hour {
				t.Fatalf("transfer carries a signature with only %v left: %v", left, sig)
			}
		}
	}
}
