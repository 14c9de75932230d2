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
	_, err := r.addAll([]replayEntry{{signer, id, until}}, now)
	return err
}

// replayEntry is a message id to remember: its signer's, until when.
type replayEntry struct {
	signer, id string
	until      time.Time
}

// addAll records every entry of es or, if one is a replay (of a
// remembered id or of another entry) or there is no room for all, none of
// them, and returns the index of the entry refused with the error. The
// ids of a countersigned message are spent together: a second signature
// refused as a replay must not spend the first one's id.
func (r *replayCache) addAll(es []replayEntry, now time.Time) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, e := range es {
		if exp, ok := r.bySigner[e.signer][e.id]; ok && now.Before(exp) {
			return i, fail(ReasonReplayed, "%s already sent message %q", e.signer, e.id)
		}
		for _, f := range es[:i] {
			if f.signer == e.signer && f.id == e.id {
				return i, fail(ReasonReplayed, "%s sent message %q twice", e.signer, e.id)
			}
		}
	}
	for i, e := range es {
		need := 0
		for _, f := range es {
			if f.signer == e.signer {
				need++
			}
		}
		if len(r.bySigner[e.signer])+need > r.per {
			r.sweep(e.signer, now)
			if n := len(r.bySigner[e.signer]); n+need > r.per {
				return i, fail(ReasonReplayFull, "%d message ids of %s remembered, at most %d", n, e.signer, r.per)
			}
		}
	}
	if r.n+len(es) > r.max {
		for s := range r.bySigner {
			r.sweep(s, now)
		}
		if r.n+len(es) > r.max {
			return 0, fail(ReasonReplayFull, "%d message ids remembered, at most %d", r.n, r.max)
		}
	}
	for _, e := range es {
		ids := r.bySigner[e.signer]
		if ids == nil {
			ids = map[string]time.Time{}
			r.bySigner[e.signer] = ids
		}
		if _, ok := ids[e.id]; !ok {
			r.n++
		}
		ids[e.id] = e.until
	}
	return 0, nil
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
