// Package logthrottle holds back repeated log lines per key (a name, a
// kind of event): a line for a key is written at most once per interval,
// and the next one says how many were held back meanwhile. A peer retrying
// a refused request in a loop, or a flood of forged packets, then costs a
// line per interval instead of one per attempt; metrics still count every
// event.
//
// For most uses, make a Throttle with New and call Allow before logging.
package logthrottle

import (
	"sync"
	"time"
)

// A Throttle spaces the log lines of each key by its interval. It
// remembers at most maxKeys keys; beyond them it forgets them all and
// starts afresh, so memory stays bounded whatever the keys (a forgotten
// key's next line is written at once). The zero value is not usable; a
// Throttle is safe for concurrent use.
type Throttle[K comparable] struct {
	interval time.Duration
	maxKeys  int

	mu   sync.Mutex
	keys map[K]*entry
}

type entry struct {
	last time.Time // when the key's last line was written
	held int       // lines held back since then
}

// New returns a Throttle that writes a key's line at most once per
// interval and remembers at most maxKeys keys (at least 1).
func New[K comparable](interval time.Duration, maxKeys int) *Throttle[K] {
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &Throttle[K]{interval: interval, maxKeys: maxKeys}
}

// Allow reports whether a line for key is written at now, and how many
// were held back for key since its previous line. It is Due followed, when
// due, by Wrote.
func (t *Throttle[K]) Allow(key K, now time.Time) (ok bool, held int) {
	if !t.Due(key, now) {
		return false, 0
	}
	return true, t.Wrote(key, now)
}

// Due reports whether a line for key may be written at now: none was
// written within the interval before now. When it is not due, the line
// counts as held back. A clock that went back (now before the key's last
// line) makes the line due, so that a wrong clock cannot silence a key.
// Due records nothing else: call Wrote when the line is written.
func (t *Throttle[K]) Due(key K, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil {
		return true
	}
	if d := now.Sub(e.last); d >= 0 && d < t.interval {
		e.held++
		return false
	}
	return true
}

// Wrote records that a line for key is written at now, due or not (a
// line the caller always writes), and returns how many were held back for
// key since its previous line.
func (t *Throttle[K]) Wrote(key K, now time.Time) (held int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil {
		if t.keys == nil || len(t.keys) >= t.maxKeys {
			t.keys = make(map[K]*entry)
		}
		t.keys[key] = &entry{last: now}
		return 0
	}
	held = e.held
	e.last, e.held = now, 0
	return held
}
