// Package admin is the HTTP provisioning API of an identity zone: JSON over
// a listener separate from DNS, authenticated with a bearer token, a DANE
// client certificate, or both (Config.Auth, AuthMode).
//
// DANE client authentication is done by the HTTPS listener, configured with
// danetls.ServerConfig and a verify.Core whose allow-list names the
// administrators; the handler reads the identity the handshake
// authenticated (danetls.IdentityFromRequest), logs it with every change,
// and counts refusals by reason (dance_zone_admin_refused_total).
//
// Endpoints (all need the credentials Config.Auth asks for):
//
//	GET    /v1/zone                    origin, serial, counts, DS records
//	GET    /v1/identities?under=&after=&limit=   list identities (paged)
//	GET    /v1/identities/NAME         one identity's records
//	PUT    /v1/identities/NAME         replace its records (lifts a
//	                                   revocation: "revocation_lifted")
//	POST   /v1/identities/NAME         add records (409 at a revoked name)
//	DELETE /v1/identities/NAME         remove the identity; "wildcard" names
//	                                   a wildcard that still covers NAME
//	POST   /v1/identities/NAME/revoke  remove the identity and publish the
//	                                   revocation marker (tlsa.RevocationMarker)
//	                                   alone at NAME, so no wildcard answers
//	                                   for it; "wildcard" names the one shadowed
//	POST   /v1/import?mode=add|replace bulk import (JSON lines or CSV),
//	                                   streaming JSON-lines progress
//	GET    /v1/export                  every identity record, JSON lines
//	GET    /v1/keys                    the signing keys (Key: role, state, DS)
//	POST   /v1/keys/rollover?step=prepublish|activate|retire[&key=ksk|zsk|csk][&force=true]
//	                                   one rollover step and what to do
//	                                   next (400 bad step or key, 409 out
//	                                   of order, too early or the parent's
//	                                   DS not there; force=true overrides
//	                                   the last two, dangerously; 500 ours)
//	GET    /metrics                    Prometheus metrics
//
// Where to start: Handler with a Config (Zone, Token, Auth); Client is the
// matching Go client; LoadOrCreateToken makes the token file;
// RecordEndpoint writes where the API listens (and its certificate) into
// the zone directory, and ReadEndpoint reads it back for a client. The DANE
// side of the listener is set up by the caller (cmd/dance zone serve):
// danetls.ServerConfig around a verify.Core, http.Server.ConnContext set to
// danetls.ConnContext.
//
// # Security considerations
//
// An administrator named in the zone it administers must not be
// publishable by anyone less than an administrator: open the zone with
// zone.Options.AdminNames set to the allow-list's patterns, so that RFC 2136
// updates never write at those names and zone/server.New refuses update
// keys whose policy could.
package admin
