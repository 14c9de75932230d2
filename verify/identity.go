package verify

import (
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/tlsa"
)

// Identity is an authenticated peer.
type Identity struct {
	// Name is the claimed name that was authenticated, in canonical form
	// (lower case, A-labels, no trailing dot): the TLSA owner name. For a
	// server (VerifyServer) it is the host, whose records are at
	// "_port._tcp.host".
	Name string `json:"name"`
	// Kind is the shape of the name (client-auth §2): identity.KindDevice
	// for "devicename._device.org-domain", identity.KindService for
	// "_service.client-domain", identity.KindUser for a user of
	// "_user.domain" (see User), identity.KindHost for a plain host name.
	Kind identity.Kind `json:"kind"`
	// User is "uid@domain" for a user identity (architecture §4.1.3),
	// empty otherwise.
	User string `json:"user,omitempty"`
	// Record is the TLSA record that matched.
	Record tlsa.Record `json:"-"`
	// Depth is where in the presented path the record matched: 0 the leaf,
	// 1 its issuer, ... (tlsa.Result.Depth).
	Depth int `json:"depth"`
	// Expires is when this verdict stops being valid: bounded by the TTL of
	// the TLSA answer (revocation takes effect by then) and, for a
	// validated path, by the earliest NotAfter in it.
	Expires time.Time `json:"expires"`
}

// Subject returns the identity a log line or header should name: User for
// a user, Name otherwise.
func (id *Identity) Subject() string {
	if id.User != "" {
		return id.User
	}
	return id.Name
}
