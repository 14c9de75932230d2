// Package zoneaccess lets the server of an identity zone (zone/server)
// reach the parts of zone.Zone that are not public API: the packed
// fast path of positive answers, the transfer snapshot, and what the
// IXFR journal kept across a restart is checked against. Package
// zone fills the functions in when it is initialised; being internal, this
// package can be imported by packages under zone/ only, so embedders see
// none of it.
package zoneaccess

import "github.com/dnsbound/dance/zone/internal/image"

// The functions take the *zone.Zone as z (this package cannot name the
// type: zone imports it). They are set before any caller can hold a zone.
var (
	// AppendAnswer appends to dst the answer section of a positive answer
	// to qname/qtype in wire form, or reports false, appending nothing,
	// when the answer needs the general path (zone.Zone.Query).
	AppendAnswer func(z any, dst, qname []byte, qtype uint16, dnssec bool) (out []byte, count int, ok bool)
	// TransferZone returns the whole signed zone as an AXFR carries it:
	// a snapshot that produces the RRs as they are read, the same every
	// time, without a copy of the zone.
	TransferZone func(z any) (image.Source, error)
	// ImageFresh reports whether every RRSIG in im, a zone in transfer
	// form, is still good by the zone's current signer (see the zone's
	// imageFresh): a zone kept across a restart (the IXFR journal's
	// newest) is checked before it is sent again.
	ImageFresh func(z any, im image.Source) (bool, error)
	// Generation identifies the state of the zone's store: it changes with
	// every change written, by this process or any other. Files derived
	// from the zone (the IXFR journal) record it to tell whether they
	// still belong to the stored zone.
	Generation func(z any) ([]byte, error)
)
