package resolver

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Anchors is a set of trust anchors: DS or DNSKEY records, each valid for its
// own zone and the subtree below it. When several anchors cover a name, the
// closest one (the longest owner name) wins, so a private anchor for
// _device.example.com is used for names below it even if the root key is
// configured too.
//
// An Anchors value is immutable after it is built; it is safe for concurrent
// use.
type Anchors struct {
	zones map[string]*anchor
}

type anchor struct {
	zone    string
	ds      []*dns.DS
	dnskeys []*dns.DNSKEY
	// keys holds the decoded public key of each of dnskeys, same index:
	// keys are compared as bytes, never as base64 text.
	keys [][]byte
}

// decodeKey returns the bytes of a DNSKEY's base64 public key field (RFC
// 4034 §2.2), with or without padding, ignoring whitespace.
func decodeKey(b64 string) ([]byte, error) {
	b64 = strings.Join(strings.Fields(b64), "")
	if k, err := base64.StdEncoding.DecodeString(b64); err == nil {
		return k, nil
	}
	return base64.RawStdEncoding.DecodeString(b64)
}

// The IANA root zone key-signing keys (https://data.iana.org/root-anchors/):
// KSK-2017 (key tag 20326) and KSK-2024 (key tag 38696), both RSA/SHA-256.
// Both DS (digest SHA-256) and DNSKEY forms are kept; the test checks that
// the key tags and digests agree.
const rootAnchorText = `
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
. IN DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=
. IN DNSKEY 257 3 8 AwEAAa96jeuknZlaeSrvyAJj6ZHv28hhOKkx3rLGXVaC6rXTsDc449/cidltpkyGwCJNnOAlFNKF2jBosZBU5eeHspaQWOmOElZsjICMQMC3aeHbGiShvZsx4wMYSjH8e7Vrhbu6irwCzVBApESjbUdpWWmEnhathWu1jo+siFUiRAAxm9qyJNg/wOZqqzL/dL/q8PkcRU5oUKEpUge71M3ej2/7CPqpdVwuMoTvoB+ZOT4YeGyxMvHmbrxlFzGOHOijtzN+u1TQNatX2XBuzZNQ1K+s2CXkPIZo7s6JgZyvaBevYtxPvYLw4z9mR7K2vaF18UYH9Z9GNUUeayffKC73PYc=
`

// RootAnchors returns the built-in IANA root trust anchors.
func RootAnchors() *Anchors {
	a, err := ParseAnchors(strings.NewReader(rootAnchorText))
	if err != nil {
		panic("resolver: built-in root anchors do not parse: " + err.Error())
	}
	return a
}

// ErrNoAnchors is returned by ParseAnchors for input without any DS or
// DNSKEY record.
var ErrNoAnchors = errors.New("anchors: no DS or DNSKEY record")

// ParseAnchors reads trust anchors in zone-file syntax: DS lines or DNSKEY
// lines (key-signing keys, the SEP flag is not required), with owner names
// that are fully qualified. Comments (;) and blank lines are ignored; any
// other record type is an error.
func ParseAnchors(r io.Reader) (*Anchors, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("anchors: %w", err)
	}
	a := &Anchors{zones: map[string]*anchor{}}
	zp := dns.NewZoneParser(bytes.NewReader(data), ".", "anchors")
	zp.SetDefaultTTL(3600)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if err := a.add(rr); err != nil {
			return nil, err
		}
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("anchors: %w", err)
	}
	if len(a.zones) == 0 {
		return nil, ErrNoAnchors
	}
	return a, nil
}

// LoadAnchors reads the trust anchors of a file, in ParseAnchors syntax
// (the DIR/anchors file "dance zone init" writes, for one). Errors name the
// file.
func LoadAnchors(path string) (*Anchors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("anchors: %w", err)
	}
	defer f.Close()
	a, err := ParseAnchors(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// ParseAnchorsString is ParseAnchors on a string.
func ParseAnchorsString(s string) (*Anchors, error) {
	return ParseAnchors(bufio.NewReader(strings.NewReader(s)))
}

func (a *Anchors) add(rr dns.RR) error {
	name := dns.CanonicalName(rr.Header().Name)
	an := a.zones[name]
	if an == nil {
		an = &anchor{zone: name}
	}
	switch r := rr.(type) {
	case *dns.DS:
		an.ds = append(an.ds, r)
	case *dns.DNSKEY:
		if r.Flags&dns.ZONE == 0 || r.Protocol != 3 {
			return fmt.Errorf("anchors: %s DNSKEY %d is not a zone key", name, r.KeyTag())
		}
		if r.Flags&dns.REVOKE != 0 {
			// RFC 5011 §2.1: a revoked key MUST NOT be used as an anchor.
			return fmt.Errorf("anchors: %s DNSKEY %d has the REVOKE flag", name, r.KeyTag())
		}
		key, err := decodeKey(r.PublicKey)
		if err != nil || len(key) == 0 {
			return fmt.Errorf("anchors: %s DNSKEY %d: public key is not base64", name, r.KeyTag())
		}
		an.dnskeys = append(an.dnskeys, r)
		an.keys = append(an.keys, key)
	default:
		return fmt.Errorf("anchors: %s: record type %s is not a trust anchor (want DS or DNSKEY)",
			name, dns.TypeToString[rr.Header().Rrtype])
	}
	a.zones[name] = an
	return nil
}

// Merge returns a new set holding the anchors of a and b; for a zone present
// in both, the records of both are kept.
func (a *Anchors) Merge(b *Anchors) *Anchors {
	out := &Anchors{zones: map[string]*anchor{}}
	for _, src := range []*Anchors{a, b} {
		if src == nil {
			continue
		}
		for _, an := range src.zones {
			cp := out.zones[an.zone]
			if cp == nil {
				cp = &anchor{zone: an.zone}
				out.zones[an.zone] = cp
			}
			cp.ds = append(cp.ds, an.ds...)
			cp.dnskeys = append(cp.dnskeys, an.dnskeys...)
			cp.keys = append(cp.keys, an.keys...)
		}
	}
	return out
}

// Zones lists the zones that have an anchor, sorted.
func (a *Anchors) Zones() []string {
	if a == nil {
		return nil
	}
	var z []string
	for k := range a.zones {
		z = append(z, k)
	}
	sort.Strings(z)
	return z
}

// closest returns the anchor whose zone is the longest ancestor-or-self of
// name, or nil.
func (a *Anchors) closest(name string) *anchor {
	if a == nil {
		return nil
	}
	name = dns.CanonicalName(name)
	for {
		if an := a.zones[name]; an != nil {
			return an
		}
		if name == "." {
			return nil
		}
		name = parentName(name)
	}
}

// parentName returns the name with its first label removed ("." stays ".").
func parentName(name string) string {
	if name == "." || name == "" {
		return "."
	}
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}
