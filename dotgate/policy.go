package dotgate

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/verify"
)

// DefaultRate is the rate limit of a policy line without rate=: queries
// per second for one identity, all its connections together.
const DefaultRate = 50

// maxPolicyLine bounds a line of a policy file.
const maxPolicyLine = 4096

// Rule is what one client identity may ask.
type Rule struct {
	// Identity is the client's verify.Identity.Subject(): the DNS name of
	// a device, service or host (lower case, no trailing dot), or
	// uid@domain for a user.
	Identity string
	// Zones are the names, fully qualified and lower case, at or below
	// which the client may ask; "." is every name.
	Zones []string
	// Rate is the most queries a second the identity may make, with a
	// burst of as many; 0 is no limit.
	Rate int
}

// Allows reports whether qname is at or below one of the rule's zones.
func (r *Rule) Allows(qname string) bool {
	q := strings.ToLower(dns.Fqdn(qname))
	for _, z := range r.Zones {
		if dns.IsSubDomain(z, q) {
			return true
		}
	}
	return false
}

// Policy is the allow-list of client identities, each with its Rule. Read
// one with ParsePolicy.
type Policy struct {
	rules map[string]*Rule
}

// A PolicyError is a line of a policy file that cannot be understood.
type PolicyError struct {
	Line int
	Err  error
}

func (e *PolicyError) Error() string { return fmt.Sprintf("policy line %d: %v", e.Line, e.Err) }
func (e *PolicyError) Unwrap() error { return e.Err }

// ParsePolicy reads a policy file: one client a line,
//
//	IDENTITY ZONE... [rate=N]
//
// IDENTITY is a device, service or host name, or uid@domain for a user
// (the user's certificate chain is authenticated at _user.domain). The
// ZONEs are the names at or below which it may ask ("." for all); rate=N
// is its limit in queries a second (DefaultRate without it, 0 for none).
// "#" starts a comment. An identity given twice is an error, as is a file
// with no identity: a gate that admits nobody is a mistake.
func ParsePolicy(r io.Reader) (*Policy, error) {
	p := &Policy{rules: map[string]*Rule{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxPolicyLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		rule, err := parseRule(f)
		if err != nil {
			return nil, &PolicyError{Line: n, Err: err}
		}
		if p.rules[rule.Identity] != nil {
			return nil, &PolicyError{Line: n, Err: fmt.Errorf("identity %s given twice", rule.Identity)}
		}
		p.rules[rule.Identity] = rule
	}
	if err := sc.Err(); err != nil {
		return nil, &PolicyError{Line: n + 1, Err: err}
	}
	if len(p.rules) == 0 {
		return nil, fmt.Errorf("policy: no client identity: every client would be refused")
	}
	if _, err := p.AllowList(); err != nil {
		return nil, err
	}
	return p, nil
}

func parseRule(f []string) (*Rule, error) {
	id := strings.ToLower(strings.TrimSuffix(f[0], "."))
	if uid, dom, ok := strings.Cut(id, "@"); ok {
		if uid == "" || !validName(dom) {
			return nil, fmt.Errorf("identity %q: want a DNS name or uid@domain", f[0])
		}
	} else if !validName(id) {
		return nil, fmt.Errorf("identity %q: want a DNS name or uid@domain", f[0])
	}
	rule := &Rule{Identity: id, Rate: DefaultRate}
	for _, a := range f[1:] {
		if v, ok := strings.CutPrefix(a, "rate="); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%q: want rate=N, N queries a second (0: no limit)", a)
			}
			rule.Rate = n
			continue
		}
		z := strings.ToLower(dns.Fqdn(a))
		if _, ok := dns.IsDomainName(z); !ok {
			return nil, fmt.Errorf("zone %q is not a domain name", a)
		}
		rule.Zones = append(rule.Zones, z)
	}
	if len(rule.Zones) == 0 {
		return nil, fmt.Errorf("identity %s has no zone (\".\" for every name)", id)
	}
	return rule, nil
}

func validName(s string) bool {
	if s == "" || strings.Contains(s, "*") {
		return false
	}
	_, ok := dns.IsDomainName(s)
	return ok
}

// Rule returns the rule of an authenticated identity (its Subject), or
// nil when the identity is not on the policy.
func (p *Policy) Rule(subject string) *Rule { return p.rules[strings.ToLower(subject)] }

// Identities returns the identities of the policy, sorted.
func (p *Policy) Identities() []string {
	out := make([]string, 0, len(p.rules))
	for id := range p.rules {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// AllowList is the verification core's allow-list for the policy: each
// name exactly, and _user.domain for a user, so that the core looks up
// nobody else's records.
func (p *Policy) AllowList() (*verify.AllowList, error) {
	seen := map[string]bool{}
	var pats []string
	for _, id := range p.Identities() {
		if _, dom, ok := strings.Cut(id, "@"); ok {
			id = "_user." + dom
		}
		if !seen[id] {
			seen[id] = true
			pats = append(pats, id)
		}
	}
	return verify.ParseAllowList(pats)
}

// limiter is a token bucket per identity, shared by its connections.
type limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes a token from id's bucket of rate tokens a second (burst
// rate), and reports whether there was one. rate 0 is no limit.
func (l *limiter) allow(id string, rate int) bool {
	if rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[id]
	if b == nil {
		b = &bucket{tokens: float64(rate), last: now}
		l.buckets[id] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(float64(rate), b.tokens+el.Seconds()*float64(rate))
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
