package zone

import "time"

// DefaultResignAge is how long the serial may stay unchanged before
// KeepFresh bumps it. Secondaries only fetch the zone when the serial
// changes, and they keep the signatures they fetched: every signature in a
// transfer has more than the refresh margin (7 days by default) left, so a
// new serial every 3 days makes them fetch fresh signatures long before
// the old ones expire. The SOA expire (6 days) stops a secondary that can
// no longer reach the primary before that.
const DefaultResignAge = 3 * 24 * time.Hour

// KeepFresh bumps the SOA serial when it has not changed for maxAge (zero:
// DefaultResignAge), so that secondaries transfer the zone again and get
// the signatures refreshed since. It reports whether it bumped the serial.
func (z *Zone) KeepFresh(maxAge time.Duration) (bool, error) {
	if maxAge <= 0 {
		maxAge = DefaultResignAge
	}
	last := time.Unix(z.lastChange.Load(), 0)
	if z.now().Sub(last) < maxAge {
		return false, nil
	}
	_, err := z.changeSerial(func(*view) error { return nil }, true)
	return err == nil, err
}
