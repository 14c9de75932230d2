// Package journal keeps the differences between successive transferred
// versions of the zone, so that a secondary that is behind gets only what
// changed (IXFR, RFC 1995) instead of the whole zone.
//
// Start with Journal.RecordZone: the transfer code hands it every complete
// zone it sends, in AXFR form (SOA first and last, every RRSIG and NSEC3
// record included): the zone's transfer snapshot, an image.Source that
// refers to the zone's records instead of copying them. RecordZone keeps it
// as the newest version and the RRs deleted and added since the previous
// one (Diff), which the snapshot finds by comparing its refs with the
// previous snapshot's (image.Differ), reading only what changed. Journal.Since
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
