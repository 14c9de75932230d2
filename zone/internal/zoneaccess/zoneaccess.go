// Package zoneaccess lets the server of an identity zone (zone/server)
// reach the two parts of zone.Zone that are not public API: the packed
// fast path of positive answers and the packed transfer image. Package
// zone fills the functions in when it is initialised; being internal, this
// package can be imported by packages under zone/ only, so embedders see
// neither.
package zoneaccess

import "github.com/dnsbound/dance/zone/internal/image"

// The functions take the *zone.Zone as z (this package cannot name the
// type: zone imports it). They are set before any caller can hold a zone.
var (
	// AppendAnswer appends to dst the answer section of a positive answer
	// to qname/qtype in wire form, or reports false, appending nothing,
	// when the answer needs the general path (zone.Zone.Query).
	AppendAnswer func(z any, dst, qname []byte, qtype uint16, dnssec bool) (out []byte, count int, ok bool)
	// TransferImage returns the whole signed zone as an AXFR carries it,
	// packed.
	TransferImage func(z any) (*image.Image, error)
)
