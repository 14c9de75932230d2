package ldapauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/connserve"
	"github.com/dnsbound/dance/internal/logtext"
	"github.com/dnsbound/dance/verify"
)

// Defaults of Config.
const (
	// DefaultMaxConns caps the client connections open at once.
	DefaultMaxConns = 256
	// DefaultHandshakeTimeout bounds a TLS handshake.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a connection on which no whole request
	// arrives for this long after the previous answer.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxMessageSize is the largest request taken, in octets. Binds,
	// searches and extended requests of this server are far smaller; a
	// longer length closes the connection before the message is read.
	DefaultMaxMessageSize = 16 << 10
	// DefaultMaxResults caps the entries one search returns.
	DefaultMaxResults = 1000
	// DefaultVerifyTimeout bounds one verification at a bind.
	DefaultVerifyTimeout = 10 * time.Second
)

// WhoAmIForm is how the server names an identity in a WhoAmI answer
// (RFC 4532 §2.2, authzId forms of RFC 4513 §5.2.1.8).
type WhoAmIForm int

const (
	// WhoAmIDN answers "dn:uid=UID,BASE".
	WhoAmIDN WhoAmIForm = iota
	// WhoAmIUser answers "u:uid@domain".
	WhoAmIUser
)

// Domain is a domain whose users may bind: its "_user" TLSA records name
// its user CA, and its users' entries are "uid=UID,Base".
type Domain struct {
	// Name is the domain, A-labels or U-labels.
	Name string
	// Base is the DN under which the domain's users are; "" means the
	// domain's components, "dc=example,dc=com" (RFC 2247).
	Base string
}

// Config configures a Server. TLS, Verifier and Domains are required;
// every other zero value has the safe meaning its comment gives.
type Config struct {
	// TLS holds the server's certificate (Certificates or GetCertificate).
	// The server asks each client for a certificate and checks none
	// against a CA pool: an EXTERNAL bind hands it to Verifier.
	TLS *tls.Config
	// Verifier authenticates user certificates (a *verify.Core whose
	// allow-list holds AllowList's names: no DNS lookup for other names).
	Verifier verify.Verifier
	// Domains are the domains whose users may bind.
	Domains []Domain
	// Directory answers searches; nil means an empty directory (the root
	// DSE only).
	Directory *Directory
	// WhoAmI is the form of the WhoAmI answer; zero is WhoAmIDN.
	WhoAmI WhoAmIForm
	// Authz says who may name another identity in an EXTERNAL bind; nil
	// lets each user name only itself.
	Authz *AuthzPolicy
	// AllowAnonymous lets clients search without binding, and accepts
	// anonymous simple binds. Off, the root DSE is all they may read.
	AllowAnonymous bool

	MaxConns         int
	HandshakeTimeout time.Duration
	IdleTimeout      time.Duration
	MaxMessageSize   int
	MaxResults       int
	VerifyTimeout    time.Duration

	// Logger gets one line per refused bind and per connection closed for
	// a protocol error; nil discards.
	Logger *slog.Logger
	// Registerer gets the metrics (dance_ldap_*); nil registers none.
	Registerer prometheus.Registerer
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("ldapauth: server closed")

// Server is an LDAPv3 server that authenticates users by SASL EXTERNAL
// with certificates from their domain's DNS-published user CA. Make one
// with New and run it with Serve (LDAP over TLS) or ServeStartTLS.
type Server struct {
	cfg     Config
	tls     *tls.Config
	domains []domainInfo
	dir     *Directory
	m       *metrics
	log     *slog.Logger
	now     func() time.Time
	ctx     context.Context
	cancel  context.CancelFunc
	conns   *connserve.Group
}

type domainInfo struct {
	name string // lower-case Unicode form, as in verify.Identity.User
	base string // as configured
	norm string // normalized base
}

// AllowList returns the verifier allow-list of the domains: their
// "_user" names.
func AllowList(domains []Domain) (*verify.AllowList, error) {
	var names []string
	for _, d := range domains {
		n, err := identity.UserCAName(d.Name)
		if err != nil {
			return nil, fmt.Errorf("ldapauth: domain %q: %w", d.Name, err)
		}
		names = append(names, n.String())
	}
	return verify.ParseAllowList(names)
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.TLS == nil || (len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil):
		return nil, errors.New("ldapauth: Config.TLS needs the server's certificate")
	case cfg.Verifier == nil:
		return nil, errors.New("ldapauth: Config.Verifier is required")
	case len(cfg.Domains) == 0:
		return nil, errors.New("ldapauth: Config.Domains is required")
	case cfg.WhoAmI != WhoAmIDN && cfg.WhoAmI != WhoAmIUser:
		return nil, fmt.Errorf("ldapauth: unknown WhoAmI form %d", cfg.WhoAmI)
	}
	if cfg.MaxConns < 0 || cfg.HandshakeTimeout < 0 || cfg.IdleTimeout < 0 || cfg.MaxMessageSize < 0 || cfg.MaxResults < 0 || cfg.VerifyTimeout < 0 {
		return nil, errors.New("ldapauth: negative limit in Config")
	}
	if cfg.MaxMessageSize != 0 && cfg.MaxMessageSize < 64 {
		return nil, fmt.Errorf("ldapauth: MaxMessageSize %d is under 64", cfg.MaxMessageSize)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxConns, DefaultMaxConns)
	def(&cfg.MaxMessageSize, DefaultMaxMessageSize)
	def(&cfg.MaxResults, DefaultMaxResults)
	defd(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	defd(&cfg.IdleTimeout, DefaultIdleTimeout)
	defd(&cfg.VerifyTimeout, DefaultVerifyTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var doms []domainInfo
	seen := map[string]bool{}
	for _, d := range cfg.Domains {
		name, err := canonicalDomain(d.Name)
		if err != nil {
			return nil, fmt.Errorf("ldapauth: domain %q: %w", d.Name, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("ldapauth: domain %q given twice", d.Name)
		}
		seen[name] = true
		base := d.Base
		if base == "" {
			n, _ := identity.ParseName(d.Name)
			var dcs []string
			for _, l := range strings.Split(n.String(), ".") {
				dcs = append(dcs, "dc="+escapeDNValue(l))
			}
			base = strings.Join(dcs, ",")
		}
		norm, err := normalizeDN(base)
		if err != nil || norm == "" {
			return nil, fmt.Errorf("ldapauth: domain %q: base %q is not a DN", d.Name, base)
		}
		doms = append(doms, domainInfo{name: name, base: base, norm: norm})
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	base := cfg.TLS.Clone()
	base.MinVersion = max(base.MinVersion, tls.VersionTLS12)
	// The certificate is checked at the bind, by the verification core:
	// the handshake only asks for it (and TLS proves the key's possession).
	base.ClientAuth = tls.RequestClientCert
	base.ClientCAs = nil
	dir := cfg.Directory
	if dir == nil {
		dir = &Directory{byDN: map[string]*Entry{}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, tls: base, domains: doms, dir: dir, m: m, log: cfg.Logger, now: time.Now,
		ctx: ctx, cancel: cancel, conns: connserve.New(ErrServerClosed),
	}, nil
}

// Serve accepts clients on ln (a TCP listener) and speaks LDAP over TLS
// ("ldaps"): each connection starts with a TLS handshake. It returns
// ErrServerClosed after Close.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, true) }

// ServeStartTLS accepts clients on ln that speak LDAP in the clear until
// they ask for TLS with the StartTLS operation (RFC 4511 §4.14); before
// that, every other request but unbind is refused with
// confidentialityRequired. It returns ErrServerClosed after Close.
func (s *Server) ServeStartTLS(ln net.Listener) error { return s.serve(ln, false) }

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	return s.conns.Serve(ln, s.cfg.MaxConns, s.log.With("component", "ldap"), func(c net.Conn) {
		s.m.accepted.Inc()
		s.m.open.Inc()
		defer s.m.open.Dec()
		sess := &session{s: s, raw: c, conn: c, remote: c.RemoteAddr().String()}
		if implicitTLS && !sess.startTLS() {
			return
		}
		sess.run()
	})
}

// Close stops the listeners, closes every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	s.conns.Close()
	s.cancel()
	s.conns.Wait()
	return nil
}

// session is one client connection.
type session struct {
	s      *Server
	raw    net.Conn
	conn   net.Conn // raw, or the TLS connection over it
	tc     *tls.Conn
	remote string
	// Authentication state (RFC 4513 §3.1 "anonymous" when id is nil).
	id    *verify.Identity
	chain []*x509.Certificate
	user  string // the identity acted as: id.User or an authorized other
	dn    string
}

// startTLS runs the server side of a TLS handshake on the connection.
func (c *session) startTLS() bool {
	tc := tls.Server(c.raw, c.s.tls)
	ctx, cancel := context.WithTimeout(c.s.ctx, c.s.cfg.HandshakeTimeout)
	_ = c.raw.SetDeadline(time.Now().Add(c.s.cfg.HandshakeTimeout))
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		reason := closeHandshake
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			reason = closeHandshakeTimeout
		}
		c.s.m.closed.WithLabelValues(reason).Inc()
		c.s.log.Info("ldap: TLS handshake failed", "remote", c.remote, "err", logtext.Bound(err.Error(), logtext.MaxText))
		return false
	}
	c.tc, c.conn = tc, tc
	return true
}

// run reads and answers requests, one at a time, until the client
// unbinds or the connection ends.
func (c *session) run() {
	for {
		_ = c.raw.SetDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
		b, err := readMessage(c.conn, c.s.cfg.MaxMessageSize)
		if err != nil {
			var tl *TooLargeError
			switch {
			case errors.As(err, &tl):
				c.disconnect(closeOversize, ResultProtocolError, "message too large", err)
			case errors.Is(err, ErrProtocol):
				c.disconnect(closeProtocol, ResultProtocolError, "malformed message", err)
			case errors.Is(err, os.ErrDeadlineExceeded):
				c.s.m.closed.WithLabelValues(closeIdle).Inc()
			}
			return
		}
		req, err := decodeMessage(b)
		if err != nil {
			c.disconnect(closeProtocol, ResultProtocolError, "malformed message", err)
			return
		}
		if !c.handle(req) {
			return
		}
	}
}

// disconnect sends a Notice of Disconnection (RFC 4511 §4.4.1) and leaves
// the caller to close the connection.
func (c *session) disconnect(reason string, code ResultCode, diag string, err error) {
	c.s.m.closed.WithLabelValues(reason).Inc()
	c.s.log.Info("ldap: connection closed", "remote", c.remote, "reason", reason, "err", logtext.Bound(fmt.Sprint(err), logtext.MaxText))
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	_, _ = c.conn.Write(noticeOfDisconnection(code, diag))
}

// send writes one response; it reports whether the connection still
// works.
func (c *session) send(id int64, op []byte) bool {
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	_, err := c.conn.Write(encMessage(id, op))
	return err == nil
}

// handle answers one request; false ends the session.
func (c *session) handle(req *request) bool {
	op := req.op.tag
	if op == opUnbindRequest {
		// RFC 4511 §4.3: no response; the server ends the session.
		c.s.m.ops.WithLabelValues(opNameUnbind).Inc()
		return false
	}
	if op == opAbandonRequest {
		// Requests are answered one at a time: by the time an abandon
		// is read, the operation it names has been answered.
		c.s.m.ops.WithLabelValues(opNameAbandon).Inc()
		return true
	}
	resp := responseTag(op)
	if resp == 0 {
		c.disconnect(closeProtocol, ResultProtocolError, "unknown operation", protoErr("operation 0x%02x", op))
		return false
	}
	if len(req.critical) > 0 {
		// RFC 4511 §4.1.11: no control is supported.
		c.s.m.ops.WithLabelValues(opNameOther).Inc()
		return c.send(req.id, encResult(resp, ResultUnavailableCriticalExtension, "", "critical control not supported: "+req.critical[0]))
	}
	if c.tc == nil && op != opExtendedRequest {
		c.s.m.ops.WithLabelValues(opNameOther).Inc()
		return c.send(req.id, encResult(resp, ResultConfidentialityRequired, "", "use StartTLS first"))
	}
	if c.id != nil && !c.s.now().Before(c.id.Expires) && !c.reverify() {
		return false
	}
	switch op {
	case opBindRequest:
		c.s.m.ops.WithLabelValues(opNameBind).Inc()
		return c.bind(req)
	case opSearchRequest:
		c.s.m.ops.WithLabelValues(opNameSearch).Inc()
		return c.search(req)
	case opExtendedRequest:
		return c.extended(req)
	}
	c.s.m.ops.WithLabelValues(opNameOther).Inc()
	return c.send(req.id, encResult(resp, ResultUnwillingToPerform, "", "the directory is read-only"))
}

// reverify authenticates the bound client again once its verdict has
// expired (at most the TLSA answer's TTL): a revoked user loses its open
// connection at its next request.
func (c *session) reverify() bool {
	id, err := c.verify()
	if err == nil && id.User == c.id.User {
		c.id = id
		return true
	}
	c.disconnect(closeExpired, ResultStrongerAuthRequired, "authentication no longer valid", err)
	return false
}

// verify runs the verification core on the client's certificate.
func (c *session) verify() (*verify.Identity, error) {
	st := c.tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return nil, errNoCertificate
	}
	name, err := verify.ClaimedName(st.PeerCertificates[0])
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(verify.WithPeerAddr(c.s.ctx, c.remote), c.s.cfg.VerifyTimeout)
	defer cancel()
	id, err := c.s.cfg.Verifier.Verify(ctx, name, verify.Presented{Chain: st.PeerCertificates})
	if err != nil {
		return nil, err
	}
	if id == nil || id.User == "" {
		return nil, errNotUser
	}
	if c.s.domainOf(id.User) == nil {
		return nil, errNotUser
	}
	return id, nil
}

var (
	errNoCertificate = errors.New("ldap: no client certificate")
	errNotUser       = errors.New("ldap: not a user of a served domain")
)

// bind answers a BindRequest (RFC 4511 §4.2, RFC 4513 §5).
func (c *session) bind(req *request) bool {
	// RFC 4511 §4.2.1: a bind starts anonymous; a failed one leaves it so.
	c.id, c.user, c.dn = nil, "", ""
	b, err := decodeBind(req.op)
	reply := func(code ResultCode, result, diag string) bool {
		c.s.m.binds.WithLabelValues(result).Inc()
		return c.send(req.id, encResult(opBindResponse, code, "", diag))
	}
	switch {
	case errors.Is(err, errUnknownAuth):
		return reply(ResultAuthMethodNotSupported, bindMethod, "only SASL EXTERNAL")
	case err != nil:
		c.disconnect(closeProtocol, ResultProtocolError, "malformed bind", err)
		return false
	case b.version != 3:
		// RFC 4511 §4.2.1: protocolError for an unsupported version.
		return reply(ResultProtocolError, bindMethod, "LDAPv3 only")
	case b.simple && b.name == "" && len(b.pass) == 0:
		if c.s.cfg.AllowAnonymous {
			return reply(ResultSuccess, bindAnonymous, "")
		}
		return reply(ResultInappropriateAuthentication, bindMethod, "anonymous bind refused: use SASL EXTERNAL")
	case b.simple && len(b.pass) == 0:
		// RFC 4513 §5.1.2: unauthenticated binds fail by default.
		return reply(ResultUnwillingToPerform, bindMethod, "unauthenticated bind refused: use SASL EXTERNAL")
	case b.simple:
		return reply(ResultAuthMethodNotSupported, bindMethod, "no passwords here: use SASL EXTERNAL")
	case b.mech != MechExternal:
		return reply(ResultAuthMethodNotSupported, bindMethod, "only SASL EXTERNAL")
	}
	id, err := c.verify()
	if err != nil {
		code, result := ResultInvalidCredentials, bindRefused
		switch {
		case errors.Is(err, errNoCertificate):
			code, result = ResultInappropriateAuthentication, bindNoCertificate
		case verify.ReasonOf(err) == verify.ReasonOverloaded:
			code, result = ResultBusy, bindUnavailable
		case verify.ReasonOf(err) == verify.ReasonLookupTimeout, verify.ReasonOf(err) == verify.ReasonLookupFailed, verify.ReasonOf(err) == verify.ReasonDNSIndeterminate:
			code, result = ResultUnavailable, bindUnavailable
		}
		c.s.log.Info("ldap: bind refused", "remote", c.remote, "reason", reasonOf(err), "err", logtext.Bound(err.Error(), logtext.MaxText))
		// The client learns nothing beyond the code: the reason is the
		// operator's (verify: Security considerations).
		return reply(code, result, "")
	}
	user := id.User
	if b.hasCred && len(b.creds) > 0 {
		target, err := c.s.authzUser(string(b.creds))
		if err != nil {
			c.s.log.Info("ldap: bind refused", "remote", c.remote, "identity", id.User, "reason", "authzid", "err", logtext.Bound(err.Error(), logtext.MaxText))
			return reply(ResultInvalidCredentials, bindAuthzRefused, "")
		}
		if !c.s.cfg.Authz.Allows(id.User, target) {
			c.s.log.Info("ldap: bind refused", "remote", c.remote, "identity", id.User, "authzid", logtext.Bound(target, logtext.MaxName), "reason", "authzid not permitted")
			return reply(ResultInsufficientAccessRights, bindAuthzRefused, "")
		}
		user = target
	}
	c.id, c.user, c.dn = id, user, c.s.userDN(user)
	c.s.log.Info("ldap: bound", "remote", c.remote, "identity", id.User, "as", user)
	return reply(ResultSuccess, bindOK, "")
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, errNoCertificate):
		return "no-certificate"
	case errors.Is(err, errNotUser):
		return "not-a-user"
	}
	if r := verify.ReasonOf(err); r != 0 {
		return r.String()
	}
	return "error"
}

// domainOf returns the served domain of a uid@domain, or nil.
func (s *Server) domainOf(user string) *domainInfo {
	i := strings.LastIndexByte(user, '@')
	if i < 0 {
		return nil
	}
	for k := range s.domains {
		if s.domains[k].name == user[i+1:] {
			return &s.domains[k]
		}
	}
	return nil
}

// userDN is the DN of a user of a served domain: "uid=UID,BASE".
func (s *Server) userDN(user string) string {
	i := strings.LastIndexByte(user, '@')
	d := s.domainOf(user)
	if d == nil {
		return ""
	}
	return "uid=" + escapeDNValue(user[:i]) + "," + d.base
}

// authzUser reads an authorization identity (RFC 4513 §5.2.1.8): "u:" and
// a uid@domain, or "dn:" and the DN of a user of a served domain. It
// returns the user in canonical form.
func (s *Server) authzUser(authz string) (string, error) {
	switch {
	case strings.HasPrefix(authz, "u:"):
		u, err := canonicalUser(authz[2:])
		if err != nil {
			return "", err
		}
		if s.domainOf(u) == nil {
			return "", fmt.Errorf("%q is not a user of a served domain", u)
		}
		return u, nil
	case strings.HasPrefix(authz, "dn:"):
		n, err := normalizeDN(authz[3:])
		if err != nil {
			return "", err
		}
		rdn, rest := n, ""
		if i := indexUnescaped(n, ','); i >= 0 {
			rdn, rest = n[:i], n[i+1:]
		}
		v, ok := strings.CutPrefix(rdn, "uid=")
		if !ok || indexUnescaped(v, '+') >= 0 {
			return "", fmt.Errorf("%q is not uid=UID,BASE", authz[3:])
		}
		uid, err := unescapeDNValue(v)
		if err != nil {
			return "", err
		}
		for _, d := range s.domains {
			if d.norm == rest {
				u, err := identity.CanonicalUserName(uid)
				if err != nil {
					return "", err
				}
				return u + "@" + d.name, nil
			}
		}
		return "", fmt.Errorf("%q is under no served domain's base", authz[3:])
	}
	return "", fmt.Errorf("authzid %.40q is neither dn: nor u:", authz)
}

// unescapeDNValue undoes RFC 4514 §2.4 escapes ("\," and "\2c").
func unescapeDNValue(v string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 >= len(v) {
			return "", fmt.Errorf("DN value %q ends in an escape", v)
		}
		if i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			b.WriteByte(unhex(v[i+1])<<4 | unhex(v[i+2]))
			i += 2
			continue
		}
		b.WriteByte(v[i+1])
		i++
	}
	return b.String(), nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// extended answers an ExtendedRequest (RFC 4511 §4.12).
func (c *session) extended(req *request) bool {
	x, err := decodeExtended(req.op)
	if err != nil {
		c.disconnect(closeProtocol, ResultProtocolError, "malformed extended request", err)
		return false
	}
	switch x.name {
	case OIDStartTLS:
		c.s.m.ops.WithLabelValues(opNameStartTLS).Inc()
		name := encString(tagExtRespName, OIDStartTLS)
		if c.tc != nil {
			// RFC 4511 §4.14.1: operationsError when TLS is in place.
			return c.send(req.id, encResult(opExtendedResponse, ResultOperationsError, "", "TLS already established", name))
		}
		if !c.send(req.id, encResult(opExtendedResponse, ResultSuccess, "", "", name)) {
			return false
		}
		return c.startTLS()
	case OIDWhoAmI:
		c.s.m.ops.WithLabelValues(opNameWhoAmI).Inc()
		if c.tc == nil {
			return c.send(req.id, encResult(opExtendedResponse, ResultConfidentialityRequired, "", "use StartTLS first"))
		}
		if x.hasValue {
			// RFC 4532 §2.1: the request has no value.
			return c.send(req.id, encResult(opExtendedResponse, ResultProtocolError, "", "WhoAmI takes no value"))
		}
		return c.send(req.id, encResult(opExtendedResponse, ResultSuccess, "", "", encString(tagExtRespValue, c.authzID())))
	}
	c.s.m.ops.WithLabelValues(opNameOther).Inc()
	// RFC 4511 §4.12: an unknown request name gets protocolError and no
	// responseName.
	return c.send(req.id, encResult(opExtendedResponse, ResultProtocolError, "", "unsupported extended operation"))
}

// authzID is the identity the session acts as, in the configured form;
// empty when anonymous (RFC 4532 §2.2).
func (c *session) authzID() string {
	switch {
	case c.id == nil:
		return ""
	case c.s.cfg.WhoAmI == WhoAmIUser:
		return "u:" + c.user
	}
	return "dn:" + c.dn
}
