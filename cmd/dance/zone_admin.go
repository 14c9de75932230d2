package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/internal/httplimit"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/admin"
)

const adminAuthHelp = `The admin API (--admin-listen) takes the bearer token of DIR/admin.token, or
DANE client certificates: with --admin-tls-cert/--admin-tls-key it speaks HTTPS,
and --admin-allow names the identities allowed to administer. A client
certificate is authenticated like any DANE client: its name must be on
--admin-allow (no DNS query is made for any other name), and its TLSA record,
looked up with DNSSEC validation, must match it; removing the record revokes
the administrator within its TTL. --admin-auth says what a request needs:
token (the default without --admin-allow), dane, either (the default with
--admin-allow: a DANE identity or the token), or both. Each change is logged
with who made it.

Administrators' names must be out of reach of the update keys: an update key
that could write at a name on --admin-allow could publish a TLSA record there
and log in as an administrator. When --admin-allow names lie in the served
zone, every key of DIR/tsig.key needs a line in DIR/update-policy whose
subtree holds no such name (a key without one may write the whole zone), or
the server refuses to start; and updates at those names, or at a wildcard
that would answer for them, are refused (REFUSED) whatever the policy. Only
the admin API itself writes administrators' records.

The admin identities are looked up with the resolver flags below, which
default to this server's own DNS listener and to the zone's DIR/anchors (added
to the root keys): right when the administrators' names are in this zone.
For names elsewhere, give --resolver (and --anchors when they are not under
the root's chain of trust).

` + resolverFlagsHelp

// httpLimits bound every HTTP server the commands run (the zone's admin
// API and metrics, the proxy's metrics): read, write and idle timeouts, a
// request body limit and a connection cap (internal/httplimit, whose
// defaults httpLimitsHelp states). Tests shorten them.
var httpLimits = httplimit.Defaults()

// httpLimitsHelp states httpLimits for --help.
var httpLimitsHelp = fmt.Sprintf("bounds what a client can hold: it cuts one that takes\n"+
	"more than %s to send a request header, %s for a whole request or %s to take\n"+
	"a response, or leaves a keep-alive connection idle for %s; request bodies are\n"+
	"limited to %d KiB, and at most %d connections are open at once (more are\n"+
	"closed at once, and logged).",
	httpLimits.HeaderTimeout, httpLimits.ReadTimeout, httpLimits.WriteTimeout, httpLimits.IdleTimeout,
	httpLimits.MaxBodyBytes>>10, httpLimits.MaxConns)

// adminAuthSettings checks --admin-auth and --admin-allow: DANE needs HTTPS
// and a non-empty allow-list, and an allow-list without DANE is a mistake.
func adminAuthSettings(mode string, allow []string, https bool) (admin.AuthMode, *verify.AllowList, error) {
	if mode == "" {
		mode = admin.AuthToken.String()
		if len(allow) > 0 {
			mode = admin.AuthEither.String()
		}
	}
	m, err := admin.ParseAuthMode(mode)
	if err != nil {
		return 0, nil, cli.Usagef("--admin-auth: %v", err)
	}
	if !m.NeedsDANE() {
		if len(allow) > 0 {
			return 0, nil, cli.Usagef("--admin-allow needs --admin-auth dane, either or both")
		}
		return m, nil, nil
	}
	if len(allow) == 0 {
		return 0, nil, cli.Usagef("--admin-auth %s needs --admin-allow: who may administer", m)
	}
	if !https {
		return 0, nil, cli.WithHint(cli.Usagef("--admin-auth %s needs HTTPS on the admin API", m), "give --admin-tls-cert and --admin-tls-key")
	}
	a, err := verify.ParseAllowList(allow)
	if err != nil {
		return 0, nil, cli.Usagef("--admin-allow: %v", err)
	}
	return m, a, nil
}

// adminOverlapHint adds a hint to err when it is an update key that could
// write at an admin name (zone.AdminOverlapError).
func adminOverlapHint(err error, dir string) error {
	var oe *zone.AdminOverlapError
	if !errors.As(err, &oe) {
		return err
	}
	return cli.WithHint(err, fmt.Sprintf("limit key %s in %s to a subtree without administrators (\"%s SUBTREE [TYPE ...]\"), or name the administrators outside this zone",
		oe.Key, filepath.Join(dir, zone.PolicyFile), oe.Key))
}

// adminTLSConfig is the client side: the admin server verified against the
// PEM certificates of caFile (or the system roots), and the identity of
// idDir presented when the server asks for a client certificate.
func adminTLSConfig(caFile, idDir string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, cli.Input(fmt.Errorf("--ca: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, cli.Input(fmt.Errorf("--ca %s: no PEM CERTIFICATE found", caFile))
		}
		cfg.RootCAs = pool
	}
	if idDir == "" {
		return cfg, nil
	}
	cert, err := danetls.LoadIdentity(idDir)
	if err != nil {
		return nil, cli.Input(fmt.Errorf("--identity: %w", err))
	}
	return danetls.ClientConfig(cfg, cert), nil
}

// adminHTTPClient is the HTTP client of the admin API commands; timeout 0
// means none.
func adminHTTPClient(tc *tls.Config, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	// HTTP/1.1: over HTTP/2 the transport replaces a handshake refusal
	// (the server's TLS alert) by a generic error, and the user would not
	// learn that the server refused the identity.
	tr.ForceAttemptHTTP2 = false
	return &http.Client{Transport: tr, Timeout: timeout}
}
