package zone

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/keys"
)

// RolloverStep is one step of a rollover of the combined signing key by
// the double-signature method (RFC 7583): while both keys are published,
// both sign every RRset, so validators that trust either one (a DS at the
// parent, a static trust anchor) keep validating, and zone checkers that
// want every published signing key to sign the zone (kzonecheck) agree.
type RolloverStep string

// The three steps. Between steps, wait as RFC 7583 says: the DNSKEY TTL
// after Prepublish, the parent's DS change plus its TTL after Activate.
const (
	// Prepublish creates the new key, adds it to the DNSKEY RRset (and to
	// DIR/anchors) and signs with both keys.
	Prepublish RolloverStep = "prepublish"
	// Activate makes the new key the zone's key: CDS/CDNSKEY move to it,
	// so the parent can replace the DS. Both keys still sign.
	Activate RolloverStep = "activate"
	// Retire removes the old key from the DNSKEY RRset and DIR/anchors;
	// the new key alone signs.
	Retire RolloverStep = "retire"
)

// ErrRollover is returned for a step taken out of order.
var ErrRollover = errors.New("zone: rollover step out of order")

// KeyInfo describes one key of the zone.
type KeyInfo struct {
	Tag       uint16
	Algorithm uint8
	// State is "active" (the key of CDS/CDNSKEY), "incoming" (published
	// and signing ahead of activation) or "outgoing" (published and
	// signing until retired).
	State string
	File  string
	DS    string
}

// Keys lists the zone's keys.
func (z *Zone) Keys() []KeyInfo {
	z.wmu.Lock()
	defer z.wmu.Unlock()
	var out []KeyInfo
	for _, g := range []struct {
		state string
		files []string
	}{{"active", z.settings.KeyFiles}, {"incoming", z.settings.IncomingKeyFiles}, {"outgoing", z.settings.OutgoingKeyFiles}} {
		for _, f := range g.files {
			k, err := keys.Load(filepath.Join(z.dir, KeysDir, f))
			if err != nil {
				continue
			}
			out = append(out, KeyInfo{Tag: k.Tag(), Algorithm: k.DNSKEY.Algorithm, State: g.state, File: f, DS: k.DS(keys.DigestSHA256).String()})
		}
	}
	return out
}

// Rollover takes one step of a key rollover and returns the new serial.
func (z *Zone) Rollover(step RolloverStep) (uint32, error) {
	z.wmu.Lock()
	cur := *z.settings
	z.wmu.Unlock()
	next := cur
	next.KeyFiles = slices.Clone(cur.KeyFiles)
	switch step {
	case Prepublish:
		if len(cur.IncomingKeyFiles) > 0 || len(cur.OutgoingKeyFiles) > 0 {
			return 0, fmt.Errorf("%w: a rollover is already under way (activate or retire first)", ErrRollover)
		}
		old, err := keys.Load(filepath.Join(z.dir, KeysDir, cur.KeyFiles[0]))
		if err != nil {
			return 0, err
		}
		k, err := keys.Generate(cur.Origin, old.DNSKEY.Algorithm, keys.FlagsCSK)
		if err != nil {
			return 0, err
		}
		k.DNSKEY.Hdr.Ttl = cur.KeyTTL
		f, err := keys.Write(filepath.Join(z.dir, KeysDir), k)
		if err != nil {
			return 0, err
		}
		next.IncomingKeyFiles = []string{filepath.Base(f)}
	case Activate:
		if len(cur.IncomingKeyFiles) == 0 {
			return 0, fmt.Errorf("%w: no pre-published key to activate", ErrRollover)
		}
		next.KeyFiles = cur.IncomingKeyFiles
		next.OutgoingKeyFiles = cur.KeyFiles
		next.IncomingKeyFiles = nil
	case Retire:
		if len(cur.OutgoingKeyFiles) == 0 {
			return 0, fmt.Errorf("%w: no outgoing key to retire", ErrRollover)
		}
		next.OutgoingKeyFiles = nil
	default:
		return 0, fmt.Errorf("zone: unknown rollover step %q (want prepublish, activate or retire)", step)
	}
	sg, err := z.newSigner(&next)
	if err != nil {
		return 0, err
	}
	published := sg // every published key signs
	active, err := z.newSigner(&Settings{Origin: cur.Origin, KeyFiles: next.KeyFiles})
	if err != nil {
		return 0, err
	}
	origin := cur.Origin
	var dnskeys, cds, cdnskey []dns.RR
	for _, k := range published.Keys {
		d := dns.Copy(k.DNSKEY).(*dns.DNSKEY)
		d.Hdr.Ttl = cur.KeyTTL
		dnskeys = append(dnskeys, d)
	}
	for _, k := range active.Keys {
		c := k.CDS(keys.DigestSHA256)
		c.Hdr.Ttl = cur.KeyTTL
		cds = append(cds, c)
		ck := k.CDNSKEY()
		ck.Hdr.Ttl = cur.KeyTTL
		cdnskey = append(cdnskey, ck)
	}
	serial, err := z.change(func(v *view) error {
		if err := v.set(origin, dns.TypeDNSKEY, dnskeys); err != nil {
			return err
		}
		if err := v.set(origin, dns.TypeCDS, cds); err != nil {
			return err
		}
		if err := v.set(origin, dns.TypeCDNSKEY, cdnskey); err != nil {
			return err
		}
		v.meta = map[string][]byte{metaSettings: next.marshal()}
		v.after = func() {
			// Only the key lists change; other settings are read
			// without locks.
			z.settings.KeyFiles = next.KeyFiles
			z.settings.IncomingKeyFiles = next.IncomingKeyFiles
			z.settings.OutgoingKeyFiles = next.OutgoingKeyFiles
			z.signer.Store(sg)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Trust anchors follow the published keys.
	tmp := filepath.Join(z.dir, AnchorsFile+".new")
	if err := os.WriteFile(tmp, []byte(keys.Anchors(published.Keys)), 0o644); err != nil {
		return serial, fmt.Errorf("zone: anchors: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(z.dir, AnchorsFile)); err != nil {
		return serial, fmt.Errorf("zone: anchors: %w", err)
	}
	return serial, nil
}
