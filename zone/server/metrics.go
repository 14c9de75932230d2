package server

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Metrics counts requests by outcome: success, nodata, nxdomain, refused,
// formerr, servfail, tsig_failure (BADKEY, BADSIG), tsig_badtime (outside
// the time window), tsig_replay (an update seen before), update_applied,
// update_refused,
// xfr_done, xfr_refused, notify_sent, notify_failed. Counting is a lock-free
// atomic add on the query path.
type Metrics struct {
	m sync.Map // string -> *atomic.Uint64
}

func newMetrics() *Metrics { return &Metrics{} }

func (m *Metrics) count(k string) {
	v, ok := m.m.Load(k)
	if !ok {
		v, _ = m.m.LoadOrStore(k, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// Get returns the counter k.
func (m *Metrics) Get(k string) uint64 {
	if v, ok := m.m.Load(k); ok {
		return v.(*atomic.Uint64).Load()
	}
	return 0
}

// Snapshot returns all counters, keys sorted.
func (m *Metrics) Snapshot() ([]string, map[string]uint64) {
	out := map[string]uint64{}
	var keys []string
	m.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		keys = append(keys, k.(string))
		return true
	})
	sort.Strings(keys)
	return keys, out
}
