package resolver

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/dnstest"
)

// The signed hierarchies whose answers FuzzMutatedSignedResponse mutates.
// Keys are Ed25519, derived from a fixed seed, and the signing time is
// fixed: every answer is the same bytes in every run, so the seed corpus
// holds real signed answers and a failing input replays exactly.
var (
	mutateNow   = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	mutateSetUp = []struct {
		desc   string
		denial dnstest.Denial
	}{
		{"nsec", dnstest.NSEC},
		{"nsec3", dnstest.NSEC3},
		{"compact", dnstest.Compact},
	}
)

// mutateScenario: the lookup of name/qtype, during which the answer to
// the query target/ttype is replaced by the fuzzed message.
type mutateScenario struct {
	name   string
	qtype  uint16
	target string
	ttype  uint16
}

var mutateScenarios = []mutateScenario{
	{"_443._tcp.www.example.test.", dns.TypeTLSA, "", 0},
	{"dev1._device.example.test.", dns.TypeTLSA, "", 0},
	{"nope.example.test.", dns.TypeTLSA, "", 0},
	{"www.example.test.", dns.TypeTLSA, "", 0},
	{"x.wild.example.test.", dns.TypeTLSA, "", 0},
	{"x.wild.example.test.", dns.TypeA, "", 0},
	{"alias.example.test.", dns.TypeA, "", 0},
	{"dev1.olddevices.example.test.", dns.TypeTLSA, "", 0},
	{"nope._device.example.test.", dns.TypeTLSA, "", 0},
	{"insecure.example.test.", dns.TypeDS, "", 0},
	{"dev1._device.example.test.", dns.TypeTLSA, dnstest.Device, dns.TypeDS},
	{"dev1._device.example.test.", dns.TypeTLSA, dnstest.Device, dns.TypeDNSKEY},
	{"_443._tcp.www.example.test.", dns.TypeTLSA, dnstest.Zone, dns.TypeDNSKEY},
	{"www.insecure.example.test.", dns.TypeA, dnstest.Unsigned, dns.TypeDS},
}

type mutateHierarchy struct {
	h       *dnstest.Hierarchy
	anchors *Anchors
	// genuine answers and verdicts, per scenario
	wire    [][]byte
	msgs    []*dns.Msg
	results []*stepResult
}

var (
	mutateOnce sync.Once
	mutateHs   []*mutateHierarchy
	mutateErr  error
)

// mutateHierarchies builds the hierarchies once per process. They are
// served in-process (Exchange), so nothing needs stopping.
func mutateHierarchies(t testing.TB) []*mutateHierarchy {
	mutateOnce.Do(func() {
		for _, s := range mutateSetUp {
			zones := map[string]dnstest.ZoneOptions{}
			for _, z := range []string{dnstest.Root, dnstest.TLD, dnstest.Zone, dnstest.Device} {
				zones[z] = dnstest.ZoneOptions{Algorithm: dns.ED25519, Denial: s.denial}
			}
			h, err := dnstest.Build(dnstest.Config{Zones: zones, Now: mutateNow, KeySeed: "resolver fuzz"})
			if err != nil {
				mutateErr = fmt.Errorf("%s: %w", s.desc, err)
				return
			}
			anchors, err := ParseAnchorsString(h.Anchors())
			if err != nil {
				mutateErr = err
				return
			}
			mh := &mutateHierarchy{h: h, anchors: anchors}
			for _, sc := range mutateScenarios {
				m := mh.ask(sc.mutated())
				wire, err := m.Pack()
				if err != nil {
					mutateErr = err
					return
				}
				// Kept as unpacked from the wire, as the mutated
				// messages are: the presentation of some RDATA (hex
				// case) differs from the zone text's.
				m = new(dns.Msg)
				if err := m.Unpack(wire); err != nil {
					mutateErr = err
					return
				}
				mh.wire = append(mh.wire, wire)
				mh.msgs = append(mh.msgs, m)
			}
			for i, sc := range mutateScenarios {
				mh.results = append(mh.results, mh.validate(sc, mh.msgs[i]))
			}
			mutateHs = append(mutateHs, mh)
		}
	})
	if mutateErr != nil {
		t.Fatal(mutateErr)
	}
	return mutateHs
}

func (sc mutateScenario) mutated() (string, uint16) {
	if sc.target == "" {
		return sc.name, sc.qtype
	}
	return sc.target, sc.ttype
}

// ask asks the hierarchy in-process, with a fixed message ID.
func (mh *mutateHierarchy) ask(name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.Id = 1
	q.RecursionDesired = true
	q.CheckingDisabled = true
	q.SetEdns0(ednsBufferSize, true)
	m, _ := mh.h.Exchange(context.Background(), q)
	return m
}

// validate runs one lookup step of sc with msg as the answer to sc's
// target query; no cache, a fixed clock.
func (mh *mutateHierarchy) validate(sc mutateScenario, msg *dns.Msg) *stepResult {
	v := &validator{
		anchors: mh.anchors, now: func() time.Time { return mutateNow }, skew: time.Minute,
		nsec3Insecure: DefaultNSEC3InsecureIterations, nsec3Bogus: DefaultNSEC3BogusIterations,
		maxCNAMEs: DefaultMaxCNAMEs, minTTL: time.Second, maxTTL: time.Hour,
	}
	tname, ttype := sc.mutated()
	v.query = func(_ context.Context, name string, qtype uint16) (*dns.Msg, error) {
		if dns.CanonicalName(name) == tname && qtype == ttype {
			return msg, nil
		}
		return mh.ask(name, qtype), nil
	}
	answer := msg
	if sc.target != "" {
		answer = mh.ask(sc.name, sc.qtype)
	}
	return v.validateResponse(context.Background(), sc.name, sc.qtype, answer)
}

// canonicalRR is rr as it is signed (RFC 4034 §6.2): owner lower-cased,
// the TTL left out (the RRSIG's original TTL is compared instead), names in
// the RDATA of the listed types lower-cased.
func canonicalRR(rr dns.RR) string {
	c := dns.Copy(rr)
	c.Header().Name = strings.ToLower(c.Header().Name)
	c.Header().Ttl = 0
	s := c.String()
	switch rr.Header().Rrtype {
	case dns.TypeNS, dns.TypeCNAME, dns.TypeSOA, dns.TypePTR, dns.TypeMX, dns.TypeSRV, dns.TypeDNAME,
		dns.TypeMINFO, dns.TypeRP, dns.TypeAFSDB, dns.TypeRT, dns.TypeNAPTR, dns.TypeKX, dns.TypePX:
		s = strings.ToLower(s)
	}
	return s
}

// signedSig is an RRSIG's fields, the signer's name lower-cased.
func signedSig(s *dns.RRSIG) string {
	return fmt.Sprintf("%d %d %d %d %d %d %d %s %s", s.TypeCovered, s.Algorithm, s.Labels, s.OrigTtl,
		s.Expiration, s.Inception, s.KeyTag, strings.ToLower(s.SignerName), s.Signature)
}

// signedParts maps each RRset of msg's answer and authority sections that
// has RRSIGs to its canonical records and its RRSIGs' fields.
func signedParts(msg *dns.Msg) map[string]struct{ rrs, sigs []string } {
	out := map[string]struct{ rrs, sigs []string }{}
	for _, section := range [][]dns.RR{msg.Answer, msg.Ns} {
		for _, set := range groupRRsets(section) {
			if len(set.sigs) == 0 {
				continue
			}
			h := set.rrs[0].Header()
			key := fmt.Sprintf("%s/%d", strings.ToLower(h.Name), h.Rrtype)
			e := out[key]
			for _, rr := range set.rrs {
				e.rrs = append(e.rrs, canonicalRR(rr))
			}
			for _, s := range set.sigs {
				e.sigs = append(e.sigs, signedSig(s))
			}
			slices.Sort(e.rrs)
			e.rrs = slices.Compact(e.rrs)
			out[key] = e
		}
	}
	return out
}

// sameSignedParts reports whether every signed RRset of got is one of
// want's, records for records, with at least one of its RRSIGs unchanged.
func sameSignedParts(got, want *dns.Msg) (bool, string) {
	w := signedParts(want)
	for key, g := range signedParts(got) {
		o, ok := w[key]
		if !ok {
			return false, key + " is not in the original"
		}
		if !slices.Equal(g.rrs, o.rrs) {
			return false, fmt.Sprintf("%s: records %q, original %q", key, g.rrs, o.rrs)
		}
		if !slices.ContainsFunc(g.sigs, func(s string) bool { return slices.Contains(o.sigs, s) }) {
			return false, key + ": no RRSIG of the original"
		}
	}
	return true, ""
}

func recordSet(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, canonicalRR(rr))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// FuzzMutatedSignedResponse mutates real signed answers of the test
// hierarchy (input: set-up byte, scenario byte, then the answer in wire
// form) and validates them in a lookup. Nothing may panic, and a result may
// be Secure only when the answer's signed parts (the RRsets covered by
// RRSIGs and the RRSIGs' fields, in canonical form) are the original's,
// and then it must say what the original says.
func FuzzMutatedSignedResponse(f *testing.F) {
	hs := mutateHierarchies(f)
	for i := range hs {
		for j := range mutateScenarios {
			f.Add(append([]byte{byte(i), byte(j)}, hs[i].wire[j]...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		mh := hs[int(data[0])%len(hs)]
		i := int(data[1]) % len(mutateScenarios)
		sc := mutateScenarios[i]
		msg := new(dns.Msg)
		if err := msg.Unpack(data[2:]); err != nil {
			return
		}
		res := mh.validate(sc, msg)
		if res == nil {
			t.Fatal("nil result")
		}
		if res.status != Secure {
			if res.reason == nil {
				t.Fatalf("%s without a reason", res.status)
			}
			return
		}
		orig := mh.results[i]
		if orig.status != Secure {
			t.Fatalf("%s %s: mutated answer is secure, the original is %s", sc.name, typeString(sc.qtype), orig.status)
		}
		if ok, why := sameSignedParts(msg, mh.msgs[i]); !ok {
			t.Fatalf("%s %s: secure with altered signed parts: %s\n%v", sc.name, typeString(sc.qtype), why, msg)
		}
		if res.kind != orig.kind || res.target != orig.target || !slices.Equal(recordSet(res.records), recordSet(orig.records)) {
			t.Fatalf("%s %s: secure %s %v -> %q, the original says %s %v -> %q", sc.name, typeString(sc.qtype),
				res.kind, res.records, res.target, orig.kind, orig.records, orig.target)
		}
	})
}

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzMutatedSignedResponse from the test hierarchy")

// TestMutatedSignedResponseSeeds checks that the committed seed corpus is
// the hierarchy's genuine answers, each validating as its scenario says
// (go test -run TestMutatedSignedResponseSeeds -update-fuzz-seeds rewrites
// it), and that the oracle of the fuzz target refuses obvious forgeries.
func TestMutatedSignedResponseSeeds(t *testing.T) {
	hs := mutateHierarchies(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzMutatedSignedResponse")
	for i, s := range mutateSetUp {
		for j, sc := range mutateScenarios {
			data := append([]byte{byte(i), byte(j)}, hs[i].wire[j]...)
			name := fmt.Sprintf("%s-%02d-%s-%s", s.desc, j, strings.TrimSuffix(sc.name, "."), typeString(sc.qtype))
			if sc.target != "" {
				name += fmt.Sprintf("-via-%s-%s", strings.TrimSuffix(sc.target, "."), typeString(sc.ttype))
			}
			path := filepath.Join(dir, name)
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if *updateFuzzSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if got, err := os.ReadFile(path); err != nil || string(got) != content {
				t.Errorf("%s is not the hierarchy's answer (run with -update-fuzz-seeds): %v", path, err)
			}
			res := hs[i].results[j]
			want := Secure
			switch {
			case sc.name == "www.insecure.example.test.":
				want = Insecure
			case s.denial == dnstest.Compact && strings.HasSuffix(sc.name, ".wild.example.test."):
				// The in-process compact-denial server sends no proof
				// with wildcard answers.
				want = Bogus
			}
			if res.status != want {
				t.Errorf("%s: genuine answer is %s (%s), want %s", name, res.status, res.reason, want)
			}
		}
	}
	// The oracle: a changed TLSA record, or a changed RRSIG, is an altered
	// signed part; a changed TTL or owner-name case is not.
	orig := hs[0].msgs[0]
	tests := []struct {
		desc   string
		change func(m *dns.Msg)
		same   bool
	}{
		{"unchanged", func(*dns.Msg) {}, true},
		{"TTL", func(m *dns.Msg) { m.Answer[0].Header().Ttl = 1 }, true},
		{"owner case", func(m *dns.Msg) { m.Answer[0].Header().Name = strings.ToUpper(m.Answer[0].Header().Name) }, true},
		{"TLSA data", func(m *dns.Msg) { m.Answer[0].(*dns.TLSA).Certificate = strings.Repeat("00", 32) }, false},
		{"RRSIG inception", func(m *dns.Msg) { m.Answer[1].(*dns.RRSIG).Inception-- }, false},
		{"extra signed record", func(m *dns.Msg) {
			m.Answer = append(m.Answer, dns.Copy(m.Answer[0]))
			m.Answer[2].(*dns.TLSA).Usage = 2
		}, false},
	}
	for _, tc := range tests {
		m := orig.Copy()
		tc.change(m)
		if same, why := sameSignedParts(m, orig); same != tc.same {
			t.Errorf("oracle on %s: same=%v (%s), want %v", tc.desc, same, why, tc.same)
		}
	}
}
