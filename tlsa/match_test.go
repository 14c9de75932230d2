package tlsa

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t) // an unrelated hierarchy
	expired := issue(t, certSpec{cn: "old", dns: []string{leafName}, notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-24 * time.Hour)}, p.inter)
	future := issue(t, certSpec{cn: "new", dns: []string{leafName}, notBefore: testNow.Add(24 * time.Hour), notAfter: testNow.Add(48 * time.Hour)}, p.inter)
	anon := issue(t, certSpec{cn: "anonymous"}, p.inter)
	wild := issue(t, certSpec{cn: "wild", dns: []string{"*._device.example.com"}}, p.inter)
	server := issue(t, certSpec{cn: "srv", dns: []string{leafName}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, p.inter)
	noEKU := issue(t, certSpec{cn: "any", dns: []string{leafName}, noEKU: true}, p.inter)
	selfSigned := issue(t, certSpec{cn: "self", dns: []string{leafName}}, nil)
	expiredInter := issue(t, certSpec{cn: "Old CA", ca: true, notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-time.Hour)}, p.root)
	underExpired := issue(t, certSpec{cn: "dev3", dns: []string{leafName}}, expiredInter)
	notCA := issue(t, certSpec{cn: "not a CA", dns: []string{"notca.example.com"}}, p.root)
	underNotCA := issue(t, certSpec{cn: "dev4", dns: []string{leafName}}, notCA)
	constrained := issue(t, certSpec{cn: "Other CA", ca: true, permitted: []string{"other.example"}}, p.root)
	outside := issue(t, certSpec{cn: "dev5", dns: []string{leafName}}, constrained)
	inside := issue(t, certSpec{cn: "dev6", dns: []string{"dev6._device.other.example"}}, constrained)

	rec := func(c *testCert, u Usage, s Selector, m MatchingType) Record { return mustRecord(t, c.cert, u, s, m) }
	chain := func(cs ...*testCert) []*x509.Certificate {
		var out []*x509.Certificate
		for _, c := range cs {
			out = append(out, c.cert)
		}
		return out
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.root.cert)
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other.root.cert)
	wrong := func(r Record) Record {
		d := append([]byte(nil), r.Data...)
		d[len(d)-1] ^= 1
		r.Data = d
		return r
	}
	malformed := func(r Record) Record { r.Data = r.Data[:len(r.Data)-1]; return r }

	ee := rec(p.leaf, DANEEE, SelectorSPKI, MatchSHA256)
	taInter := rec(p.inter, DANETA, SelectorCert, MatchSHA256)
	taRoot := rec(p.root, DANETA, SelectorSPKI, MatchSHA256)
	pkixEE := rec(p.leaf, PKIXEE, SelectorSPKI, MatchSHA256)
	pkixTA := rec(p.root, PKIXTA, SelectorCert, MatchSHA256)

	tests := []struct {
		name    string
		chain   []*x509.Certificate
		records []Record
		opts    Options // Time defaults to testNow, Name to leafName
		noName  bool
		want    Reason
		depth   int
		record  *Record // the record the result must name; nil: records[0] on match
	}{
		// DANE-EE: every selector and matching type, leaf only.
		{name: "3 0 0", chain: chain(p.leaf, p.inter), records: []Record{rec(p.leaf, DANEEE, SelectorCert, MatchFull)}, want: Matched},
		{name: "3 0 1", chain: chain(p.leaf, p.inter), records: []Record{rec(p.leaf, DANEEE, SelectorCert, MatchSHA256)}, want: Matched},
		{name: "3 0 2", chain: chain(p.leaf, p.inter), records: []Record{rec(p.leaf, DANEEE, SelectorCert, MatchSHA512)}, want: Matched},
		{name: "3 1 0", chain: chain(p.leaf, p.inter), records: []Record{rec(p.leaf, DANEEE, SelectorSPKI, MatchFull)}, want: Matched},
		{name: "3 1 1", chain: chain(p.leaf, p.inter), records: []Record{ee}, want: Matched},
		{name: "3 1 2", chain: chain(p.leaf, p.inter), records: []Record{rec(p.leaf, DANEEE, SelectorSPKI, MatchSHA512)}, want: Matched},
		{name: "3 1 1 other key", chain: chain(p.leaf, p.inter), records: []Record{rec(other.leaf, DANEEE, SelectorSPKI, MatchSHA256)}, want: NoMatch, depth: -1},
		{name: "3 x x of the issuer does not match the leaf", chain: chain(p.leaf, p.inter), records: []Record{rec(p.inter, DANEEE, SelectorSPKI, MatchSHA256)}, want: NoMatch, depth: -1},
		{name: "3 1 1 expired leaf", chain: chain(expired), records: []Record{rec(expired, DANEEE, SelectorSPKI, MatchSHA256)}, want: Matched},
		{name: "3 1 1 not yet valid leaf", chain: chain(future), records: []Record{rec(future, DANEEE, SelectorSPKI, MatchSHA256)}, want: Matched},
		{name: "3 1 1 anonymous leaf", chain: chain(anon), records: []Record{rec(anon, DANEEE, SelectorSPKI, MatchSHA256)}, want: Matched},
		{name: "3 1 1 ignores the name", chain: chain(p.leaf), records: []Record{ee}, opts: Options{Name: "someone.else.example"}, want: Matched},
		{name: "3 1 1 without a name", chain: chain(p.leaf), records: []Record{ee}, noName: true, want: Matched},
		{name: "3 1 1 server EKU", chain: chain(server), records: []Record{rec(server, DANEEE, SelectorSPKI, MatchSHA256)}, want: Matched},

		// DANE-TA: depth 1 and 2, anchors in the chain or in the record.
		{name: "2 0 1 issuer, depth 1", chain: chain(p.leaf, p.inter), records: []Record{taInter}, want: Matched, depth: 1},
		{name: "2 1 1 root in chain, depth 2", chain: chain(p.leaf, p.inter, p.root), records: []Record{taRoot}, want: Matched, depth: 2},
		{name: "2 0 2 root directly above leaf", chain: chain(p.leaf1, p.root), records: []Record{rec(p.root, DANETA, SelectorCert, MatchSHA512)}, opts: Options{Name: "dev2._device.example.com"}, want: Matched, depth: 1},
		{name: "2 1 1 root not presented", chain: chain(p.leaf, p.inter), records: []Record{taRoot}, want: NoMatch, depth: -1},
		{name: "2 0 0 root only in record", chain: chain(p.leaf, p.inter), records: []Record{rec(p.root, DANETA, SelectorCert, MatchFull)}, want: Matched, depth: 2},
		{name: "2 1 0 root key only in record", chain: chain(p.leaf, p.inter), records: []Record{rec(p.root, DANETA, SelectorSPKI, MatchFull)}, want: Matched, depth: 2},
		{name: "2 1 0 issuer key only in record", chain: chain(p.leaf), records: []Record{rec(p.inter, DANETA, SelectorSPKI, MatchFull)}, want: Matched, depth: 1},
		{name: "2 0 0 issuer only in record", chain: chain(p.leaf), records: []Record{rec(p.inter, DANETA, SelectorCert, MatchFull)}, want: Matched, depth: 1},
		{name: "2 1 0 unrelated key", chain: chain(p.leaf, p.inter), records: []Record{rec(other.root, DANETA, SelectorSPKI, MatchFull)}, want: NoMatch, depth: -1},
		{name: "2 0 0 unrelated certificate", chain: chain(p.leaf, p.inter), records: []Record{rec(other.inter, DANETA, SelectorCert, MatchFull)}, want: NoMatch, depth: -1},
		{name: "2 1 0 garbage key", chain: chain(p.leaf, p.inter), records: []Record{{Usage: DANETA, Selector: SelectorSPKI, MatchingType: MatchFull, Data: []byte{1, 2, 3}}}, want: NoMatch, depth: -1},
		{name: "2 0 1 issuer, missing intermediate", chain: chain(p.leaf), records: []Record{rec(p.root, DANETA, SelectorCert, MatchFull)}, want: NoMatch, depth: -1},
		{name: "2 x x expired leaf", chain: chain(expired, p.inter), records: []Record{taInter}, want: Untrusted, depth: -1},
		{name: "2 x x not yet valid leaf", chain: chain(future, p.inter), records: []Record{taInter}, want: Untrusted, depth: -1},
		{name: "2 0 0 expired leaf, anchor in record", chain: chain(expired, p.inter), records: []Record{rec(p.root, DANETA, SelectorCert, MatchFull)}, want: Untrusted, depth: -1},
		{name: "2 x x anonymous leaf", chain: chain(anon, p.inter), records: []Record{taInter}, want: NameMismatch, depth: -1},
		{name: "2 x x other name", chain: chain(p.leaf, p.inter), records: []Record{taInter}, opts: Options{Name: "dev2._device.example.com"}, want: NameMismatch, depth: -1},
		{name: "2 x x no name given", chain: chain(p.leaf, p.inter), records: []Record{taInter}, noName: true, want: NameMismatch, depth: -1},
		{name: "2 x x name case and trailing dot", chain: chain(p.leaf, p.inter), records: []Record{taInter}, opts: Options{Name: "DEV1._Device.Example.COM."}, want: Matched, depth: 1},
		{name: "2 x x wildcard SAN does not match", chain: chain(wild, p.inter), records: []Record{taInter}, want: NameMismatch, depth: -1},
		{name: "2 x x server EKU for client auth", chain: chain(server, p.inter), records: []Record{taInter}, want: Untrusted, depth: -1},
		{name: "2 x x server EKU for server auth", chain: chain(server, p.inter), records: []Record{taInter}, opts: Options{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, want: Matched, depth: 1},
		{name: "2 x x client EKU for server auth", chain: chain(p.leaf, p.inter), records: []Record{taInter}, opts: Options{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, want: Untrusted, depth: -1},
		{name: "2 x x empty EKU list means client auth", chain: chain(server, p.inter), records: []Record{taInter}, opts: Options{KeyUsages: []x509.ExtKeyUsage{}}, want: Untrusted, depth: -1},
		{name: "2 x x leaf without EKU", chain: chain(noEKU, p.inter), records: []Record{taInter}, want: Matched, depth: 1},
		{name: "2 x x expired intermediate", chain: chain(underExpired, expiredInter), records: []Record{taRoot}, want: NoMatch, depth: -1},
		{name: "2 0 0 root, expired intermediate", chain: chain(underExpired, expiredInter), records: []Record{rec(p.root, DANETA, SelectorCert, MatchFull)}, want: Untrusted, depth: -1},
		{name: "2 0 1 expired anchor from the chain", chain: chain(underExpired, expiredInter), records: []Record{rec(expiredInter, DANETA, SelectorCert, MatchSHA256)}, want: Untrusted, depth: -1},
		{name: "2 x x issuer is not a CA", chain: chain(underNotCA, notCA, p.root), records: []Record{taRoot}, want: Untrusted, depth: -1},
		{name: "2 x x name constraints violated", chain: chain(outside, constrained, p.root), records: []Record{taRoot}, want: Untrusted, depth: -1},
		{name: "2 x x name constraints kept", chain: chain(inside, constrained, p.root), records: []Record{taRoot}, opts: Options{Name: "dev6._device.other.example"}, want: Matched, depth: 2},
		{name: "2 x x at a later time", chain: chain(p.leaf, p.inter), records: []Record{taInter}, opts: Options{Time: testNow.Add(48 * time.Hour)}, want: Untrusted, depth: -1},
		{name: "2 0 1 self-signed leaf is no anchor", chain: chain(selfSigned), records: []Record{rec(selfSigned, DANETA, SelectorCert, MatchSHA256)}, want: NoMatch, depth: -1},
		{name: "2 0 0 self-signed leaf is no anchor", chain: chain(selfSigned), records: []Record{rec(selfSigned, DANETA, SelectorCert, MatchFull)}, want: NoMatch, depth: -1},
		{name: "2 1 1 naming the leaf", chain: chain(p.leaf, p.inter), records: []Record{rec(p.leaf, DANETA, SelectorSPKI, MatchSHA256)}, want: NoMatch, depth: -1},

		// PKIX-TA and PKIX-EE need roots.
		{name: "1 1 1 with roots", chain: chain(p.leaf, p.inter), records: []Record{pkixEE}, opts: Options{Roots: roots}, want: Matched, depth: 0},
		{name: "1 1 1 without roots", chain: chain(p.leaf, p.inter), records: []Record{pkixEE}, want: NoUsableRecords, depth: -1},
		{name: "1 1 1 other roots", chain: chain(p.leaf, p.inter), records: []Record{pkixEE}, opts: Options{Roots: otherRoots}, want: Untrusted, depth: -1},
		{name: "1 1 1 name mismatch", chain: chain(p.leaf, p.inter), records: []Record{pkixEE}, opts: Options{Roots: roots, Name: "x.example"}, want: NameMismatch, depth: -1},
		{name: "1 1 1 expired", chain: chain(expired, p.inter), records: []Record{rec(expired, PKIXEE, SelectorSPKI, MatchSHA256)}, opts: Options{Roots: roots}, want: Untrusted, depth: -1},
		{name: "1 x x of the issuer", chain: chain(p.leaf, p.inter), records: []Record{rec(p.inter, PKIXEE, SelectorSPKI, MatchSHA256)}, opts: Options{Roots: roots}, want: NoMatch, depth: -1},
		{name: "0 0 1 root from the pool", chain: chain(p.leaf, p.inter), records: []Record{pkixTA}, opts: Options{Roots: roots}, want: Matched, depth: 2},
		{name: "0 1 2 intermediate", chain: chain(p.leaf, p.inter), records: []Record{rec(p.inter, PKIXTA, SelectorSPKI, MatchSHA512)}, opts: Options{Roots: roots}, want: Matched, depth: 1},
		{name: "0 x x leaf is no CA", chain: chain(p.leaf, p.inter), records: []Record{rec(p.leaf, PKIXTA, SelectorSPKI, MatchSHA256)}, opts: Options{Roots: roots}, want: NoMatch, depth: -1},
		{name: "0 x x other roots", chain: chain(p.leaf, p.inter), records: []Record{rec(p.inter, PKIXTA, SelectorSPKI, MatchSHA256)}, opts: Options{Roots: otherRoots}, want: Untrusted, depth: -1},
		{name: "0 x x anonymous leaf", chain: chain(anon, p.inter), records: []Record{pkixTA}, opts: Options{Roots: roots}, want: NameMismatch, depth: -1},

		// The most specific match wins.
		{name: "specific: DANE-EE first", chain: chain(p.leaf, p.inter, p.root), records: []Record{pkixTA, pkixEE, taRoot, taInter, ee}, opts: Options{Roots: roots}, want: Matched, depth: 0, record: &ee},
		{name: "specific: DANE-TA nearest the leaf", chain: chain(p.leaf, p.inter, p.root), records: []Record{pkixTA, pkixEE, taRoot, taInter}, opts: Options{Roots: roots}, want: Matched, depth: 1, record: &taInter},
		{name: "specific: DANE-TA before PKIX-EE", chain: chain(p.leaf, p.inter, p.root), records: []Record{pkixTA, pkixEE, taRoot}, opts: Options{Roots: roots}, want: Matched, depth: 2, record: &taRoot},
		{name: "specific: PKIX-EE before PKIX-TA", chain: chain(p.leaf, p.inter, p.root), records: []Record{pkixTA, pkixEE}, opts: Options{Roots: roots}, want: Matched, depth: 0, record: &pkixEE},
		{name: "specific: a match beats failures", chain: chain(p.leaf, p.inter), records: []Record{rec(other.leaf, DANEEE, SelectorSPKI, MatchSHA256), taInter}, want: Matched, depth: 1, record: &taInter},
		{name: "failure: name mismatch reported over no-match", chain: chain(anon, p.inter), records: []Record{rec(other.leaf, DANEEE, SelectorSPKI, MatchSHA256), taInter}, want: NameMismatch, depth: -1, record: &taInter},

		// Digest agility (RFC 7671 §9) and unusable records.
		{name: "agility: key matches only the weaker digest", chain: chain(p.leaf), records: []Record{ee, wrong(rec(p.leaf, DANEEE, SelectorSPKI, MatchSHA512))}, want: NoMatch, depth: -1},
		{name: "agility: key matches the stronger digest", chain: chain(p.leaf), records: []Record{wrong(ee), rec(p.leaf, DANEEE, SelectorSPKI, MatchSHA512)}, want: Matched, record: &Record{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchSHA512, Data: rec(p.leaf, DANEEE, SelectorSPKI, MatchSHA512).Data}},
		{name: "agility: Full(0) is not displaced", chain: chain(p.leaf), records: []Record{wrong(ee), rec(p.leaf, DANEEE, SelectorSPKI, MatchFull), wrong(rec(p.leaf, DANEEE, SelectorSPKI, MatchSHA512))}, want: Matched, record: &Record{Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchFull, Data: p.leaf.cert.RawSubjectPublicKeyInfo}},
		{name: "agility: per selector", chain: chain(p.leaf), records: []Record{rec(p.leaf, DANEEE, SelectorCert, MatchSHA256), wrong(rec(p.leaf, DANEEE, SelectorSPKI, MatchSHA512))}, want: Matched, record: &Record{Usage: DANEEE, Selector: SelectorCert, MatchingType: MatchSHA256, Data: rec(p.leaf, DANEEE, SelectorCert, MatchSHA256).Data}},
		{name: "agility: per usage", chain: chain(p.leaf, p.inter), records: []Record{ee, wrong(rec(p.inter, DANETA, SelectorSPKI, MatchSHA512))}, want: Matched, record: &ee},
		{name: "agility: DANE-TA weaker digest", chain: chain(p.leaf, p.inter), records: []Record{taInter, wrong(rec(p.inter, DANETA, SelectorCert, MatchSHA512))}, want: NoMatch, depth: -1},
		{name: "agility: malformed stronger digest is ignored", chain: chain(p.leaf), records: []Record{ee, malformed(rec(p.leaf, DANEEE, SelectorSPKI, MatchSHA512))}, want: Matched, record: &ee},
		{name: "agility: unknown matching type is ignored", chain: chain(p.leaf), records: []Record{ee, {Usage: DANEEE, Selector: SelectorSPKI, MatchingType: 3, Data: make([]byte, 64)}}, want: Matched, record: &ee},
		{name: "unusable: unknown parameters", chain: chain(p.leaf), records: []Record{{Usage: 4, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: ee.Data}, {Usage: DANEEE, Selector: 2, MatchingType: MatchSHA256, Data: ee.Data}, {Usage: DANEEE, Selector: SelectorSPKI, MatchingType: 255, Data: ee.Data}}, want: NoUsableRecords, depth: -1},
		{name: "unusable: malformed only", chain: chain(p.leaf), records: []Record{malformed(ee), {Usage: DANEEE, Selector: SelectorSPKI, MatchingType: MatchFull}}, want: NoUsableRecords, depth: -1},
		{name: "unusable: empty RRset", chain: chain(p.leaf), records: nil, want: NoUsableRecords, depth: -1},
		{name: "unusable ones beside a usable match", chain: chain(p.leaf), records: []Record{{Usage: 4, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: ee.Data}, ee}, want: Matched, record: &ee},
		{name: "no certificate", chain: nil, records: []Record{ee}, want: NoMatch, depth: -1},
		{name: "overlong chain", chain: func() []*x509.Certificate {
			c := chain(p.leaf)
			for len(c) <= MaxChainLength {
				c = append(c, p.inter.cert)
			}
			return c
		}(), records: []Record{ee}, want: Untrusted, depth: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.opts
			if opts.Time.IsZero() {
				opts.Time = testNow
			}
			if opts.Name == "" && !tc.noName {
				opts.Name = leafName
			}
			got := Match(tc.chain, tc.records, opts)
			if got.Reason != tc.want {
				t.Fatalf("reason %v (%v), want %v", got.Reason, got.Err, tc.want)
			}
			if got.Depth != tc.depth {
				t.Errorf("depth %d, want %d", got.Depth, tc.depth)
			}
			if got.OK() != (tc.want == Matched) {
				t.Errorf("OK() = %v", got.OK())
			}
			want := tc.record
			if want == nil && tc.want == Matched {
				want = &tc.records[0]
			}
			if want != nil && !got.Record.Equal(*want) {
				t.Errorf("record %s, want %s", got.Record, want)
			}
			if tc.want == Matched {
				if got.Err != nil || len(got.Path) == 0 || !got.Path[0].Equal(tc.chain[0]) {
					t.Errorf("match with err %v, path %d", got.Err, len(got.Path))
				}
			} else if got.Err == nil {
				t.Errorf("negative result without an explanation")
			}
		})
	}
}

func TestMatchDepthIsPathPosition(t *testing.T) {
	p := newPKI(t)
	r := mustRecord(t, p.root.cert, DANETA, SelectorSPKI, MatchFull)
	got := Match([]*x509.Certificate{p.leaf.cert, p.inter.cert}, []Record{r}, Options{Name: leafName, Time: testNow})
	if !got.OK() || len(got.Path) != 3 || got.Depth != 2 {
		t.Fatalf("got %v depth %d path %d", got.Reason, got.Depth, len(got.Path))
	}
	// The stand-in anchor carries the record's key and the name of the
	// intermediate's issuer.
	if string(got.Path[2].RawSubjectPublicKeyInfo) != string(p.root.cert.RawSubjectPublicKeyInfo) ||
		string(got.Path[2].RawSubject) != string(p.inter.cert.RawIssuer) {
		t.Errorf("anchor does not carry the record's key and the issuer name")
	}
}

func TestMatchExplains(t *testing.T) {
	p := newPKI(t)
	anon := issue(t, certSpec{cn: "anonymous"}, p.inter)
	r := mustRecord(t, p.inter.cert, DANETA, SelectorCert, MatchSHA256)
	got := Match([]*x509.Certificate{anon.cert, p.inter.cert}, []Record{r}, Options{Name: leafName, Time: testNow})
	if got.Reason != NameMismatch || !strings.Contains(got.Err.Error(), leafName) {
		t.Errorf("got %v: %v", got.Reason, got.Err)
	}
	got = Match([]*x509.Certificate{p.leaf.cert, p.inter.cert}, []Record{r}, Options{Name: leafName, Time: testNow.Add(100 * 24 * time.Hour)})
	if got.Reason != Untrusted || !strings.Contains(got.Err.Error(), "expired") {
		t.Errorf("got %v: %v", got.Reason, got.Err)
	}
}

func TestMatchRawPublicKey(t *testing.T) {
	k := newKey(t, "ed25519")
	spki, err := x509MarshalPKIX(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	otherSPKI, _ := x509MarshalPKIX(newKey(t, "p256").Public())
	r := func(u Usage, s Selector, m MatchingType, content []byte) Record {
		d, err := digest(content, m)
		if err != nil {
			t.Fatal(err)
		}
		return Record{Usage: u, Selector: s, MatchingType: m, Data: d}
	}
	tests := []struct {
		name    string
		records []Record
		want    Reason
	}{
		{"3 1 1", []Record{r(DANEEE, SelectorSPKI, MatchSHA256, spki)}, Matched},
		{"3 1 2", []Record{r(DANEEE, SelectorSPKI, MatchSHA512, spki)}, Matched},
		{"3 1 0", []Record{r(DANEEE, SelectorSPKI, MatchFull, spki)}, Matched},
		{"3 1 1 other key", []Record{r(DANEEE, SelectorSPKI, MatchSHA256, otherSPKI)}, NoMatch},
		{"3 0 1 cannot apply", []Record{r(DANEEE, SelectorCert, MatchSHA256, spki)}, NoUsableRecords},
		{"2 1 1 cannot apply", []Record{r(DANETA, SelectorSPKI, MatchSHA256, spki)}, NoUsableRecords},
		{"1 1 1 cannot apply", []Record{r(PKIXEE, SelectorSPKI, MatchSHA256, spki)}, NoUsableRecords},
		{"agility", []Record{r(DANEEE, SelectorSPKI, MatchSHA256, spki), r(DANEEE, SelectorSPKI, MatchSHA512, otherSPKI)}, NoMatch},
		{"ForPublicKey record", []Record{func() Record { x, _ := ForPublicKey(k.Public(), DANEEE, MatchSHA256); return x }()}, Matched},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MatchRawPublicKey(spki, tc.records)
			if got.Reason != tc.want {
				t.Fatalf("got %v (%v), want %v", got.Reason, got.Err, tc.want)
			}
			if tc.want == Matched && (got.Depth != 0 || !got.Record.Equal(tc.records[0])) {
				t.Errorf("depth %d record %s", got.Depth, got.Record)
			}
			if tc.want != Matched && got.Depth != -1 {
				t.Errorf("depth %d", got.Depth)
			}
		})
	}
}

func TestReasonStrings(t *testing.T) {
	want := map[Reason]string{Matched: "match", NoMatch: "no-match", NameMismatch: "name-mismatch", Untrusted: "untrusted", NoUsableRecords: "no-usable-records"}
	for r, s := range want {
		if r.String() != s {
			t.Errorf("%d: %q, want %q", int(r), r.String(), s)
		}
	}
}

// TestMatchLeafNeverItsOwnAnchor: however the chain repeats the leaf, and
// whatever twin of a self-signed leaf (same name and key) is presented,
// carried in a record or put among the roots, no TA record anchors the leaf
// with itself; repeated certificates count once, so a chain with repeats
// is judged as the chain without them.
func TestMatchLeafNeverItsOwnAnchor(t *testing.T) {
	p := newPKI(t)
	k := newKey(t, "p256")
	self := issue(t, certSpec{cn: "self", dns: []string{leafName}, key: k}, nil)
	twin := issue(t, certSpec{cn: "self", ca: true, key: k}, nil) // the same name and key, as a CA
	ownCA := issue(t, certSpec{cn: "Own CA", ca: true, key: k}, nil)
	underOwn := issue(t, certSpec{cn: "own", dns: []string{leafName}, key: k}, ownCA) // signed by its own key, under another name
	rec := func(c *testCert, u Usage, s Selector, m MatchingType) Record { return mustRecord(t, c.cert, u, s, m) }
	chain := func(cs ...*testCert) []*x509.Certificate {
		var out []*x509.Certificate
		for _, c := range cs {
			out = append(out, c.cert)
		}
		return out
	}
	pool := func(cs ...*testCert) *x509.CertPool {
		r := x509.NewCertPool()
		for _, c := range cs {
			r.AddCert(c.cert)
		}
		return r
	}
	tests := []struct {
		name    string
		chain   []*x509.Certificate
		records []Record
		roots   *x509.CertPool
		want    Reason
		depth   int
		path    []*x509.Certificate // on a match
	}{
		{"2 0 1 leaf sent twice", chain(p.leaf, p.leaf), []Record{rec(p.leaf, DANETA, SelectorCert, MatchSHA256)}, nil, NoMatch, -1, nil},
		{"2 1 1 leaf sent twice", chain(p.leaf, p.leaf), []Record{rec(p.leaf, DANETA, SelectorSPKI, MatchSHA256)}, nil, NoMatch, -1, nil},
		{"2 0 1 leaf sent twice before its issuer", chain(p.leaf, p.leaf, p.inter), []Record{rec(p.leaf, DANETA, SelectorCert, MatchSHA256)}, nil, NoMatch, -1, nil},
		{"2 0 1 leaf sent three times", chain(p.leaf, p.inter, p.leaf, p.leaf), []Record{rec(p.leaf, DANETA, SelectorCert, MatchSHA512)}, nil, NoMatch, -1, nil},
		{"2 0 0 leaf sent twice", chain(p.leaf, p.leaf), []Record{rec(p.leaf, DANETA, SelectorCert, MatchFull)}, nil, NoMatch, -1, nil},
		{"2 1 0 leaf sent twice", chain(p.leaf, p.leaf), []Record{rec(p.leaf, DANETA, SelectorSPKI, MatchFull)}, nil, NoMatch, -1, nil},
		{"2 1 1 self-signed leaf sent twice", chain(self, self), []Record{rec(self, DANETA, SelectorSPKI, MatchSHA256)}, nil, NoMatch, -1, nil},
		{"2 1 1 twin of a self-signed leaf", chain(self, twin), []Record{rec(twin, DANETA, SelectorSPKI, MatchSHA256)}, nil, NoMatch, -1, nil},
		{"2 0 1 twin of a self-signed leaf", chain(self, twin), []Record{rec(twin, DANETA, SelectorCert, MatchSHA256)}, nil, NoMatch, -1, nil},
		{"2 0 0 twin of a self-signed leaf in the record", chain(self), []Record{rec(twin, DANETA, SelectorCert, MatchFull)}, nil, NoMatch, -1, nil},
		{"2 1 0 key of a self-signed leaf", chain(self), []Record{rec(self, DANETA, SelectorSPKI, MatchFull)}, nil, NoMatch, -1, nil},
		{"0 0 1 twin of a self-signed leaf among the roots", chain(self), []Record{rec(twin, PKIXTA, SelectorCert, MatchSHA256)}, pool(twin), NoMatch, -1, nil},
		{"0 1 1 twin of a self-signed leaf sent and among the roots", chain(self, twin), []Record{rec(twin, PKIXTA, SelectorSPKI, MatchSHA256)}, pool(twin), NoMatch, -1, nil},
		{"0 0 1 leaf sent twice", chain(p.leaf, p.leaf, p.inter), []Record{rec(p.leaf, PKIXTA, SelectorCert, MatchSHA256)}, pool(p.root), NoMatch, -1, nil},

		// Repeats of other certificates change nothing.
		{"2 0 1 issuer after a repeated leaf", chain(p.leaf, p.leaf, p.inter), []Record{rec(p.inter, DANETA, SelectorCert, MatchSHA256)}, nil, Matched, 1, chain(p.leaf, p.inter)},
		{"2 0 1 issuer sent twice", chain(p.leaf, p.inter, p.inter, p.root), []Record{rec(p.root, DANETA, SelectorCert, MatchSHA256)}, nil, Matched, 2, chain(p.leaf, p.inter, p.root)},
		{"3 1 1 leaf sent twice", chain(p.leaf, p.leaf), []Record{rec(p.leaf, DANEEE, SelectorSPKI, MatchSHA256)}, nil, Matched, 0, chain(p.leaf)},
		{"3 1 1 self-signed leaf", chain(self, self), []Record{rec(self, DANEEE, SelectorSPKI, MatchSHA256)}, nil, Matched, 0, chain(self)},
		{"1 1 1 leaf sent twice", chain(p.leaf, p.leaf, p.inter), []Record{rec(p.leaf, PKIXEE, SelectorSPKI, MatchSHA256)}, pool(p.root), Matched, 0, chain(p.leaf, p.inter, p.root)},
		// A leaf signed with its own key under another name has an issuer
		// that is not the leaf (OpenSSL accepts it too).
		{"2 1 1 own key under another name", chain(underOwn, ownCA), []Record{rec(ownCA, DANETA, SelectorSPKI, MatchSHA256)}, nil, Matched, 1, chain(underOwn, ownCA)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Match(tc.chain, tc.records, Options{Name: leafName, Time: testNow, Roots: tc.roots})
			if got.Reason != tc.want || got.Depth != tc.depth {
				t.Fatalf("%v at depth %d (%v), want %v at depth %d", got.Reason, got.Depth, got.Err, tc.want, tc.depth)
			}
			if tc.want != Matched {
				return
			}
			if len(got.Path) != len(tc.path) {
				t.Fatalf("path of %d certificates, want %d", len(got.Path), len(tc.path))
			}
			for i := range tc.path {
				if !got.Path[i].Equal(tc.path[i]) {
					t.Errorf("path[%d] is %q, want %q", i, got.Path[i].Subject, tc.path[i].Subject)
				}
			}
			if (got.Record.Usage == DANETA || got.Record.Usage == PKIXTA) && got.Depth < 1 {
				t.Errorf("a %v record matched at depth %d", got.Record.Usage, got.Depth)
			}
		})
	}
}

// TestMatchRecordCertificatesCompletePaths: the certificates of usable
// PKIX-TA and DANE-TA Cert(0) Full(0) records are issuers a peer may leave
// out of its chain, as OpenSSL uses them (RFC 7671 §5.2.2 for 2 0 0); they
// are untrusted, so a path through one still needs an anchor a record or
// the roots vouch for, and DANE-EE/PKIX-EE records supply nothing.
func TestMatchRecordCertificatesCompletePaths(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	sameName := issue(t, certSpec{cn: "Example Devices CA", ca: true}, other.root) // p.inter's name, another key
	oldCA := issue(t, certSpec{cn: "Old CA", ca: true, notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-time.Hour)}, p.root)
	underOld := issue(t, certSpec{cn: "dev7", dns: []string{leafName}}, oldCA)
	rec := func(c *testCert, u Usage, s Selector, m MatchingType) Record { return mustRecord(t, c.cert, u, s, m) }
	chain := func(cs ...*testCert) []*x509.Certificate {
		var out []*x509.Certificate
		for _, c := range cs {
			out = append(out, c.cert)
		}
		return out
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.root.cert)
	pkixEE := rec(p.leaf, PKIXEE, SelectorSPKI, MatchSHA256)
	inter000 := rec(p.inter, PKIXTA, SelectorCert, MatchFull)
	inter200 := rec(p.inter, DANETA, SelectorCert, MatchFull)
	tests := []struct {
		name    string
		chain   []*x509.Certificate
		records []Record
		roots   *x509.CertPool
		want    Reason
		depth   int
		record  Record
		path    []*x509.Certificate
	}{
		{"1 1 1 leaf, issuer in a 0 0 0 record", chain(p.leaf), []Record{pkixEE, inter000}, roots, Matched, 0, pkixEE, chain(p.leaf, p.inter, p.root)},
		{"0 0 0 issuer not presented", chain(p.leaf), []Record{inter000}, roots, Matched, 1, inter000, chain(p.leaf, p.inter, p.root)},
		{"0 0 1 root, issuer in a 0 0 0 record", chain(p.leaf), []Record{rec(p.root, PKIXTA, SelectorCert, MatchSHA256), inter000}, roots, Matched, 1, inter000, chain(p.leaf, p.inter, p.root)},
		{"1 1 1 leaf, issuer in a 2 0 0 record", chain(p.leaf), []Record{pkixEE, inter200}, roots, Matched, 1, inter200, chain(p.leaf, p.inter)},
		{"2 0 1 issuer, issuer in a 0 0 0 record", chain(p.leaf), []Record{rec(p.inter, DANETA, SelectorCert, MatchSHA256), inter000}, roots, Matched, 1, rec(p.inter, DANETA, SelectorCert, MatchSHA256), chain(p.leaf, p.inter)},
		{"2 1 0 root key, issuer in a 0 0 0 record", chain(p.leaf), []Record{rec(p.root, DANETA, SelectorSPKI, MatchFull), inter000}, roots, Matched, 2, rec(p.root, DANETA, SelectorSPKI, MatchFull), nil},
		{"2 0 1 root sent, issuer in a 0 0 0 record", chain(p.leaf, p.root), []Record{rec(p.root, DANETA, SelectorCert, MatchSHA256), inter000}, roots, Matched, 2, rec(p.root, DANETA, SelectorCert, MatchSHA256), chain(p.leaf, p.inter, p.root)},
		{"2 0 1 root sent, issuer in a 2 0 0 record", chain(p.leaf, p.root), []Record{rec(p.root, DANETA, SelectorCert, MatchSHA256), inter200}, nil, Matched, 1, inter200, chain(p.leaf, p.inter)},

		{"1 1 1 leaf, 0 0 0 of an unrelated CA", chain(p.leaf), []Record{pkixEE, rec(other.inter, PKIXTA, SelectorCert, MatchFull)}, roots, Untrusted, -1, pkixEE, nil},
		{"1 1 1 leaf, 0 0 0 of a CA with the issuer's name and another key", chain(p.leaf), []Record{pkixEE, rec(sameName, PKIXTA, SelectorCert, MatchFull)}, roots, Untrusted, -1, pkixEE, nil},
		{"1 1 1 leaf, 0 0 0 of an expired issuer", chain(underOld), []Record{rec(underOld, PKIXEE, SelectorSPKI, MatchSHA256), rec(oldCA, PKIXTA, SelectorCert, MatchFull)}, roots, Untrusted, -1, rec(underOld, PKIXEE, SelectorSPKI, MatchSHA256), nil},
		{"1 1 1 leaf, issuer only in a 3 0 0 record", chain(p.leaf), []Record{pkixEE, rec(p.inter, DANEEE, SelectorCert, MatchFull)}, roots, Untrusted, -1, pkixEE, nil},
		{"1 1 1 leaf, issuer only in a 1 0 0 record", chain(p.leaf), []Record{pkixEE, rec(p.inter, PKIXEE, SelectorCert, MatchFull)}, roots, Untrusted, -1, pkixEE, nil},
		{"0 0 0 of the leaf", chain(p.leaf, p.inter), []Record{rec(p.leaf, PKIXTA, SelectorCert, MatchFull)}, roots, NoMatch, -1, Record{}, nil},
		// Without roots PKIX-TA records are unusable (RFC 7671 §4.1), their
		// certificates included; OpenSSL still uses them (see
		// TestMatchDivergesFromOpenSSL).
		{"0 0 0 issuer without roots", chain(p.leaf), []Record{inter000}, nil, NoUsableRecords, -1, Record{}, nil},
		{"2 0 1 root sent, issuer in a 0 0 0 record, no roots", chain(p.leaf, p.root), []Record{rec(p.root, DANETA, SelectorCert, MatchSHA256), inter000}, nil, Untrusted, -1, rec(p.root, DANETA, SelectorCert, MatchSHA256), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Match(tc.chain, tc.records, Options{Name: leafName, Time: testNow, Roots: tc.roots})
			if got.Reason != tc.want || got.Depth != tc.depth {
				t.Fatalf("%v at depth %d (%v), want %v at depth %d", got.Reason, got.Depth, got.Err, tc.want, tc.depth)
			}
			if !got.Record.Equal(tc.record) {
				t.Errorf("record %s, want %s", got.Record, tc.record)
			}
			if tc.path == nil {
				return
			}
			if len(got.Path) != len(tc.path) {
				t.Fatalf("path of %d certificates, want %d", len(got.Path), len(tc.path))
			}
			for i := range tc.path {
				if !got.Path[i].Equal(tc.path[i]) {
					t.Errorf("path[%d] is %q, want %q", i, got.Path[i].Subject, tc.path[i].Subject)
				}
			}
		})
	}
}

// TestMatchNameComparesASCIICaseOnly: the claimed name and the SAN
// dNSNames compare in ASCII case only; a claimed name spelled with the
// Kelvin sign or a dotted capital I is not the SAN with "k" or "i".
func TestMatchNameComparesASCIICaseOnly(t *testing.T) {
	p := newPKI(t)
	leaf := issue(t, certSpec{cn: "k1", dns: []string{"k1._device.example.com", "dev-i._device.example.com"}}, p.inter)
	chain := []*x509.Certificate{leaf.cert, p.inter.cert}
	r := mustRecord(t, p.inter.cert, DANETA, SelectorCert, MatchSHA256)
	tests := []struct {
		name string
		want Reason
	}{
		{"k1._device.example.com", Matched},
		{"K1._DEVICE.Example.com.", Matched},
		{"\u212a1._device.example.com", NameMismatch},
		{"dev-\u0130._device.example.com", NameMismatch},
	}
	for _, tc := range tests {
		if got := Match(chain, []Record{r}, Options{Name: tc.name, Time: testNow}); got.Reason != tc.want {
			t.Errorf("Name %+q: %v (%v), want %v", tc.name, got.Reason, got.Err, tc.want)
		}
	}
}
