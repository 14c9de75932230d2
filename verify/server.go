package verify

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/dnsbound/dance/identity"
)

// TCPLabel is the protocol label of the TLSA owner name of a service
// reached over TCP: "_port._tcp.host" (RFC 6698 §3).
const TCPLabel = "_tcp"

// ServerVerifier authenticates a TLS server by the TLSA records of the
// service the client reached: host is the name the client looked up (and
// sends as SNI), port its TCP port. *Core implements it; package danetls
// uses it for clients that authenticate their servers by DANE.
type ServerVerifier interface {
	VerifyServer(ctx context.Context, host string, port uint16, p Presented) (*Identity, error)
}

var _ ServerVerifier = (*Core)(nil)

// ServerOwnerName returns the TLSA owner name of a TLS service over TCP,
// "_port._tcp.host" (RFC 6698 §3), with host in canonical form (lower
// case, no trailing dot). host must be a host name (letters, digits,
// hyphens, A-labels; no underscore label, no IP address, which has no TLSA
// records) and port not 0.
func ServerOwnerName(host string, port uint16) (string, error) {
	_, owner, err := serverQuery(host, port)
	return owner, err
}

// serverQuery checks host and port and returns the host as a Name and the
// TLSA owner name of the service.
func serverQuery(host string, port uint16) (identity.Name, string, error) {
	if _, err := netip.ParseAddr(host); err == nil {
		return identity.Name{}, "", fmt.Errorf("%s is an IP address; TLSA records are found by name", host)
	}
	n, err := identity.ParseName(host)
	if err != nil {
		return identity.Name{}, "", err
	}
	if n.Kind() != identity.KindHost {
		return identity.Name{}, "", fmt.Errorf("%s is a %s name, not a host name", n, n.Kind())
	}
	if port == 0 {
		return identity.Name{}, "", errors.New("port 0")
	}
	owner := "_" + strconv.Itoa(int(port)) + "." + TCPLabel + "." + n.String()
	if len(owner) > identity.MaxNameLength {
		return identity.Name{}, "", fmt.Errorf("owner name %s is longer than %d octets", owner, identity.MaxNameLength)
	}
	return n, owner, nil
}

// VerifyServer authenticates a TLS server reached at host and TCP port by
// the TLSA records at "_port._tcp.host" (RFC 6698 §3), with the same
// validated lookup, limits, cache, metrics and logs as Verify:
//
//   - DANE-EE(3) matches the server's own certificate or key and ignores
//     its names and dates (RFC 7671 §5.1): a self-signed server is
//     authenticated by its key alone.
//   - DANE-TA(2) needs a path valid now from the leaf to the trust anchor
//     the record names, allowing the serverAuth extended key usage, and
//     the leaf must carry host as a SAN dNSName (RFC 7671 §5.2); the
//     comparison is exact, so wildcard certificates are not accepted.
//   - PKIX-TA(0) and PKIX-EE(1) are usable only when Config.Roots is set,
//     and then need a path valid up to those roots too (RFC 7671 §4.1).
//
// The allow-list is not consulted: it bounds the names that peers make a
// server look up, while host is the caller's own choice. host must be the
// name the client looked up and sent as SNI (RFC 7671 §3), not an alias
// it learned from the server. The Identity's Name is host, its Kind
// identity.KindHost; the *Error's Name is the owner name, where the
// operator must look. Whether the client may fall back to PKIX when the
// records are provably absent or insecure (ReasonNoRecord,
// ReasonDNSInsecure, ReasonNoUsableRecords) is the caller's decision
// (RFC 6698 §4.1): VerifyServer itself never authenticates without a
// matching secure record.
func (c *Core) VerifyServer(ctx context.Context, host string, port uint16, p Presented) (*Identity, error) {
	n, owner, err := serverQuery(host, port)
	if err != nil {
		err = &Error{Reason: ReasonNameSyntax, Name: host, Err: err}
		c.record(ctx, host, nil, err, false)
		return nil, err
	}
	id, cached, err := c.authenticate(ctx, query{owner: owner, name: n, usages: serverUsages}, p)
	c.record(ctx, owner, id, err, cached)
	return id, err
}
