package main

import (
	"fmt"
	"io"
	"sort"
)

// mqttReorder is how far behind the highest number of its stream a
// missing reading may still arrive before it is reported lost: handlers
// run unordered (mqttConnect), and the broker delivers at most
// max_inflight_messages (20 by default in mosquitto) unacknowledged at a
// time, so a reading this far behind is not coming.
const mqttReorder = 256

// mqttMaxMissing bounds the numbers remembered as missing in one stream;
// a gap wider than that is reported lost at once.
const mqttMaxMissing = 4096

// mqttLossHint says where lost readings usually go.
const mqttLossHint = "the broker drops messages when a subscriber's queue is full (mosquitto: max_queued_messages, 1000 by default) or while no one is subscribed"

// lossTracker follows the numbered streams of signers (message.Seq) and
// reports readings that never arrived: a gap that stays open once the
// stream has moved mqttReorder past it. It is used by one goroutine.
type lossTracker struct {
	w       io.Writer // where warnings go
	role    string
	streams map[string]*lossStream
	lost    uint64 // in all
}

type lossStream struct {
	signer  string
	id      string
	highest uint64
	missing map[uint64]bool
}

func newLossTracker(w io.Writer, role string) *lossTracker {
	return &lossTracker{w: w, role: role, streams: map[string]*lossStream{}}
}

// seen records number n of signer's stream id.
func (l *lossTracker) seen(signer, id string, n uint64) {
	key := signer + " " + id
	s, ok := l.streams[key]
	if !ok {
		// A stream met in the middle (a receiver started after the
		// sender) has lost nothing we could know of.
		l.streams[key] = &lossStream{signer: signer, id: id, highest: n, missing: map[uint64]bool{}}
		return
	}
	switch {
	case n > s.highest:
		if gap := n - s.highest - 1; gap > mqttMaxMissing {
			l.report(s, s.highest+1, n-1)
		} else {
			for m := s.highest + 1; m < n; m++ {
				s.missing[m] = true
			}
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
	what := fmt.Sprintf("reading %d", from)
	if n > 1 {
		what = fmt.Sprintf("%d readings (%d to %d)", n, from, to)
	}
	fmt.Fprintf(l.w, "dance: warning: %s: %s of %s (stream %s) never arrived: %s\n", l.role, what, s.signer, s.id, mqttLossHint)
}
