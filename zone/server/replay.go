package server

import (
	"container/heap"
	"sync"
	"time"
)

// DefaultTSIGWindow is the largest difference between a TSIG-signed
// request's Time Signed and the server's clock that the server accepts,
// whatever Fudge the client chose (RFC 8945 §5.2.3 checks the time; §10
// recommends 300 seconds). The Fudge field is the client's to set, up to
// 65535 seconds (18 hours): without a cap of the server's own, an update
// captured on the wire could be replayed for that long.
const DefaultTSIGWindow = 300 * time.Second

// DefaultReplayEntries bounds the replay cache: at 300 s of window it holds
// every update of a fleet sending 200 a second, in about 10 MB. Beyond it
// the oldest entries give way and their key refuses older Time Signed
// values instead (see replayCache).
const DefaultReplayEntries = 1 << 16

// replayCache remembers the MAC of every TSIG-signed UPDATE the server
// accepted within the time window, so that the same message sent again
// (a replay by whoever captured it, or a retransmission) is refused: a
// TSIG MAC covers the whole message and its Time Signed, and the server
// accepts a message only within the window of its Time Signed, so a MAC
// remembered for the window catches every copy of an accepted message.
//
// Memory is bounded: when the cache is full, the entry with the oldest
// Time Signed is dropped and its key's floor rises to that time; a message
// of that key signed at or before its floor is refused as well, as RFC
// 8945 §5.2.3 lets a server refuse a message with a Time Signed earlier
// than one it has seen. So a flood of valid updates (which only a holder
// of the key can make) can delay the refusal of nothing: it can only make
// late-arriving messages of its own key refused. The floors start at the
// time the cache was made, so that a message accepted by a previous run of
// the server (whose cache is gone) cannot be replayed after a restart.
type replayCache struct {
	mu      sync.Mutex
	window  time.Duration
	max     int
	seen    map[replayKey]struct{}
	byTime  replayHeap
	floor   map[string]uint64 // key name -> refuse Time Signed at or below
	initial uint64            // floor of a key not in floor
}

type replayKey struct {
	key, mac string
}

// replayVerdict is why a message was refused, or replayFresh.
type replayVerdict int

const (
	replayFresh replayVerdict = iota
	// replaySeen: the same key and MAC were accepted before.
	replaySeen
	// replayTooOld: signed at or before the key's floor (before the server
	// started, or before a message the full cache had to forget).
	replayTooOld
)

func (v replayVerdict) String() string {
	switch v {
	case replaySeen:
		return "MAC seen before (replay)"
	case replayTooOld:
		return "signed before the oldest time the replay cache covers"
	}
	return "fresh"
}

func newReplayCache(window time.Duration, max int, start time.Time) *replayCache {
	if max <= 0 {
		max = DefaultReplayEntries
	}
	// Messages signed in the start second itself are accepted (a client
	// started with the server would otherwise be refused); one sent in
	// that second to the previous run could be replayed, which needs a
	// restart within a second of its capture.
	return &replayCache{window: window, max: max, seen: map[replayKey]struct{}{}, floor: map[string]uint64{},
		initial: uint64(start.Unix()) - 1}
}

// check records the message of key with mac signed at timeSigned (Unix
// seconds) and reports replayFresh the first time; a message already
// checked within the window, or older than the key's floor, is refused.
// Callers have verified the MAC and the time window first: only messages
// made with the key get here.
func (c *replayCache) check(key, mac string, timeSigned uint64, now time.Time) replayVerdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	floor, ok := c.floor[key]
	if !ok {
		floor = c.initial
	}
	if timeSigned <= floor {
		return replayTooOld
	}
	k := replayKey{key, mac}
	if _, dup := c.seen[k]; dup {
		return replaySeen
	}
	c.seen[k] = struct{}{}
	heap.Push(&c.byTime, replayEntry{k, timeSigned})
	for len(c.seen) > c.max {
		old := heap.Pop(&c.byTime).(replayEntry)
		delete(c.seen, old.k)
		if f, ok := c.floor[old.k.key]; !ok || old.t > f {
			c.floor[old.k.key] = old.t
		}
	}
	return replayFresh
}

// expire forgets the entries whose message the time check refuses by now:
// signed more than the window ago.
func (c *replayCache) expire(now time.Time) {
	limit := now.Add(-c.window).Unix()
	for len(c.byTime) > 0 && int64(c.byTime[0].t) < limit {
		old := heap.Pop(&c.byTime).(replayEntry)
		delete(c.seen, old.k)
	}
}

// len returns the number of remembered messages.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type replayEntry struct {
	k replayKey
	t uint64
}

// replayHeap orders entries by Time Signed, oldest first.
type replayHeap []replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return h[i].t < h[j].t }
func (h replayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *replayHeap) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *replayHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
