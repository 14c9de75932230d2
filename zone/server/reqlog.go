package server

// Log lines about refused requests.
//
// A request the server refuses before it knows who sent it (a bad TSIG
// MAC, an unsigned update, a transfer from an address not allowed) or one
// an attacker can send again at will (a captured signed request outside
// the time window, a replayed update) costs the sender one packet; a log
// line for each would let a flood of them, from forged UDP sources too,
// flood the log and the disk. Each kind of line is written at most once per
// limitLogInterval, with the number of such events held back since the
// previous line ("suppressed"); the metrics still count every event.

// reqLogKind is a kind of such line; each has a gate of its own, so that a
// flood of one kind does not hide the first line of another.
type reqLogKind int

const (
	logTSIGFailed reqLogKind = iota
	logTSIGFudge
	logTSIGWindow
	logTSIGReplay
	logUnsignedUpdate
	logUpdateKey
	logXfrRefused
	logWriteFailed
	logUDPWrite
	numReqLogKinds
)

// logRefused logs msg with args at level Warn unless a line of kind was
// logged within limitLogInterval; a line after held-back ones says how
// many ("suppressed").
func (s *Server) logRefused(kind reqLogKind, msg string, args ...any) {
	ok, held := s.reqLogs.Allow(kind, s.limits.now())
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	s.log.Warn(msg, args...)
}
