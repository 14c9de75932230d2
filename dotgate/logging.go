package dotgate

import (
	"sync"
	"time"

	"github.com/dnsbound/dance/verify"
)

// maxLoggedNames bounds the names whose last refusal line is remembered;
// beyond it the memory starts afresh.
const maxLoggedNames = 10000

// nameLog holds back refusal lines of a name logged within the last
// verify.RefusalLogInterval, as the verification core does for the names
// it refuses: a client retrying in a loop costs a line a minute.
type nameLog struct {
	mu    sync.Mutex
	names map[string]*nameEntry
}

type nameEntry struct {
	last       time.Time
	suppressed int
}

// allow reports whether a refusal of name is logged now, and how many
// were held back for name since its last line.
func (l *nameLog) allow(name string, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.names == nil || len(l.names) >= maxLoggedNames {
		l.names = map[string]*nameEntry{}
	}
	e := l.names[name]
	if e == nil {
		l.names[name] = &nameEntry{last: now}
		return true, 0
	}
	if d := now.Sub(e.last); d >= 0 && d < verify.RefusalLogInterval {
		e.suppressed++
		return false, 0
	}
	suppressed = e.suppressed
	e.last, e.suppressed = now, 0
	return true, suppressed
}
