package verify

import (
	"fmt"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/tlsa"
)

// Kind is the kind of an authenticated identity, from the shape of its
// name (client-auth §2, architecture §4.1.7).
type Kind int

// Kinds of identities.
const (
	// Device: "devicename._device.org-domain".
	Device Kind = iota + 1
	// Service: "_service.client-domain" ("_smtp-client.mta1.example.com").
	Service
	// User: a user certificate issued by the CA of "_user.domain"; the
	// identity is Identity.User, "uid@domain" (architecture §4.1.3).
	User
	// Host: a plain host name.
	Host
)

// String returns "device", "service", "user" or "host".
func (k Kind) String() string {
	switch k {
	case Device:
		return "device"
	case Service:
		return "service"
	case User:
		return "user"
	case Host:
		return "host"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText implements encoding.TextMarshaler (JSON output).
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: the inverse of String.
func (k *Kind) UnmarshalText(b []byte) error {
	for c := Device; c <= Host; c++ {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("verify: unknown identity kind %q", b)
}

func kindOf(n identity.Name) Kind {
	switch n.Kind() {
	case identity.KindDevice:
		return Device
	case identity.KindService:
		return Service
	case identity.KindUser:
		return User
	}
	return Host
}

// Identity is an authenticated peer.
type Identity struct {
	// Name is the claimed name that was authenticated, in canonical form
	// (lower case, A-labels, no trailing dot): the TLSA owner name.
	Name string `json:"name"`
	// Kind is the kind of identity the name denotes.
	Kind Kind `json:"kind"`
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
