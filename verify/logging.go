package verify

import (
	"context"
	"sync"
	"time"

	"github.com/dnsbound/dance/internal/logthrottle"
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

// MaxOffListLines is how many names off the allow-list (or not names at
// all) are logged, at most, per RefusalLogInterval: such refusals cost no
// lookup, so a peer can send them as fast as it connects, each with a name
// of its own. The next line logged counts the ones left out.
const MaxOffListLines = 100

// refusalLog remembers when each name's refusal was last logged.
type refusalLog struct {
	once  sync.Once
	names *logthrottle.Throttle[string]

	mu sync.Mutex
	// offListStart opens the current window of MaxOffListLines; offList
	// counts the lines logged in it, offListLost the refusals left out.
	offListStart         time.Time
	offList, offListLost int
}

// allow reports whether a refusal of name is logged now, how many were
// left out for name since its last line, and, for an off-list refusal, how
// many of other names were left out by the window's cap. A refusal that
// cost a lookup (not cached, not off the list) is always logged: it may be
// news. One from the cache or off the allow-list (quiet) is logged only
// when none was logged for the name within RefusalLogInterval, and an
// off-list one only within MaxOffListLines per interval.
func (l *refusalLog) allow(name string, quiet, offList bool, now time.Time) (ok bool, suppressed, others int) {
	l.once.Do(func() { l.names = logthrottle.New[string](RefusalLogInterval, maxRefusalLogNames) })
	if quiet && !l.names.Due(name, now) {
		return false, 0, 0
	}
	if offList {
		l.mu.Lock()
		if now.Sub(l.offListStart) >= RefusalLogInterval || now.Before(l.offListStart) {
			l.offListStart, l.offList = now, 0
		}
		if l.offList >= MaxOffListLines {
			l.offListLost++
			l.mu.Unlock()
			return false, 0, 0
		}
		l.offList++
		others, l.offListLost = l.offListLost, 0
		l.mu.Unlock()
	}
	return true, l.names.Wrote(name, now), others
}
