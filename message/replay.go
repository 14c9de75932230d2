package message

import (
	"sync"
	"time"
)

// replayCache remembers the message ids each signer used, each until its
// message could no longer be accepted, within bounds per signer and in
// all. When full it refuses: forgetting an id early would let its message
// be replayed.
type replayCache struct {
	mu       sync.Mutex
	max, per int
	n        int
	bySigner map[string]map[string]time.Time
}

func newReplayCache(max, per int) *replayCache {
	return &replayCache{max: max, per: per, bySigner: map[string]map[string]time.Time{}}
}

// add records signer's id, valid until until, or refuses it as a replay
// or for lack of room.
func (r *replayCache) add(signer, id string, until, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := r.bySigner[signer]
	if exp, ok := ids[id]; ok && now.Before(exp) {
		return fail(ReasonReplayed, "%s already sent message %q", signer, id)
	}
	if len(ids) >= r.per {
		r.sweep(signer, now)
		ids = r.bySigner[signer]
		if len(ids) >= r.per {
			return fail(ReasonReplayFull, "%d message ids of %s remembered, at most %d", len(ids), signer, r.per)
		}
	}
	if r.n >= r.max {
		for s := range r.bySigner {
			r.sweep(s, now)
		}
		if r.n >= r.max {
			return fail(ReasonReplayFull, "%d message ids remembered, at most %d", r.n, r.max)
		}
		ids = r.bySigner[signer]
	}
	if ids == nil {
		ids = map[string]time.Time{}
		r.bySigner[signer] = ids
	}
	if _, ok := ids[id]; !ok {
		r.n++
	}
	ids[id] = until
	return nil
}

// sweep forgets signer's ids whose messages can no longer be accepted.
func (r *replayCache) sweep(signer string, now time.Time) {
	ids := r.bySigner[signer]
	for id, exp := range ids {
		if !now.Before(exp) {
			delete(ids, id)
			r.n--
		}
	}
	if len(ids) == 0 {
		delete(r.bySigner, signer)
	}
}
