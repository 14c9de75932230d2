package tlsa

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Reason says how a match ended.
type Reason int

// Outcomes of Match. Only Matched authenticates the peer.
const (
	// Matched: a usable record matched and every check its usage requires
	// passed.
	Matched Reason = iota
	// NoMatch: usable records exist but none matches the presented
	// certificates or key.
	NoMatch
	// NameMismatch: a record matched and the path is valid, but the claimed
	// name is not a SAN dNSName of the leaf (RFC 7671 §5.2, RFC 6698 §2.1.1).
	NameMismatch
	// Untrusted: a record matched but no valid certification path leads
	// from the leaf to the trust anchor (expired, wrong EKU, bad signature,
	// constraints violated, ...).
	Untrusted
	// NoUsableRecords: no record can be used at all (unknown parameters,
	// malformed data, PKIX usages without roots, only weaker digests),
	// which never authenticates (RFC 7671 §9, §10.3).
	NoUsableRecords
)

var reasonText = [...]string{
	Matched:         "match",
	NoMatch:         "no-match",
	NameMismatch:    "name-mismatch",
	Untrusted:       "untrusted",
	NoUsableRecords: "no-usable-records",
}

// String returns the stable text used in logs and machine output:
// "match", "no-match", "name-mismatch", "untrusted", "no-usable-records".
func (r Reason) String() string {
	if int(r) >= 0 && int(r) < len(reasonText) {
		return reasonText[r]
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Options configure Match. The zero value checks DANE usages only, for
// TLS client authentication, at the current time.
type Options struct {
	// Name is the name the peer claims, which is also the TLSA owner name
	// for DANCE identities. Usages PKIX-TA, PKIX-EE and DANE-TA require it
	// as a SAN dNSName of the leaf (RFC 7671 §5.2); DANE-EE ignores it
	// (RFC 7671 §5.1). The comparison is exact and case-insensitive, a
	// trailing dot is ignored, underscore labels are ordinary labels, and
	// wildcard SANs ("*.example.com") never match: an identity is one
	// name, and a wildcard certificate would let one key speak for every
	// device or service under a domain.
	Name string
	// Roots are the PKIX trust anchors for usages PKIX-TA and PKIX-EE.
	// When nil, records with those usages are unusable (RFC 7671 §4.1 for
	// applications without a PKIX trust store); the system roots are never
	// used implicitly.
	Roots *x509.CertPool
	// Time is the time at which paths are validated; zero means now.
	// DANE-EE matches ignore it (RFC 7671 §5.1).
	Time time.Time
	// KeyUsages are the extended key usages a validated path must allow.
	// Empty means x509.ExtKeyUsageClientAuth, since dance authenticates TLS
	// clients; use x509.ExtKeyUsageServerAuth for servers, or
	// x509.ExtKeyUsageAny to accept any. A leaf without an EKU extension
	// allows every usage (RFC 5280 §4.2.1.12).
	KeyUsages []x509.ExtKeyUsage
}

func (o *Options) now() time.Time {
	if o.Time.IsZero() {
		return time.Now()
	}
	return o.Time
}

func (o *Options) keyUsages() []x509.ExtKeyUsage {
	if len(o.KeyUsages) == 0 {
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return o.KeyUsages
}

// Result is the outcome of Match.
type Result struct {
	Reason Reason
	// Record is the record that matched. For NameMismatch and Untrusted it
	// is the record whose check failed; otherwise it is the zero Record.
	Record Record
	// Depth is the position, in the certification path that was checked,
	// of the certificate or key the record matched: 0 is the leaf (always
	// for DANE-EE and PKIX-EE), 1 its issuer, and so on. A trust anchor
	// carried only in a DANE-TA record counts as the next element above
	// the top certificate of the path. -1 when nothing matched.
	Depth int
	// Path is the validated certification path, leaf first, ending with
	// the trust anchor (for DANE-EE, the leaf alone). Nil unless Matched.
	Path []*x509.Certificate
	// Err explains a negative result for the operator (the path
	// validation error, the names the leaf carries, ...). Nil on Matched.
	Err error
}

// OK reports whether the peer is authenticated.
func (r Result) OK() bool { return r.Reason == Matched }

// usable filters records as RFC 7671 prescribes before any matching:
// malformed and unsupported records go first (so they cannot influence the
// digest choice), then, per (usage, selector), only Full(0) records and the
// records of the strongest digest present remain (RFC 7671 §9). Full(0) is
// not a digest and so neither competes with nor is displaced by one.
func usable(records []Record, supported func(Record) bool) []Record {
	type key struct {
		u Usage
		s Selector
	}
	var kept []Record
	strongest := map[key]MatchingType{}
	for _, r := range records {
		if !r.Usage.Known() || !r.Selector.Known() || !r.MatchingType.Known() {
			continue
		}
		if r.checkData() != nil || !supported(r) {
			continue
		}
		kept = append(kept, r)
		k := key{r.Usage, r.Selector}
		if r.MatchingType != MatchFull && digestStrength(r.MatchingType) > digestStrength(strongest[k]) {
			strongest[k] = r.MatchingType
		}
	}
	out := kept[:0]
	for _, r := range kept {
		if r.MatchingType == MatchFull || r.MatchingType == strongest[key{r.Usage, r.Selector}] {
			out = append(out, r)
		}
	}
	return out
}

// digestStrength orders the digest matching types; MatchFull is no digest.
func digestStrength(m MatchingType) int {
	switch m {
	case MatchSHA256:
		return 1
	case MatchSHA512:
		return 2
	}
	return 0
}

// matches reports whether r's data matches the selected content of cert.
func (r Record) matches(cert *x509.Certificate) bool {
	var content []byte
	switch r.Selector {
	case SelectorCert:
		content = cert.Raw
	case SelectorSPKI:
		content = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	return r.matchesContent(content)
}

func (r Record) matchesContent(content []byte) bool {
	d, err := digest(content, r.MatchingType)
	return err == nil && len(content) > 0 && bytes.Equal(d, r.Data)
}

// Rank of the usages when several records match: the most specific first.
func usageRank(u Usage) int {
	switch u {
	case DANEEE:
		return 0
	case DANETA:
		return 1
	case PKIXEE:
		return 2
	}
	return 3
}

// failure ranks the negative outcomes: the one that got furthest wins, so
// the operator hears about the check that actually failed.
func failureRank(r Reason) int {
	switch r {
	case NameMismatch:
		return 3
	case Untrusted:
		return 2
	case NoMatch:
		return 1
	}
	return 0
}

// MaxChainLength bounds the certificates Match accepts from a peer; real
// chains have two to four.
const MaxChainLength = 16

// Match authenticates a presented certificate chain (leaf first, as sent
// in TLS) against a DNSSEC-validated TLSA RRset for the claimed name.
//
//   - DANE-EE(3) matches the leaf only and ignores names, dates and
//     issuers (RFC 7671 §5.1).
//   - DANE-TA(2) matches an issuer certificate of the chain, or a trust anchor
//     carried whole in the record (2 0 0 certificate, 2 1 0 public key);
//     the path from the leaf to it must validate (dates, signatures, basic
//     and name constraints, opts.KeyUsages) and the leaf must carry
//     opts.Name as a SAN dNSName (RFC 7671 §5.2).
//   - PKIX-TA(0) and PKIX-EE(1) need a path valid up to opts.Roots, the
//     record matching a CA certificate of that path or the leaf, and the
//     same name check (RFC 6698 §2.1.1).
//   - Paths may go through certificates that usable PKIX-TA and DANE-TA
//     Cert(0) Full(0) records carry, when the peer left them out
//     (recordCerts).
//
// When several records match, the result reports the most specific:
// DANE-EE, then DANE-TA nearest the leaf, then PKIX-EE, then PKIX-TA.
//
// The leaf is never its own trust anchor. A certificate presented more
// than once counts once, at its first position (a repeated leaf is not an
// issuer of itself), so a chain is judged exactly as the chain without
// its repeats; Result.Depth and Result.Path refer to that chain. A
// self-signed leaf has no issuer other than itself: no DANE-TA or PKIX-TA
// record anchors it, whichever certificate or key the record names (its
// key belongs in a DANE-EE record), as OpenSSL also holds.
func Match(chain []*x509.Certificate, records []Record, opts Options) Result {
	recs := usable(records, func(r Record) bool {
		if r.Usage == PKIXTA || r.Usage == PKIXEE {
			return opts.Roots != nil
		}
		return true
	})
	if len(recs) == 0 {
		return Result{Reason: NoUsableRecords, Depth: -1, Err: errors.New("no usable TLSA record")}
	}
	if len(chain) == 0 || chain[0] == nil {
		return Result{Reason: NoMatch, Depth: -1, Err: errors.New("no certificate presented")}
	}
	for _, c := range chain {
		if c == nil {
			return Result{Reason: NoMatch, Depth: -1, Err: errors.New("nil certificate in chain")}
		}
	}
	if len(chain) > MaxChainLength {
		// Path building and stand-in anchors cost work per certificate;
		// a peer does not get to choose how much.
		return Result{Reason: Untrusted, Depth: -1, Err: fmt.Errorf("chain of %d certificates is longer than %d", len(chain), MaxChainLength)}
	}
	m := &matcher{chain: distinct(chain), opts: opts}
	m.fromDNS = recordCerts(recs, m.chain)
	best := Result{Reason: NoMatch, Depth: -1, Err: errNoMatch}
	haveMatch := false
	// Most specific usage first, so that a match ends the work for every
	// less specific usage (no path validation after a DANE-EE match).
	sort.SliceStable(recs, func(i, j int) bool { return usageRank(recs[i].Usage) < usageRank(recs[j].Usage) })
	for _, r := range recs {
		if haveMatch && usageRank(r.Usage) > usageRank(best.Record.Usage) {
			break
		}
		res := m.one(r)
		if res.Reason == Matched {
			if !haveMatch || better(res, best) {
				best, haveMatch = res, true
			}
			continue
		}
		if !haveMatch && (failureRank(res.Reason) > failureRank(best.Reason) ||
			res.Reason == best.Reason && best.Err == errNoMatch && res.Err != nil) {
			// The failure that got furthest, or the first no-match with
			// a reason of its own (a self-signed leaf, say).
			best = res
		}
	}
	return best
}

var errNoMatch = errors.New("no TLSA record matches the presented certificates")

// better reports whether a is a more specific match than b.
func better(a, b Result) bool {
	ra, rb := usageRank(a.Record.Usage), usageRank(b.Record.Usage)
	if ra != rb {
		return ra < rb
	}
	return a.Depth < b.Depth
}

// MatchRawPublicKey authenticates a raw public key (RFC 7250), given as
// the DER SubjectPublicKeyInfo the peer sent. Only DANE-EE(3) records with
// selector SPKI(1) can apply (RFC 7671 §5.1); every other record is
// unusable here. Depth is 0 on a match.
func MatchRawPublicKey(spki []byte, records []Record) Result {
	recs := usable(records, func(r Record) bool { return r.Usage == DANEEE && r.Selector == SelectorSPKI })
	if len(recs) == 0 {
		return Result{Reason: NoUsableRecords, Depth: -1, Err: errors.New("no usable DANE-EE SPKI record for a raw public key")}
	}
	for _, r := range recs {
		if r.matchesContent(spki) {
			return Result{Reason: Matched, Record: r, Depth: 0}
		}
	}
	return Result{Reason: NoMatch, Depth: -1, Err: errors.New("no TLSA record matches the raw public key")}
}

type matcher struct {
	chain []*x509.Certificate // as presented, repeats removed
	// fromDNS are the certificates that usable TA-usage Cert(0) Full(0)
	// records carry and the chain does not: untrusted issuers that path
	// building may use as the peer's own intermediates (recordCerts).
	fromDNS []*x509.Certificate
	opts    Options
}

// recordCerts returns the certificates carried whole by the usable
// PKIX-TA(0) and DANE-TA(2) Cert(0) Full(0) records, minus those the chain
// holds already. A peer may leave out an issuer
// that such a record carries: RFC 7671 §5.2.2 lets a server omit a trust
// anchor published in a 2 0 0 record, and OpenSSL adds the certificates of
// "0 0 0" and "2 0 0" records to the untrusted ones it builds paths from,
// so a "0 0 0" record can supply the issuer of a "1 x x"-matched leaf.
// They are untrusted like the chain's own: a path through one still ends
// at a trust anchor a record or Options.Roots vouches for. DANE-EE and
// PKIX-EE records name leaves, never issuers, and are not used. The size
// of the RRset bounds the work: each certificate is parsed once, and
// crypto/x509 caps the signature checks of each path search.
func recordCerts(recs []Record, chain []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, r := range recs {
		if r.Usage != PKIXTA && r.Usage != DANETA || r.Selector != SelectorCert || r.MatchingType != MatchFull {
			continue
		}
		c, err := x509.ParseCertificate(r.Data)
		if err != nil || slices.ContainsFunc(chain, c.Equal) || slices.ContainsFunc(out, c.Equal) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// issuers returns every certificate that may serve as an issuer in a
// path from the leaf: the chain above the leaf, then fromDNS.
func (m *matcher) issuers() []*x509.Certificate {
	if len(m.fromDNS) == 0 {
		return m.chain[1:]
	}
	return slices.Concat(m.chain[1:], m.fromDNS)
}

func (m *matcher) one(r Record) Result {
	switch r.Usage {
	case DANEEE:
		if r.matches(m.chain[0]) {
			return Result{Reason: Matched, Record: r, Depth: 0, Path: m.chain[:1:1]}
		}
		return Result{Reason: NoMatch, Depth: -1}
	case DANETA:
		return m.daneTA(r)
	case PKIXEE, PKIXTA:
		return m.pkix(r)
	}
	return Result{Reason: NoMatch, Depth: -1}
}

// distinct returns chain without the later copies of a certificate it
// already holds (byte-equal DER), in order; chain itself when it has none.
// MaxChainLength bounds the quadratic scan.
func distinct(chain []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for i, c := range chain {
		repeat := false
		for _, prev := range chain[:i] {
			if prev.Equal(c) {
				repeat = true
				break
			}
		}
		switch {
		case repeat && out == nil:
			out = append(make([]*x509.Certificate, 0, len(chain)-1), chain[:i]...)
		case !repeat && out != nil:
			out = append(out, c)
		}
	}
	if out == nil {
		return chain
	}
	return out
}

// selfSigned reports whether c is its own issuer: issuer and subject names
// equal and its signature verifying under its own key (RFC 5280 §6.1 calls
// such a certificate self-signed). A path from it ends at it.
func selfSigned(c *x509.Certificate) bool {
	// CheckSignature, not CheckSignatureFrom: a leaf is no CA, and what
	// counts here is whose key signed it.
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// errSelfSignedLeaf explains why no TA usage anchors a self-signed leaf.
var errSelfSignedLeaf = errors.New("the leaf is self-signed: no trust anchor above it; publish its key in a DANE-EE(3) record")

// daneTA tries every trust anchor r can stand for, nearest the leaf first.
func (m *matcher) daneTA(r Record) Result {
	if selfSigned(m.chain[0]) {
		// The path of a self-signed leaf ends at the leaf itself; a
		// certificate or key above it would be the leaf's own in
		// another wrapping (same name, same key).
		return Result{Reason: NoMatch, Depth: -1, Err: errSelfSignedLeaf}
	}
	var fail *Result
	note := func(res Result) {
		if fail == nil || failureRank(res.Reason) > failureRank(fail.Reason) {
			fail = &res
		}
	}
	// The anchor is an issuer: a record naming the leaf itself is no
	// trust anchor for it (as OpenSSL also holds); such a key belongs in a
	// DANE-EE record. Issuers are the presented ones, nearest the leaf
	// first, then those Full(0) records carry (RFC 7671 §5.2.2: a 2 0 0
	// anchor need not be sent; the record itself is one of them).
	issuers := m.issuers()
	for i, c := range issuers {
		if !r.matches(c) {
			continue
		}
		res := m.verifyTo(r, c, without(issuers, i))
		if i >= len(m.chain)-1 && res.Reason == Untrusted && unknownAuthority(res.Err) {
			// An anchor from DNS that signs nothing presented: the
			// record does not match this chain at all.
			res = Result{Reason: NoMatch, Depth: -1}
		}
		if res.Reason == Matched {
			return res
		}
		note(res)
	}
	// A trust anchor key carried only in the record (RFC 7671 §5.2.2).
	if r.MatchingType == MatchFull && r.Selector == SelectorSPKI {
		for _, ta := range m.keyAnchors(r.Data) {
			res := m.verifyTo(r, ta, issuers)
			if res.Reason == Untrusted && unknownAuthority(res.Err) {
				res = Result{Reason: NoMatch, Depth: -1}
			}
			if res.Reason == Matched {
				// The anchor sits above the last certificate of the path.
				return res
			}
			note(res)
		}
	}
	if fail != nil {
		return *fail
	}
	return Result{Reason: NoMatch, Depth: -1}
}

// keyAnchors builds stand-in anchor certificates for a bare trust-anchor
// key (2 1 0): one per issuer name of the chain that no presented
// certificate carries (a presented certificate with the key has matched
// the record already), with that name and the key. Path validation does
// not check an anchor's own signature, so signing the stand-in with a
// throw-away key is sound; what is checked is that a presented
// certificate's signature verifies under the anchor's key.
func (m *matcher) keyAnchors(spki []byte) []*x509.Certificate {
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil
	}
	throw, err := standInKey()
	if err != nil {
		return nil
	}
	certs := slices.Concat(m.chain, m.fromDNS)
	seen := map[string]bool{}
	for _, c := range certs {
		seen[string(c.RawSubject)] = true
	}
	var out []*x509.Certificate
	for _, c := range certs {
		if seen[string(c.RawIssuer)] {
			continue
		}
		seen[string(c.RawIssuer)] = true
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			RawSubject:            c.RawIssuer,
			NotBefore:             time.Unix(0, 0),
			NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
			BasicConstraintsValid: true,
			IsCA:                  true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		parent := &x509.Certificate{RawSubject: c.RawIssuer, PublicKey: throw.Public()}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, throw)
		if err != nil {
			continue
		}
		ta, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		out = append(out, ta)
	}
	return out
}

// standInKey signs stand-in anchors. Their signatures are never checked,
// so one Ed25519 key (cheap to sign and verify with) serves the process.
var standInKey = sync.OnceValues(func() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return k, err
})

// unknownAuthority reports whether err says no path leads to the anchor.
func unknownAuthority(err error) bool {
	var unknown x509.UnknownAuthorityError
	return errors.As(err, &unknown)
}

// without returns cs less its element i, sharing cs's array when i is at
// either end; the caller must not modify the result.
func without(cs []*x509.Certificate, i int) []*x509.Certificate {
	switch i {
	case 0:
		return cs[1:]
	case len(cs) - 1:
		return cs[:i:i]
	}
	return slices.Concat(cs[:i], cs[i+1:])
}

// verifyTo validates the path from the leaf to anchor ta, with the given
// intermediates, then checks the name.
func (m *matcher) verifyTo(r Record, ta *x509.Certificate, intermediates []*x509.Certificate) Result {
	roots := x509.NewCertPool()
	roots.AddCert(ta)
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	chains, err := m.chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   m.opts.now(),
		KeyUsages:     m.opts.keyUsages(),
	})
	if err != nil {
		return Result{Reason: Untrusted, Record: r, Depth: -1, Err: fmt.Errorf("path to DANE-TA anchor %q: %w", ta.Subject.String(), err)}
	}
	path := shortest(chains)
	if len(path) < 2 {
		// crypto/x509 ends a path at a root that is the leaf itself; the
		// leaf is never its own trust anchor.
		return Result{Reason: NoMatch, Depth: -1, Err: errors.New("the DANE-TA anchor is the leaf itself")}
	}
	if err := m.checkName(); err != nil {
		return Result{Reason: NameMismatch, Record: r, Depth: -1, Err: err}
	}
	return Result{Reason: Matched, Record: r, Depth: len(path) - 1, Path: path}
}

// pkix validates the chain against opts.Roots and looks for r in the
// validated paths: the leaf for PKIX-EE, any certificate for PKIX-TA
// (RFC 6698 §2.1.1), nearest the leaf first.
func (m *matcher) pkix(r Record) Result {
	if r.Usage == PKIXEE && !r.matches(m.chain[0]) {
		return Result{Reason: NoMatch, Depth: -1}
	}
	if r.Usage == PKIXTA && selfSigned(m.chain[0]) {
		// As for DANE-TA: a certificate above a self-signed leaf in a
		// path is the leaf's twin; only the leaf itself could anchor it.
		return Result{Reason: NoMatch, Depth: -1, Err: errSelfSignedLeaf}
	}
	inter := x509.NewCertPool()
	for _, c := range m.issuers() {
		inter.AddCert(c)
	}
	chains, err := m.chain[0].Verify(x509.VerifyOptions{
		Roots:         m.opts.Roots,
		Intermediates: inter,
		CurrentTime:   m.opts.now(),
		KeyUsages:     m.opts.keyUsages(),
	})
	if err != nil {
		if r.Usage == PKIXEE || m.anyMatch(r) {
			return Result{Reason: Untrusted, Record: r, Depth: -1, Err: fmt.Errorf("PKIX path: %w", err)}
		}
		return Result{Reason: NoMatch, Depth: -1}
	}
	depth, path := -1, []*x509.Certificate(nil)
	for _, ch := range chains {
		start, end := 0, 1
		if r.Usage == PKIXTA {
			// A CA certificate: anything above the leaf.
			start, end = 1, len(ch)
		}
		for i := start; i < end && i < len(ch); i++ {
			if r.matches(ch[i]) && (depth < 0 || i < depth) {
				depth, path = i, ch
			}
		}
	}
	if depth < 0 {
		return Result{Reason: NoMatch, Depth: -1}
	}
	if err := m.checkName(); err != nil {
		return Result{Reason: NameMismatch, Record: r, Depth: -1, Err: err}
	}
	return Result{Reason: Matched, Record: r, Depth: depth, Path: path}
}

// anyMatch reports whether r matches some issuer certificate (presented
// or from a Full(0) record), so a failed validation concerns it.
func (m *matcher) anyMatch(r Record) bool {
	for _, c := range m.issuers() {
		if r.matches(c) {
			return true
		}
	}
	return false
}

func shortest(chains [][]*x509.Certificate) []*x509.Certificate {
	var best []*x509.Certificate
	for _, c := range chains {
		if best == nil || len(c) < len(best) {
			best = c
		}
	}
	return best
}

// checkName requires opts.Name as a SAN dNSName of the leaf: exact,
// case-insensitive, trailing dot ignored, no wildcards (see Options.Name).
func (m *matcher) checkName() error {
	want := normName(m.opts.Name)
	if want == "" {
		return errors.New("no claimed name to check against the leaf certificate")
	}
	leaf := m.chain[0]
	for _, n := range leaf.DNSNames {
		if normName(n) == want {
			return nil
		}
	}
	if len(leaf.DNSNames) == 0 {
		return fmt.Errorf("leaf certificate carries no SAN dNSName; claimed name %q", want)
	}
	return fmt.Errorf("claimed name %q is not among the leaf's SAN dNSNames %q", want, leaf.DNSNames)
}

// normName lower-cases ASCII letters only (DNS names compare that way,
// RFC 4343): strings.ToLower would make a claimed name with the Kelvin
// sign equal to a SAN with "k".
func normName(s string) string {
	b := []byte(strings.TrimSuffix(s, "."))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
