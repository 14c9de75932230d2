package tls13

import (
	"time"

	"github.com/dnsbound/dance/tls13/internal/wire"
)

// ticketAgeSkew is the client's view of the age of the ticket it offered
// in id, less ours (ConnectionState.TicketAgeSkew).
func ticketAgeSkew(id wire.PSKIdentity, s *serverSession, now time.Time) time.Duration {
	clientAge := time.Duration(id.ObfuscatedTicketAge-s.ageAdd) * time.Millisecond
	return clientAge - now.Sub(s.created)
}
