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
	{"foo.wild.example.test.", dns.TypeA, "", 0},
}

// mutateRecords are added to the default records: a name beside a
// wildcard, whose data the wildcard's records must not deny.
var mutateRecords = []string{"foo.wild.example.test. 300 IN A 192.0.2.44"}

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
			// Keys of their own per set-up: records of one hierarchy
			// must not validate under another's anchors, where they
			// would be genuine signed data the invariants cannot tell
			// from the original's.
			h, err := dnstest.Build(dnstest.Config{Zones: zones, Now: mutateNow, KeySeed: "resolver fuzz " + s.desc, Records: mutateRecords})
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
// hierarchy and validates them in a lookup. The input is a set-up byte, a
// scenario byte, then either (scenario byte below 0x80) the answer in wire
// form, mutated as bytes, or (0x80 and above) a list of record-level
// operations on the genuine answer, 3 bytes each (see replayOps): dropping,
// renaming, moving records, replaying signed records taken from the other
// genuine answers of the hierarchy, changing the RCODE.
//
// Nothing may panic. A wire-mutated answer may come out Secure only when
// its signed parts (the RRsets covered by RRSIGs and the RRSIGs' fields, in
// canonical form) are the original's, and must then say what the original
// says. A replayed answer is made only of genuine signed records, so it may
// come out Secure, but then it must say what the original says: a Secure
// result is true.
func FuzzMutatedSignedResponse(f *testing.F) {
	hs := mutateHierarchies(f)
	for i := range hs {
		for j := range mutateScenarios {
			f.Add(append([]byte{byte(i), byte(j)}, hs[i].wire[j]...))
			// Structured seeds: rename the first record to the question,
			// replay a record of another answer, flip the RCODE.
			f.Add([]byte{byte(i), 0x80 | byte(j), opRenameToQuestion, 0, 0, opInsert, byte(j * 3), 1, opRcode, 3, 0})
		}
		if seed := hs[i].renamedWildcardNSEC(i); seed != nil {
			f.Add(seed)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		mh := hs[int(data[0])%len(hs)]
		i := int(data[1]&0x7f) % len(mutateScenarios)
		sc := mutateScenarios[i]
		replay := data[1]&0x80 != 0
		var msg *dns.Msg
		if replay {
			msg = mh.replayOps(mh.msgs[i], data[2:])
		} else {
			msg = new(dns.Msg)
			if err := msg.Unpack(data[2:]); err != nil {
				return
			}
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
		switch {
		case orig.status == Bogus && replay:
			// The genuine answer lacks a proof the hierarchy does not
			// send (compact-denial wildcards); nothing to compare with.
			return
		case orig.status != Secure:
			t.Fatalf("%s %s: mutated answer is secure, the original is %s\n%v", sc.name, typeString(sc.qtype), orig.status, msg)
		}
		if !replay {
			if ok, why := sameSignedParts(msg, mh.msgs[i]); !ok {
				t.Fatalf("%s %s: secure with altered signed parts: %s\n%v", sc.name, typeString(sc.qtype), why, msg)
			}
		}
		if res.kind != orig.kind || res.target != orig.target || !slices.Equal(recordSet(res.records), recordSet(orig.records)) {
			t.Fatalf("%s %s: secure %s %v -> %q, the original says %s %v -> %q\n%v", sc.name, typeString(sc.qtype),
				res.kind, res.records, res.target, orig.kind, orig.records, orig.target, msg)
		}
	})
}

// Record-level operations of FuzzMutatedSignedResponse: opcode, a, b.
const (
	opDrop             = iota // drop record a
	opRename                  // give record a the owner of record b
	opInsert                  // insert record a of the pool into section b
	opRcode                   // set the RCODE to a (mod 4)
	opPrefix                  // prepend label "x" (b odd) or strip the first label (b even) of record a's owner
	opRenameToQuestion        // give record a the question's name
	opMove                    // move record a to the other section
	opCount
)

// renamedWildcardNSEC returns the input that replaces the answer to
// foo.wild.example.test. A by a NODATA proven with the wildcard's own NSEC,
// renamed (TestWildcardNSECRenamed as a seed), or nil when set-up i has no
// NSEC at the wildcard.
func (mh *mutateHierarchy) renamedWildcardNSEC(i int) []byte {
	pool := mh.pool()
	find := func(t uint16, owner string) int {
		for k, rr := range pool {
			rt := rr.Header().Rrtype
			if s, ok := rr.(*dns.RRSIG); ok {
				rt = s.TypeCovered + 0x8000 // RRSIGs: the covered type, flagged
			}
			if rt == t && dns.CanonicalName(rr.Header().Name) == owner {
				return k
			}
		}
		return -1
	}
	idx := []int{find(dns.TypeSOA, dnstest.Zone), find(dns.TypeSOA+0x8000, dnstest.Zone),
		find(dns.TypeNSEC, "*.wild.example.test."), find(dns.TypeNSEC+0x8000, "*.wild.example.test.")}
	sc := slices.IndexFunc(mutateScenarios, func(s mutateScenario) bool { return s.name == "foo.wild.example.test." })
	if slices.Contains(idx, -1) || sc < 0 || len(pool) > 256 {
		return nil
	}
	return []byte{byte(i), 0x80 | byte(sc),
		opDrop, 0, 0, opDrop, 0, 0, // the A record and its RRSIG
		opInsert, byte(idx[0]), 1, opInsert, byte(idx[1]), 1, opInsert, byte(idx[2]), 1, opInsert, byte(idx[3]), 1,
		opRenameToQuestion, 2, 0, opRenameToQuestion, 3, 0}
}

// pool is every record of every genuine answer of the hierarchy.
func (mh *mutateHierarchy) pool() []dns.RR {
	var pool []dns.RR
	for _, g := range mh.msgs {
		pool = append(pool, g.Answer...)
		pool = append(pool, g.Ns...)
	}
	return pool
}

// maxReplayOps bounds the operations of one input.
const maxReplayOps = 8

// replayOps applies ops to a copy of genuine. Records are counted over the
// answer then the authority section; the pool is every record of every
// genuine answer of the hierarchy, as an attacker could collect them.
func (mh *mutateHierarchy) replayOps(genuine *dns.Msg, ops []byte) *dns.Msg {
	m := genuine.Copy()
	pool := mh.pool()
	at := func(i int) (*[]dns.RR, int, bool) {
		n := len(m.Answer) + len(m.Ns)
		if n == 0 {
			return nil, 0, false
		}
		i %= n
		if i < len(m.Answer) {
			return &m.Answer, i, true
		}
		return &m.Ns, i - len(m.Answer), true
	}
	for k := 0; k+3 <= len(ops) && k < 3*maxReplayOps; k += 3 {
		op, a, b := ops[k]%opCount, int(ops[k+1]), int(ops[k+2])
		switch op {
		case opDrop:
			if sec, i, ok := at(a); ok {
				*sec = slices.Delete(*sec, i, i+1)
			}
		case opRename:
			sa, i, ok := at(a)
			sb, j, _ := at(b)
			if ok {
				(*sa)[i] = dns.Copy((*sa)[i])
				(*sa)[i].Header().Name = (*sb)[j].Header().Name
			}
		case opInsert:
			rr := dns.Copy(pool[a%len(pool)])
			if b%2 == 0 {
				m.Answer = append(m.Answer, rr)
			} else {
				m.Ns = append(m.Ns, rr)
			}
		case opRcode:
			m.Rcode = []int{dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeSuccess, dns.RcodeNameError}[a%4]
		case opPrefix:
			if sec, i, ok := at(a); ok {
				rr := dns.Copy((*sec)[i])
				if b%2 == 1 {
					rr.Header().Name = "x." + rr.Header().Name
				} else {
					rr.Header().Name = parentName(rr.Header().Name)
				}
				(*sec)[i] = rr
			}
		case opRenameToQuestion:
			if sec, i, ok := at(a); ok && len(m.Question) == 1 {
				(*sec)[i] = dns.Copy((*sec)[i])
				(*sec)[i].Header().Name = m.Question[0].Name
			}
		case opMove:
			if sec, i, ok := at(a); ok {
				rr := (*sec)[i]
				*sec = slices.Delete(*sec, i, i+1)
				if sec == &m.Answer {
					m.Ns = append(m.Ns, rr)
				} else {
					m.Answer = append(m.Answer, rr)
				}
			}
		}
	}
	return m
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
			case s.denial == dnstest.Compact && strings.HasPrefix(sc.name, "x.wild."):
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
