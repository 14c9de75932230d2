package zone

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/atomicfile"
	"github.com/dnsbound/dance/zone/internal/store"
	"github.com/dnsbound/dance/zone/keys"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// Files inside a zone directory.
const (
	DBFile      = "zone.db"
	KeysDir     = "keys"
	AnchorsFile = "anchors"
	TSIGFile    = "tsig.key"
)

// anchorsFileMode is the mode of AnchorsFile: public keys, readable by the
// validators that load them.
const anchorsFileMode = 0o644

// ErrExists is returned by Init when the directory already holds a zone.
var ErrExists = errors.New("zone: directory already holds a zone")

// InitOptions configure a new zone.
type InitOptions struct {
	// Origin is the zone apex (required).
	Origin string
	// Algorithm is the DNSSEC algorithm; zero means ECDSA P-256 (13).
	Algorithm uint8
	// CSK makes one combined signing key (flags 257) that signs every
	// RRset. The zero value makes a key-signing key (KSK, flags 257: the
	// DS names it; it signs the DNSKEY, CDS and CDNSKEY RRsets) and a
	// zone-signing key (ZSK, flags 256: it signs the rest), as dance zone
	// init does unless given --csk.
	CSK bool
	// NS are the name servers of the zone; empty means ns1.<origin>
	// at 127.0.0.1, a zone served on this machine only.
	NS []string
	// NSAddrs are the addresses of name servers inside the zone (required
	// for those: the parent needs them as glue, RFC 1034 §4.2.1).
	NSAddrs map[string][]netip.Addr
	// TTL, NegativeTTL and KeyTTL override the defaults when non-zero.
	TTL, NegativeTTL, KeyTTL uint32
	// IdentitySigValidity, when non-zero, is stored as the zone's
	// validity of signatures over identity RRsets (default
	// DefaultIdentitySigValidity); it must pass CheckIdentitySigValidity.
	IdentitySigValidity time.Duration
	// Time returns the current time; nil means time.Now.
	Time func() time.Time
}

// InitResult is what Init created.
type InitResult struct {
	Origin string
	// Key is the key the DS records name: the KSK, or the CSK.
	Key *keys.Key
	// ZSK is the zone-signing key; nil for a zone with a CSK.
	ZSK *keys.Key
	// DS are the records to give the parent zone.
	DS []*dns.DS
	// TSIG is the update key written to DIR/tsig.key.
	TSIG *tsigkey.Key
	// Anchors is the text written to DIR/anchors.
	Anchors string
}

// Init creates a new signed zone in dir: the database with SOA, NS, DNSKEY,
// CDS and CDNSKEY, the signing keys in dir/keys (a KSK and a ZSK, or one
// combined signing key with InitOptions.CSK), the trust anchors in
// dir/anchors and an update key in dir/tsig.key.
//
// Why split although both keys live on the server (an online signer needs
// every signing key at hand, so the split protects no key better): the ZSK
// can then be rolled as often as wanted without the parent, since the DS
// names the KSK only (RFC 6781 §3.1); it is what validating zone checkers
// expect by default (dnssec-verify without -z); and the DNSKEY RRset, the
// only one the KSK signs, stays the only answer that grows during a KSK
// rollover. A CSK gives one key, one DS and one signature per RRset.
func Init(dir string, opt InitOptions) (*InitResult, error) {
	if opt.Origin == "" {
		return nil, errors.New("zone: no zone name")
	}
	if _, ok := dns.IsDomainName(opt.Origin); !ok {
		return nil, fmt.Errorf("zone: invalid zone name %q", opt.Origin)
	}
	origin := dns.CanonicalName(opt.Origin)
	if origin == "." {
		return nil, errors.New("zone: refusing to create the root zone")
	}
	if opt.IdentitySigValidity != 0 {
		if err := CheckIdentitySigValidity(opt.IdentitySigValidity); err != nil {
			return nil, err
		}
	}
	alg := opt.Algorithm
	if alg == 0 {
		alg = keys.ECDSAP256SHA256
	}
	now := time.Now
	if opt.Time != nil {
		now = opt.Time
	}
	set := &zoneSettings{
		Origin:      origin,
		TTL:         orDefault(opt.TTL, DefaultTTL),
		NegativeTTL: orDefault(opt.NegativeTTL, DefaultNegativeTTL),
		KeyTTL:      orDefault(opt.KeyTTL, DefaultKeyTTL),
		Created:     now().UTC().Truncate(time.Second),
	}
	set.IdentitySigValidity = uint32(opt.IdentitySigValidity / time.Second)
	nsNames := slices.Clone(opt.NS)
	addrs := map[string][]netip.Addr{}
	for n, a := range opt.NSAddrs {
		addrs[dns.CanonicalName(n)] = a
	}
	if len(nsNames) == 0 {
		nsNames = []string{"ns1." + origin}
		addrs["ns1."+origin] = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	}
	for i, n := range nsNames {
		if _, ok := dns.IsDomainName(n); !ok || n == "" {
			return nil, fmt.Errorf("zone: invalid name server %q", n)
		}
		nsNames[i] = dns.CanonicalName(dns.Fqdn(n))
		if dns.IsSubDomain(origin, nsNames[i]) && len(addrs[nsNames[i]]) == 0 {
			return nil, fmt.Errorf("zone: name server %s is inside the zone and needs an address (NAME=ADDR)", nsNames[i])
		}
	}
	for n := range addrs {
		if !slices.Contains(nsNames, n) {
			return nil, fmt.Errorf("zone: address given for %s, which is not a name server of the zone", n)
		}
		if !dns.IsSubDomain(origin, n) {
			delete(addrs, n) // glue outside the zone belongs to another zone
		}
	}

	if _, err := os.Stat(filepath.Join(dir, DBFile)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, KeysDir), 0o700); err != nil {
		return nil, fmt.Errorf("zone: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("zone: %w", err)
	}

	flags := []uint16{keys.FlagsKSK, keys.FlagsZSK}
	if opt.CSK {
		flags = []uint16{keys.FlagsCSK}
	}
	var ks []*keys.Key
	var dnskeys []dns.RR
	var tags []uint16
	for _, f := range flags {
		k, err := keys.Generate(origin, alg, f, tags...)
		if err != nil {
			return nil, err
		}
		tags = append(tags, k.Tag())
		k.DNSKEY.Hdr.Ttl = set.KeyTTL
		keyFile, err := keys.Write(filepath.Join(dir, KeysDir), k)
		if err != nil {
			return nil, err
		}
		set.KeyFiles = append(set.KeyFiles, filepath.Base(keyFile))
		ks = append(ks, k)
		dnskeys = append(dnskeys, k.DNSKEY)
	}
	k := ks[0] // the KSK or CSK: the key of the DS, CDS and CDNSKEY
	var zsk *keys.Key
	if !opt.CSK {
		zsk = ks[1]
	}

	tk, err := tsigkey.Generate("update."+origin, tsigkey.HMACSHA256)
	if err != nil {
		return nil, err
	}
	if err := tsigkey.WriteFile(filepath.Join(dir, TSIGFile), tk); err != nil {
		return nil, err
	}
	anchors := keys.Anchors(ks)
	if err := atomicfile.WriteFile(filepath.Join(dir, AnchorsFile), []byte(anchors), anchorsFileMode); err != nil {
		return nil, fmt.Errorf("zone: %w", err)
	}

	st, err := store.Create(filepath.Join(dir, DBFile))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	hdr := func(t uint16, ttl uint32) dns.RR_Header {
		return dns.RR_Header{Name: origin, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	soa := &dns.SOA{
		Hdr:     hdr(dns.TypeSOA, set.KeyTTL),
		Ns:      nsNames[0],
		Mbox:    "hostmaster." + origin,
		Serial:  uint32(now().Unix()),
		Refresh: soaRefresh,
		Retry:   soaRetry,
		Expire:  soaExpire,
		Minttl:  set.NegativeTTL,
	}
	var ns []dns.RR
	for _, n := range nsNames {
		ns = append(ns, &dns.NS{Hdr: hdr(dns.TypeNS, set.KeyTTL), Ns: n})
	}
	ds := k.DS(keys.DigestSHA256)
	cds := k.CDS(keys.DigestSHA256)
	cds.Hdr.Ttl = set.KeyTTL
	cdnskey := k.CDNSKEY()
	cdnskey.Hdr.Ttl = set.KeyTTL
	err = st.Update(func(tx *store.Tx) error {
		if err := tx.SetMeta(metaSettings, set.marshal()); err != nil {
			return err
		}
		for t, rrs := range map[uint16][]dns.RR{
			dns.TypeSOA:     {soa},
			dns.TypeNS:      ns,
			dns.TypeDNSKEY:  dnskeys,
			dns.TypeCDS:     {cds},
			dns.TypeCDNSKEY: {cdnskey},
		} {
			if err := tx.Put(origin, t, rrs); err != nil {
				return err
			}
		}
		for n, as := range addrs {
			var v4, v6 []dns.RR
			for _, a := range as {
				h := dns.RR_Header{Name: n, Class: dns.ClassINET, Ttl: set.KeyTTL}
				if a.Is4() {
					h.Rrtype = dns.TypeA
					v4 = append(v4, &dns.A{Hdr: h, A: a.AsSlice()})
				} else {
					h.Rrtype = dns.TypeAAAA
					v6 = append(v6, &dns.AAAA{Hdr: h, AAAA: a.AsSlice()})
				}
			}
			if err := tx.Put(n, dns.TypeA, v4); err != nil {
				return err
			}
			if err := tx.Put(n, dns.TypeAAAA, v6); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("zone: %w", err)
	}
	return &InitResult{Origin: origin, Key: k, ZSK: zsk, DS: []*dns.DS{ds}, TSIG: tk, Anchors: anchors}, nil
}

func orDefault(v, d uint32) uint32 {
	if v == 0 {
		return d
	}
	return v
}
