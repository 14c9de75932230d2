// Package keys creates, stores and loads the DNSSEC signing keys of an
// identity zone, and derives from them what a parent zone and a validator
// need: DS records, CDS/CDNSKEY records (RFC 7344) and trust-anchor lines.
//
// Keys are written in the BIND key-file pair format (Kzone+alg+tag.key and
// .private), so other DNS tools (dnssec-signzone, ldns-signzone, keymgr
// import-bind) can read them. Private key files are created with mode 0600.
//
// Start with Generate, then Write and Load.
package keys

import (
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/atomicfile"
)

// Algorithms an identity zone can sign with. Both are "MUST implement" for
// validators in RFC 8624 §3.1 and give short signatures, which keeps
// responses under the 1232-octet EDNS buffer recommended by DNS flag day.
const (
	// ECDSAP256SHA256 is DNSSEC algorithm 13 (RFC 6605).
	ECDSAP256SHA256 = dns.ECDSAP256SHA256
	// ED25519 is DNSSEC algorithm 15 (RFC 8080).
	ED25519 = dns.ED25519
)

// DNSKEY flags (RFC 4034 §2.1.1).
const (
	// FlagZone is the Zone Key flag (bit 7): the key signs zone data.
	FlagZone uint16 = 0x0100
	// FlagSEP is the Secure Entry Point flag (bit 15, RFC 3757): the key
	// is the one a DS record at the parent points to.
	FlagSEP uint16 = 0x0001
	// FlagsCSK are the flags of a combined signing key: it signs the
	// DNSKEY RRset and the rest of the zone.
	FlagsCSK = FlagZone | FlagSEP
	// FlagsKSK are the flags of a key-signing key (RFC 6781 §3.1): the
	// key the parent's DS points to, which signs the DNSKEY, CDS and
	// CDNSKEY RRsets. The flags are those of a CSK; what tells the two
	// apart is whether the zone also has a key without the SEP flag.
	FlagsKSK = FlagZone | FlagSEP
	// FlagsZSK are the flags of a zone-signing key: it signs every other
	// RRset, and no DS points to it.
	FlagsZSK = FlagZone
)

// DNSKEY protocol field, always 3 (RFC 4034 §2.1.2).
const protocolDNSSEC = 3

// DS digest types used for the records printed for the parent.
const (
	// DigestSHA256 is DS digest type 2 (RFC 4509), mandatory to implement.
	DigestSHA256 = dns.SHA256
)

// ErrAlgorithm is returned for an algorithm name or number this package does
// not sign with.
var ErrAlgorithm = errors.New("unsupported DNSSEC algorithm")

// ParseAlgorithm maps the command-line names "ecdsa-p256" and "ed25519"
// (and the numbers "13" and "15") to DNSSEC algorithm numbers.
func ParseAlgorithm(s string) (uint8, error) {
	switch strings.ToLower(s) {
	case "ecdsa-p256", "ecdsap256sha256", "13":
		return ECDSAP256SHA256, nil
	case "ed25519", "15":
		return ED25519, nil
	}
	return 0, fmt.Errorf("%w %q (want ecdsa-p256 or ed25519)", ErrAlgorithm, s)
}

// Key is a DNSSEC key pair: the public DNSKEY record and its private half.
type Key struct {
	DNSKEY *dns.DNSKEY
	Signer crypto.Signer
}

// maxTagTries bounds the draws Generate makes for a usable key tag; with
// one bad tag in 65,536 plus a few in use, 64 draws never all fail in
// practice.
const maxTagTries = 64

// Generate creates a new key for zone with the given algorithm and flags.
//
// The key's tag is never 0 and never one of avoid (the tags of the zone's
// other keys): RFC 4034 Appendix B allows any tag, but a tag shared by two
// keys of a zone makes validators try each key in turn (RFC 6781 §3.1.3,
// and KeyTrap's cost, CVE-2023-50387), and the DNS library this package
// signs with refuses to sign with a key whose tag is 0, so such a key would
// leave the zone unsigned. A key is drawn again until its tag is usable.
func Generate(zone string, alg uint8, flags uint16, avoid ...uint16) (*Key, error) {
	for range maxTagTries {
		k, err := drawKey(zone, alg, flags)
		if err != nil {
			return nil, err
		}
		if UsableTag(k.Tag(), avoid) {
			return k, nil
		}
	}
	return nil, fmt.Errorf("keys: no key with a usable tag in %d draws", maxTagTries)
}

// UsableTag reports whether a new key may have tag: not 0 and not the tag
// of another key of the zone (see Generate).
func UsableTag(tag uint16, inUse []uint16) bool {
	return tag != 0 && !slices.Contains(inUse, tag)
}

// drawKey makes one key; tests replace it to draw unusable tags.
var drawKey = generate

func generate(zone string, alg uint8, flags uint16) (*Key, error) {
	bits := 0
	switch alg {
	case ECDSAP256SHA256:
		bits = 256
	case ED25519:
		bits = 256
	default:
		return nil, fmt.Errorf("%w %d", ErrAlgorithm, alg)
	}
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.CanonicalName(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET},
		Flags:     flags,
		Protocol:  protocolDNSSEC,
		Algorithm: alg,
	}
	priv, err := k.Generate(bits)
	if err != nil {
		return nil, fmt.Errorf("keys: generate: %w", err)
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: generated key of type %T cannot sign", priv)
	}
	return &Key{DNSKEY: k, Signer: s}, nil
}

// IsSEP reports whether the key has the Secure Entry Point flag: it is a
// KSK or a CSK, the kind of key a DS record and a trust anchor name.
func (k *Key) IsSEP() bool { return k.DNSKEY.Flags&FlagSEP != 0 }

// Tag is the key tag (RFC 4034 Appendix B).
func (k *Key) Tag() uint16 { return k.DNSKEY.KeyTag() }

// DS returns the DS record for the parent with the given digest type.
func (k *Key) DS(digest uint8) *dns.DS { return k.DNSKEY.ToDS(digest) }

// CDS returns the child copy of the DS record (RFC 7344 §3.1).
func (k *Key) CDS(digest uint8) *dns.CDS { return k.DS(digest).ToCDS() }

// CDNSKEY returns the child copy of the DNSKEY record (RFC 7344 §3.2).
func (k *Key) CDNSKEY() *dns.CDNSKEY { return k.DNSKEY.ToCDNSKEY() }

// BaseName is the BIND file name stem of the key: Kzone+AAA+TTTTT.
func (k *Key) BaseName() string {
	zone := strings.TrimSuffix(dns.CanonicalName(k.DNSKEY.Hdr.Name), ".")
	if zone == "" {
		zone = "."
	}
	return fmt.Sprintf("K%s.+%03d+%05d", zone, k.DNSKEY.Algorithm, k.Tag())
}

// Write stores the key pair in dir as BaseName().key (mode 0644) and
// BaseName().private (mode 0600) and returns the path of the .key file. It
// refuses to overwrite existing files.
func Write(dir string, k *Key) (string, error) {
	base := filepath.Join(dir, k.BaseName())
	pub := base + ".key"
	priv := base + ".private"
	if err := writeNew(priv, []byte(k.DNSKEY.PrivateKeyString(k.Signer)), 0o600); err != nil {
		return "", err
	}
	if err := writeNew(pub, []byte(k.DNSKEY.String()+"\n"), 0o644); err != nil {
		os.Remove(priv)
		return "", err
	}
	return pub, nil
}

// writeNew creates name with perm, failing if it exists. It is written
// atomically and synced, so a key reported as written survives a crash and
// a crash never leaves part of one.
func writeNew(name string, data []byte, perm os.FileMode) error {
	if err := atomicfile.CreateFile(name, data, perm); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}

// Load reads a key pair from its .key file and the .private file beside it.
// The private file must not be readable by group or others.
func Load(keyFile string) (*Key, error) {
	base := strings.TrimSuffix(keyFile, ".key")
	pubText, err := os.ReadFile(base + ".key")
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	rr, err := dns.NewRR(string(pubText))
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", base+".key", err)
	}
	dk, ok := rr.(*dns.DNSKEY)
	if !ok {
		return nil, fmt.Errorf("keys: %s: not a DNSKEY record", base+".key")
	}
	privName := base + ".private"
	st, err := os.Stat(privName)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keys: %s: private key is accessible by group or others (mode %v); run chmod 600", privName, st.Mode().Perm())
	}
	f, err := os.Open(privName)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer f.Close()
	priv, err := dk.ReadPrivateKey(f, privName)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", privName, err)
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: %s: key of type %T cannot sign", privName, priv)
	}
	if dk.Algorithm != ECDSAP256SHA256 && dk.Algorithm != ED25519 {
		return nil, fmt.Errorf("keys: %s: %w %d", base+".key", ErrAlgorithm, dk.Algorithm)
	}
	return &Key{DNSKEY: dk, Signer: s}, nil
}

// Anchors returns the trust-anchor lines for the keys: one DS (SHA-256) and
// one DNSKEY line per SEP key, in zone-file syntax as Unbound's
// trust-anchor-file and `dance lookup --anchors` read them.
func Anchors(ks []*Key) string {
	var b strings.Builder
	for _, k := range ks {
		if !k.IsSEP() {
			continue
		}
		fmt.Fprintf(&b, "%s\n", k.DS(DigestSHA256).String())
	}
	for _, k := range ks {
		if !k.IsSEP() {
			continue
		}
		fmt.Fprintf(&b, "%s\n", k.DNSKEY.String())
	}
	return b.String()
}
