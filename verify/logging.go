package verify

import (
	"context"
	"sync"
	"time"
)

// RefusalLogInterval is how often, at most, a refusal served from the
// verdict cache is logged for one name: a client retrying in a loop costs
// no lookup, and should cost no more than a line a minute in the log.
const RefusalLogInterval = time.Minute

// maxRefusalLogNames bounds the names whose last refusal line is
// remembered; beyond it the memory starts afresh.
const maxRefusalLogNames = 10000

type peerKey struct{}

// WithPeerAddr returns a context carrying the peer's network address; the
// core adds it ("remote") to the log record of a verdict made under that
// context, so that a server logs one line per refused client, not two.
func WithPeerAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, peerKey{}, addr)
}

// peerAttrs prepends the peer's address in ctx, if any, to attrs.
func peerAttrs(ctx context.Context, attrs ...any) []any {
	if a, ok := ctx.Value(peerKey{}).(string); ok && a != "" {
		return append([]any{"remote", a}, attrs...)
	}
	return attrs
}

// refusalLog remembers when each name's refusal was last logged.
type refusalLog struct {
	mu    sync.Mutex
	names map[string]*refusalEntry
}

type refusalEntry struct {
	last       time.Time
	suppressed int
}

// allow reports whether a refusal of name is logged now, and how many
// were left out since the last line. A refusal that is not from the cache
// is always logged (it cost a lookup, and may be news); one from the cache
// only when none was logged for the name within RefusalLogInterval.
func (l *refusalLog) allow(name string, cached bool, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.names == nil || len(l.names) >= maxRefusalLogNames {
		l.names = make(map[string]*refusalEntry)
	}
	e := l.names[name]
	if e == nil {
		e = &refusalEntry{}
		l.names[name] = e
	} else if cached && now.Sub(e.last) < RefusalLogInterval {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}
