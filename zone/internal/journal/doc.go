// Package journal keeps the differences between successive transferred
// versions of the zone, so that a secondary that is behind gets only what
// changed (IXFR, RFC 1995) instead of the whole zone.
//
// Start with Journal.Record: the transfer code hands it every complete zone
// it computes, in AXFR form (SOA first and last, every RRSIG and NSEC3
// record included). Record compares it with the previous one and keeps the
// RRs deleted and added between the two serials (Diff). Journal.Since
// returns the versions that lead from a secondary's serial to the newest,
// and Response lays them out as an RFC 1995 §4 answer. Apply does what a
// secondary does with them; the tests use it to check that the old zone
// plus the differences is the new zone.
//
// The journal lives in memory and starts empty, or with the file a server
// wrote when it stopped (Save, Load) if the zone's store is still at the
// generation written in it: a serial it does not know (older than the
// oldest kept version, or from before the server started) is answered with
// the whole zone, as RFC 1995 §4 allows. It is bounded in versions and in
// records; the oldest versions are dropped first.
package journal
