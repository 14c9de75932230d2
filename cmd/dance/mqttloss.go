package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// mqttReorder is how far behind the highest number of its stream a
// missing reading may still arrive before it is reported lost: handlers
// run unordered (mqttConnect), and the broker delivers at most
// max_inflight_messages (20 by default in mosquitto) unacknowledged at a
// time, so a reading this far behind is not coming.
const mqttReorder = 256

// mqttMaxStreams bounds the streams followed at once: each run of a
// sensor is a stream, under an id the signer chooses. Past it, the stream
// seen least recently is dropped, its open gaps reported lost.
const mqttMaxStreams = 1024

// mqttLossHint says where lost readings usually go.
const mqttLossHint = "the broker drops messages when a subscriber's queue is full (mosquitto: max_queued_messages, 1000 by default) or while no one is subscribed"

// lossTracker follows the numbered streams of signers (message.Seq) and
// reports readings that never arrived: a gap that stays open once the
// stream has moved mqttReorder past it. It remembers at most
// mqttMaxStreams streams of mqttReorder missing numbers each. It is used
// by one goroutine.
type lossTracker struct {
	w       io.Writer // where warnings go
	role    string
	streams map[string]*lossStream
	lost    uint64 // in all
	tick    uint64 // counts calls to seen, for lossStream.last
	// counter, when not nil, counts lost readings too (--metrics).
	counter prometheus.Counter
}

type lossStream struct {
	signer  string
	id      string
	highest uint64
	missing map[uint64]bool
	last    uint64 // the tick it was last seen at
}

func newLossTracker(w io.Writer, role string) *lossTracker {
	return &lossTracker{w: w, role: role, streams: map[string]*lossStream{}}
}

// seen records number n of signer's stream id.
func (l *lossTracker) seen(signer, id string, n uint64) {
	l.tick++
	key := signer + " " + id
	s, ok := l.streams[key]
	if !ok {
		if len(l.streams) >= mqttMaxStreams {
			l.evict()
		}
		// A stream met in the middle (a receiver started after the
		// sender) has lost nothing we could know of.
		l.streams[key] = &lossStream{signer: signer, id: id, highest: n, missing: map[uint64]bool{}, last: l.tick}
		return
	}
	s.last = l.tick
	switch {
	case n > s.highest:
		from := s.highest + 1
		if n-from > mqttReorder {
			// Already out of the reordering window: lost now.
			l.report(s, from, n-mqttReorder-1)
			from = n - mqttReorder
		}
		for m := from; m < n; m++ {
			s.missing[m] = true
		}
		s.highest = n
	default:
		delete(s.missing, n) // late, but here
	}
	var overdue []uint64
	for m := range s.missing {
		if s.highest-m > mqttReorder {
			overdue = append(overdue, m)
		}
	}
	l.reportEach(s, overdue)
}

// evict drops the stream seen least recently, reporting its open gaps.
func (l *lossTracker) evict() {
	var oldest string
	for k, s := range l.streams {
		if oldest == "" || s.last < l.streams[oldest].last {
			oldest = k
		}
	}
	s := l.streams[oldest]
	var all []uint64
	for m := range s.missing {
		all = append(all, m)
	}
	l.reportEach(s, all)
	delete(l.streams, oldest)
}

// flush reports every reading still missing: the receiver is stopping.
func (l *lossTracker) flush() {
	for _, s := range l.streams {
		var all []uint64
		for m := range s.missing {
			all = append(all, m)
		}
		l.reportEach(s, all)
	}
}

// reportEach reports the numbers ns of s as lost, runs of consecutive
// numbers on one line.
func (l *lossTracker) reportEach(s *lossStream, ns []uint64) {
	if len(ns) == 0 {
		return
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i] < ns[j] })
	from := ns[0]
	for i := 1; i <= len(ns); i++ {
		if i < len(ns) && ns[i] == ns[i-1]+1 {
			continue
		}
		l.report(s, from, ns[i-1])
		if i < len(ns) {
			from = ns[i]
		}
	}
	for _, m := range ns {
		delete(s.missing, m)
	}
}

func (l *lossTracker) report(s *lossStream, from, to uint64) {
	n := to - from + 1
	l.lost += n
	if l.counter != nil {
		l.counter.Add(float64(n))
	}
	what := fmt.Sprintf("reading %d", from)
	if n > 1 {
		what = fmt.Sprintf("%d readings (%d to %d)", n, from, to)
	}
	fmt.Fprintf(l.w, "dance: warning: %s: %s of %s (stream %s) never arrived: %s\n", l.role, what, s.signer, s.id, mqttLossHint)
}
