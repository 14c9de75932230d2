package server

import (
	"sort"
	"sync"
)

// Metrics counts requests by outcome: success, nodata, nxdomain, refused,
// formerr, servfail, tsig_failure, update_applied, update_refused.
type Metrics struct {
	mu sync.Mutex
	m  map[string]uint64
}

func newMetrics() *Metrics { return &Metrics{m: map[string]uint64{}} }

func (m *Metrics) count(k string) {
	m.mu.Lock()
	m.m[k]++
	m.mu.Unlock()
}

// Get returns the counter k.
func (m *Metrics) Get(k string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[k]
}

// Snapshot returns all counters, keys sorted.
func (m *Metrics) Snapshot() ([]string, map[string]uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]uint64, len(m.m))
	keys := make([]string, 0, len(m.m))
	for k, v := range m.m {
		out[k] = v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, out
}
