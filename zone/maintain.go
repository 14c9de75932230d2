package zone

import (
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/image"
)

// DefaultResignAge is the longest the serial may stay unchanged before
// KeepFresh bumps it. Secondaries only fetch the zone when the serial
// changes, and they keep the signatures they fetched: every signature in a
// transfer has more than its refresh margin left (7 days for the zone's
// RRsets, half the identity signature validity for identity RRsets), so a
// new serial every 3 days, or every quarter of the identity signature
// validity when that is sooner (ResignAge), makes them fetch fresh
// signatures long before the old ones expire.
const DefaultResignAge = 3 * 24 * time.Hour

// ResignAge is how long the serial may stay unchanged before KeepFresh
// bumps it: DefaultResignAge, or a quarter of the identity signature
// validity when that is shorter. A secondary holds identity signatures
// with more than half their validity left when it transfers; the next
// serial comes a quarter of the validity later, and a secondary polling
// every hour (the SOA refresh) fetches it long before they expire.
func (z *Zone) ResignAge() time.Duration {
	return min(DefaultResignAge, z.IdentitySigValidity()/4)
}

// KeepFresh bumps the SOA serial when it has not changed for maxAge (zero:
// ResignAge), so that secondaries transfer the zone again and get the
// signatures refreshed since. It reports whether it bumped the serial.
func (z *Zone) KeepFresh(maxAge time.Duration) (bool, error) {
	if maxAge <= 0 {
		maxAge = z.ResignAge()
	}
	last := time.Unix(z.lastChange.Load(), 0)
	if z.now().Sub(last) < maxAge {
		return false, nil
	}
	_, err := z.changeSerial(func(*view) error { return nil }, true)
	return err == nil, err
}

// imageFresh reports whether every RRSIG in im, a zone in transfer form
// (transferImage), is still good by the zone's current signer: begun, more
// than its refresh margin left, and reaching no further than its type's
// validity. A zone kept across a restart (the IXFR journal's newest) is
// checked before it is sent again: the server may have been stopped for
// longer than the identity signatures have left.
func (z *Zone) imageFresh(im image.Source) (bool, error) {
	sg := z.signer.Load()
	var one [1]dns.RR
	fresh := true
	err := im.Each(func(b []byte) error {
		if image.TypeOf(b) != dns.TypeRRSIG {
			return nil
		}
		rr, off, err := dns.UnpackRR(b, 0)
		if err != nil || off != len(b) {
			return fmt.Errorf("%w: %v", image.ErrCorrupt, err)
		}
		one[0] = rr
		if !sg.Fresh(one[:]) {
			fresh = false
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return false, err
	}
	return fresh, nil
}

// errStop ends a walk (image.Source.Each) early.
var errStop = errors.New("zone: walk stopped")
