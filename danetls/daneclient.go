package danetls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/dnsbound/dance/verify"
)

// A ClientOption changes how a configuration from DANEClientConfig
// authenticates its server.
type ClientOption struct {
	apply func(*clientOptions)
}

type clientOptions struct {
	fallback bool
	roots    *x509.CertPool // nil: the system roots
	report   func(ServerAuth)
	time     func() time.Time
}

// PKIXFallback lets the client authenticate the server by PKIX when DANE
// does not apply to it: when DNSSEC proves that the service has no TLSA
// records, when its records are provably unsigned (Insecure), or when none
// of them is usable (RFC 6698 §4.1, RFC 7671 §4.1). The certificate must
// then chain to roots (nil: the system roots) and carry the host name, as
// crypto/tls checks without DANE. A bogus or indeterminate answer, a
// failed lookup and records that do not match never fall back. Each
// fallback is reported (ReportServerAuth) with the reason DANE did not
// apply, and logged by the verifier as the refusal of the DANE check.
//
// Without this option a server that DANE does not authenticate is refused.
func PKIXFallback(roots *x509.CertPool) ClientOption {
	return ClientOption{apply: func(o *clientOptions) { o.fallback, o.roots = true, roots }}
}

// ReportServerAuth has f called once per handshake whose server was
// authenticated, from within the handshake, with how it was: by DANE, or
// by PKIX after a fallback. f must not block.
func ReportServerAuth(f func(ServerAuth)) ClientOption {
	return ClientOption{apply: func(o *clientOptions) { o.report = f }}
}

// ServerAuth says how a handshake authenticated its server.
type ServerAuth struct {
	// Host and Port are the service: the name looked up and sent as SNI,
	// and the TCP port; the TLSA records are at "_Port._tcp.Host".
	Host string
	Port uint16
	// Identity is what DANE authenticated (the matching record, its
	// depth); nil after a PKIX fallback.
	Identity *verify.Identity
	// PKIX is true when the server was authenticated by PKIX because DANE
	// did not apply; DANEError then says why (its verify.Reason is
	// no-record, dns-insecure or no-usable-records).
	PKIX      bool
	DANEError error
}

// DANEClientConfig returns a copy of base (nil means an empty
// configuration) for connecting to the TLS server at addr, "host:port",
// that authenticates the server with v by the TLSA records at
// "_port._tcp.host" (RFC 6698 §3, RFC 7671): v.VerifyServer, a
// *verify.Core, does the validated lookup and the match. Present an
// identity too by giving base from ClientConfig.
//
//   - SNI is host, the name looked up (RFC 7671 §3): ServerName is set to
//     it, and a base whose ServerName names another host is refused. Dial
//     any address (the host's, or 127.0.0.1 in tests): the server is
//     authenticated for host whatever the address.
//   - The check runs in VerifyConnection, on full handshakes and
//     resumptions alike. crypto/tls's own PKIX check is turned off
//     (InsecureSkipVerify) because it would refuse every certificate DANE
//     authenticates without a CA; VerifyConnection replaces it, and refuses
//     whatever it does not authenticate. A VerifyConnection already in
//     base runs first and can refuse too.
//   - When DANE does not apply (no TLSA records, insecure, none usable)
//     the server is refused, unless PKIXFallback allows PKIX instead. A
//     bogus answer, a failed lookup or a record that does not match is
//     always refused. There is no fallback to an unauthenticated server.
//
// The configuration is for one service: a connection to another host or
// port with it would still be checked against addr's records. crypto/tls
// gives VerifyConnection no context, so the lookup is bounded by the
// verifier's own deadline (verify.Config.LookupTimeout), not by the
// handshake's context.
func DANEClientConfig(base *tls.Config, v verify.ServerVerifier, addr string, opts ...ClientOption) (*tls.Config, error) {
	cfg := cloneConfig(base)
	c, err := newDANEClient(v, addr, cfg.ServerName, cfg.Time, opts)
	if err != nil {
		return nil, err
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	cfg.ServerName = c.host
	cfg.InsecureSkipVerify = true
	c.prev = cfg.VerifyConnection
	cfg.VerifyConnection = c.verifyConnection
	return cfg, nil
}

// newDANEClient checks what every engine's DANE client configuration
// needs: a verifier, the service addr, and a server name that is the
// service's host or empty.
func newDANEClient(v verify.ServerVerifier, addr, serverName string, now func() time.Time, opts []ClientOption) (*daneClient, error) {
	if v == nil {
		return nil, errors.New("danetls: DANEClientConfig needs a verifier")
	}
	host, port, err := splitService(addr)
	if err != nil {
		return nil, err
	}
	var o clientOptions
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	if serverName != "" && canonicalHost(serverName) != host {
		return nil, fmt.Errorf("danetls: ServerName %q is not %q: the server name sent (SNI) must be the name whose TLSA records are looked up", serverName, host)
	}
	o.time = now
	if o.time == nil {
		o.time = time.Now
	}
	return &daneClient{v: v, host: host, port: port, opts: o}, nil
}

// splitService checks "host:port" and returns the host in canonical form
// and the port.
func splitService(addr string) (string, uint16, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("danetls: %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("danetls: %q: port %q is not a number from 1 to 65535", addr, p)
	}
	if _, err := verify.ServerOwnerName(h, uint16(port)); err != nil {
		return "", 0, fmt.Errorf("danetls: %q: %w", addr, err)
	}
	return canonicalHost(h), uint16(port), nil
}

// canonicalHost is a host name as verify compares it: lower case, no
// trailing dot.
func canonicalHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// daneClient is what the handshakes of one configuration from
// DANEClientConfig share.
type daneClient struct {
	v    verify.ServerVerifier
	host string
	port uint16
	opts clientOptions
	prev func(tls.ConnectionState) error
}

// errNoFallback marks a DANE refusal that PKIXFallback could have turned
// into a PKIX check.
var errNoFallback = errors.New("DANE does not apply to this server and PKIX fallback is off")

func (c *daneClient) verifyConnection(cs tls.ConnectionState) error {
	if c.prev != nil {
		if err := c.prev(cs); err != nil {
			return err
		}
	}
	return c.authenticate(context.Background(), cs.ServerName, verify.Presented{Chain: cs.PeerCertificates})
}

// authenticate is the server authentication every engine shares: sni is
// the name the handshake sent, p what the server presented (a chain, or
// with the tls13 engine a raw public key).
func (c *daneClient) authenticate(ctx context.Context, sni string, p verify.Presented) error {
	if sni != c.host {
		return fmt.Errorf("danetls: the handshake sent SNI %q, not %q whose TLSA records authenticate the server", sni, c.host)
	}
	if len(p.Chain) == 0 && p.RawPublicKey == nil {
		return errors.New("danetls: the server presented no certificate")
	}
	id, err := c.v.VerifyServer(ctx, c.host, c.port, p)
	if err == nil {
		c.reportAuth(ServerAuth{Host: c.host, Port: c.port, Identity: id})
		return nil
	}
	owner, _ := verify.ServerOwnerName(c.host, c.port)
	if !daneAbsent(err) {
		return fmt.Errorf("danetls: server %s not authenticated: %w", owner, err)
	}
	if !c.opts.fallback {
		return fmt.Errorf("danetls: server %s not authenticated: %w: %w", owner, errNoFallback, err)
	}
	if len(p.Chain) == 0 {
		// A raw public key names no one: PKIX cannot authenticate it.
		return fmt.Errorf("danetls: server %s not authenticated: no DANE (%w), and a raw public key has no PKIX path", owner, err)
	}
	if perr := c.verifyPKIX(p.Chain); perr != nil {
		return fmt.Errorf("danetls: server %s not authenticated: no DANE (%w), and PKIX: %w", owner, err, perr)
	}
	c.reportAuth(ServerAuth{Host: c.host, Port: c.port, PKIX: true, DANEError: err})
	return nil
}

// daneAbsent reports whether a refusal means that DANE does not apply to
// the server: DNSSEC proves there are no TLSA records, or that they are
// unsigned, or none of them can be used (RFC 6698 §4.1, RFC 7671 §4.1).
// Anything else (bogus, indeterminate, a failed lookup, a record that
// does not match) is a refusal that no fallback may undo (RFC 6698 §4.1;
// RFC 7672 §2.2 for the same rule in SMTP).
func daneAbsent(err error) bool {
	switch verify.ReasonOf(err) {
	case verify.ReasonNoRecord, verify.ReasonDNSInsecure, verify.ReasonNoUsableRecords:
		return true
	}
	return false
}

// verifyPKIX checks the chain as crypto/tls would without DANE.
func (c *daneClient) verifyPKIX(chain []*x509.Certificate) error {
	opts := x509.VerifyOptions{
		Roots:         c.opts.roots,
		Intermediates: x509.NewCertPool(),
		DNSName:       c.host,
		CurrentTime:   c.opts.time(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, cert := range chain[1:] {
		opts.Intermediates.AddCert(cert)
	}
	_, err := chain[0].Verify(opts)
	return err
}

func (c *daneClient) reportAuth(a ServerAuth) {
	if c.opts.report != nil {
		c.opts.report(a)
	}
}
