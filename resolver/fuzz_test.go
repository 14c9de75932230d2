package resolver

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fuzzAnchor is the RFC 6605 §6.1 key; the seeds are signed with its
// published private key, so the fuzzer starts from messages that validate.
const fuzzAnchor = "example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA=="

// FuzzValidateResponse feeds arbitrary wire-format responses to the
// validator. Every query the validator makes (DS, DNSKEY, the answer) gets
// the same fuzzed message, with the question rewritten to match. The
// validator must classify, never panic or loop.
func FuzzValidateResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		res := fuzzValidate(t, data)
		if res == nil {
			return
		}
		if res.status != Secure && res.reason == nil {
			t.Fatalf("%s without a reason", res.status)
		}
		if res.status == Secure && res.kind == KindAnswer && len(res.records) == 0 {
			t.Fatal("secure answer without records")
		}
	})
}

// fuzzValidate unpacks data and validates it; nil when it does not unpack.
func fuzzValidate(t *testing.T, data []byte) *stepResult {
	anchors, err := ParseAnchorsString(fuzzAnchor)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2010, 8, 20, 0, 0, 0, 0, time.UTC)
	{
		msg := new(dns.Msg)
		if err := msg.Unpack(data); err != nil {
			return nil
		}
		queries := 0
		v := &validator{
			anchors: anchors, now: func() time.Time { return at }, skew: time.Minute,
			nsec3Insecure: DefaultNSEC3InsecureIterations, nsec3Bogus: DefaultNSEC3BogusIterations,
			maxCNAMEs: DefaultMaxCNAMEs, minTTL: time.Second, maxTTL: time.Hour,
		}
		v.query = func(_ context.Context, name string, qtype uint16) (*dns.Msg, error) {
			queries++
			if queries > 300 {
				t.Fatalf("more than 300 queries for one response")
			}
			m := msg.Copy()
			m.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
			return m, nil
		}
		name, qtype := "www.example.net.", dns.TypeA
		if len(msg.Question) == 1 {
			if _, ok := dns.IsDomainName(msg.Question[0].Name); ok {
				name, qtype = msg.Question[0].Name, msg.Question[0].Qtype
			}
		}
		res := v.validateResponse(context.Background(), name, qtype, msg)
		if res == nil {
			t.Fatal("nil result")
		}
		return res
	}
}

// TestFuzzSeeds checks that the seeds mean what their names say, so that
// the fuzzer starts from valid and interesting messages.
func TestFuzzSeeds(t *testing.T) {
	tests := []struct {
		seed   string
		status Status
		kind   Kind
		ede    EDE
	}{
		{"answer", Secure, KindAnswer, 0},
		{"nodata", Secure, KindNoData, 0},
		{"nxdomain", Secure, KindNXDomain, 0},
		{"compact", Secure, KindNXDomain, 0},
		{"wildcard", Secure, KindAnswer, 0},
		{"cname-loop", Secure, KindAnswer, 0},
		{"nsec3-absurd-iterations", Bogus, 0, EDEUnsupportedNSEC3Iterations},
		{"unsigned", Bogus, 0, EDENSECMissing}, // the DS query for www gets the same unsigned message
	}
	for _, tc := range tests {
		t.Run(tc.seed, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata/fuzz/FuzzValidateResponse", tc.seed))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitN(string(raw), "\n", 3)
			lit := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[1]), "[]byte("), ")")
			data, err := strconv.Unquote(lit)
			if err != nil {
				t.Fatal(err)
			}
			res := fuzzValidate(t, []byte(data))
			if res == nil {
				t.Fatal("seed does not unpack")
			}
			if res.status != tc.status {
				t.Fatalf("status %s (%s), want %s", res.status, res.reason, tc.status)
			}
			if tc.status == Secure && res.kind != tc.kind {
				t.Errorf("kind %s, want %s", res.kind, tc.kind)
			}
			if tc.ede != 0 && res.reason.Code != tc.ede {
				t.Errorf("reason %s, want EDE %d", res.reason, tc.ede)
			}
		})
	}
}
