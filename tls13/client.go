package tls13

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/keysched"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/sigalg"
	"github.com/dnsbound/dance/tls13/internal/transcript"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// clientSuites are the cipher suites offered, in order of preference.
var clientSuites = []uint16{record.TLS_AES_128_GCM_SHA256, record.TLS_AES_256_GCM_SHA384, record.TLS_CHACHA20_POLY1305_SHA256}

// certSignatureSchemes are the schemes accepted in certificates
// (signature_algorithms_cert, RFC 8446 §4.2.3): those of CertificateVerify
// and RSASSA-PKCS1-v1_5, which certificates may still use.
var certSignatureSchemes = append(sigalg.Schemes(), wire.SigRSAPKCS1SHA256, wire.SigRSAPKCS1SHA384, wire.SigRSAPKCS1SHA512)

// clientHS is the state of one client handshake.
type clientHS struct {
	c       *Conn
	curves  []CurveID
	sigs    []uint16       // the schemes we offer and accept (Config.SignatureSchemes)
	sigExt  wire.Extension // signature_algorithms offering sigs
	hello   wire.ClientHello
	keys    []*groupKey // the shares offered in the current ClientHello
	group   CurveID     // the group of the share the server took
	tr      *transcript.Transcript
	sched   *keysched.Schedule
	sentCCS bool
	certReq *wire.CertificateRequest
	// serverCertType and clientCertType are the negotiated certificate
	// types (RFC 7250), X.509 unless the server selected another.
	serverCertType, clientCertType uint8
	session                        *ClientSessionState // offered in the ClientHello; nil: none
	psk                            []byte              // the session's PSK, once the server accepted it
}

func (c *Conn) clientHandshake() error {
	cfg := c.cfg
	if cfg.ServerName == "" && cfg.VerifyPeer == nil {
		return errors.New("tls13: Config needs a ServerName or a VerifyPeer")
	}
	if c.st.err != nil {
		return c.st.err
	}
	if c.st.clientNameErr != nil {
		return c.st.clientNameErr
	}
	if c.st.shareErr != nil {
		return c.st.shareErr
	}
	hs := &clientHS{c: c, curves: c.st.curves, sigs: c.st.sigs, sigExt: c.st.sigExt, tr: transcript.New()}
	if err := hs.sendFirstHello(); err != nil {
		return err
	}
	sh, err := hs.readServerHello()
	if err != nil {
		return err
	}
	if sh.IsHelloRetryRequest() {
		if sh, err = hs.retry(sh); err != nil {
			return err
		}
	}
	if err := hs.handshakeKeys(sh); err != nil {
		return err
	}
	return hs.readServerFlight()
}

// newKeyShares generates the key shares for groups and returns their
// key_share extension.
func (hs *clientHS) newKeyShares(groups ...CurveID) (wire.Extension, error) {
	hs.keys = hs.keys[:0]
	shares := make([]wire.KeyShare, 0, len(groups))
	for _, g := range groups {
		k, err := newGroupKey(g, hs.c.cfg.rand())
		if err != nil {
			return wire.Extension{}, err
		}
		hs.keys = append(hs.keys, k)
		shares = append(shares, wire.KeyShare{Group: uint16(g), Data: k.share()})
	}
	return wire.NewClientKeyShareExtension(shares), nil
}

func (hs *clientHS) sendFirstHello() error {
	cfg := hs.c.cfg
	m := &hs.hello
	m.LegacyVersion = record.LegacyVersion
	if _, err := io.ReadFull(cfg.rand(), m.Random[:]); err != nil {
		return err
	}
	// RFC 8446 §D.4: a non-empty legacy_session_id puts the client in
	// middlebox compatibility mode.
	m.SessionID = make([]byte, 32)
	if _, err := io.ReadFull(cfg.rand(), m.SessionID); err != nil {
		return err
	}
	m.CipherSuites = cfg.cipherSuites(clientSuites)
	m.CompressionMethods = []byte{0}
	share, err := hs.newKeyShares(hs.c.st.shareGroups...)
	if err != nil {
		return err
	}
	m.Extensions = []wire.Extension{
		staticExts.versions,
		hs.c.st.groupsExt,
		hs.sigExt,
		staticExts.sigAlgsCert,
		share,
	}
	m.Extensions = append(m.Extensions, hs.c.st.certTypeExts...)
	// RFC 6066 §3: literal IP addresses are not sent as host names.
	if cfg.ServerName != "" && net.ParseIP(cfg.ServerName) == nil {
		m.Extensions = append(m.Extensions, wire.NewServerNameExtension(cfg.ServerName))
	}
	if len(cfg.NextProtos) > 0 {
		m.Extensions = append(m.Extensions, wire.NewALPNExtension(cfg.NextProtos))
	}
	m.Extensions = append(m.Extensions, wire.NewRecordSizeLimitExtension(hs.c.st.recordLimit))
	if cfg.editHello != nil {
		cfg.editHello(m)
	}
	hs.offerSession() // pre_shared_key comes last
	return hs.writeHello()
}

func (hs *clientHS) writeHello() error {
	b := hs.hello.Marshal()
	hs.tr.Add(b)
	hs.c.helloSeen = true
	return hs.c.rc.WriteRecord(record.TypeHandshake, b)
}

// readServerHello reads a ServerHello or HelloRetryRequest and checks what
// both must satisfy (RFC 8446 §4.1.3, §4.1.4).
func (hs *clientHS) readServerHello() (*wire.ServerHello, error) {
	msg, err := hs.c.readHandshake()
	if err != nil {
		return nil, err
	}
	if wire.HandshakeType(msg[0]) != wire.TypeServerHello {
		return nil, alert.Errorf(alert.UnexpectedMessage, "%v instead of ServerHello", wire.HandshakeType(msg[0]))
	}
	sh := new(wire.ServerHello)
	if err := sh.Unmarshal(msg); err != nil {
		return nil, err
	}
	if sh.SupportedVersion == 0 {
		// The server chose TLS 1.2 or older, which we do not speak.
		// RFC 8446 §4.1.3 names illegal_parameter for a TLS 1.3 client
		// seeing a downgrade sentinel; any older version is refused
		// with protocol_version (§4.2.1).
		if bytes.HasSuffix(sh.Random[:], wire.DowngradeTLS12) || bytes.HasSuffix(sh.Random[:], wire.DowngradeTLS11) {
			return nil, alert.Errorf(alert.IllegalParameter, "downgrade sentinel in ServerHello.random")
		}
		return nil, alert.Errorf(alert.ProtocolVersion, "server did not select TLS 1.3")
	}
	if sh.SupportedVersion != wire.VersionTLS13 {
		return nil, alert.Errorf(alert.IllegalParameter, "server selected version %#04x we did not offer", sh.SupportedVersion)
	}
	if sh.LegacyVersion != record.LegacyVersion {
		return nil, alert.Errorf(alert.IllegalParameter, "ServerHello legacy_version %#04x", sh.LegacyVersion)
	}
	if !bytes.Equal(sh.SessionIDEcho, hs.hello.SessionID) {
		return nil, alert.Errorf(alert.IllegalParameter, "legacy_session_id_echo differs from ours")
	}
	if sh.CompressionMethod != 0 {
		return nil, alert.Errorf(alert.IllegalParameter, "compression method %d", sh.CompressionMethod)
	}
	if !slices.Contains(hs.hello.CipherSuites, sh.CipherSuite) {
		return nil, alert.Errorf(alert.IllegalParameter, "cipher suite %#04x we did not offer", sh.CipherSuite)
	}
	if sh.SelectedIdentity >= 0 && hs.session == nil {
		return nil, alert.Errorf(alert.IllegalParameter, "pre_shared_key selected, none offered")
	}
	for _, e := range sh.Extensions {
		switch e.Type {
		case wire.ExtSupportedVersions, wire.ExtKeyShare, wire.ExtCookie:
		case wire.ExtPreSharedKey:
			if hs.session == nil {
				return nil, alert.Errorf(alert.UnsupportedExtension, "pre_shared_key not offered")
			}
		default:
			// RFC 8446 §4.1.4: an extension not offered in the
			// ClientHello (cookie excepted) is unsupported_extension.
			return nil, alert.Errorf(alert.UnsupportedExtension, "ServerHello extension %d", e.Type)
		}
	}
	return sh, nil
}

// retry answers a HelloRetryRequest (RFC 8446 §4.1.4) and reads the
// ServerHello that follows.
func (hs *clientHS) retry(hrr *wire.ServerHello) (*wire.ServerHello, error) {
	c := hs.c
	if hrr.SelectedGroup == 0 && hrr.Cookie == nil {
		return nil, alert.Errorf(alert.IllegalParameter, "HelloRetryRequest that changes nothing")
	}
	var newShare *wire.Extension
	if hrr.SelectedGroup != 0 {
		g := CurveID(hrr.SelectedGroup)
		// RFC 8446 §4.1.4: a group not offered, or one a share was
		// sent for, is an illegal_parameter.
		if !slices.Contains(hs.curves, g) || hs.keyFor(g) != nil {
			return nil, alert.Errorf(alert.IllegalParameter, "HelloRetryRequest selects group %v", g)
		}
		e, err := hs.newKeyShares(g)
		if err != nil {
			return nil, err
		}
		newShare = &e
	}
	c.suite = record.SuiteByID(hrr.CipherSuite)
	hs.tr.SetHash(c.suite.Hash)
	hs.tr.ReplaceWithMessageHash()
	hs.tr.Add(hrr.Marshal())
	c.state.HelloRetried = true

	var exts []wire.Extension
	for _, e := range hs.hello.Extensions {
		if e.Type == wire.ExtKeyShare && newShare != nil {
			e = *newShare
		}
		if e.Type == wire.ExtPreSharedKey {
			continue // offered again, last, by retrySession
		}
		if e.Type == wire.ExtEarlyData {
			continue // RFC 8446 §4.1.2: removed after a HelloRetryRequest
		}
		exts = append(exts, e)
	}
	if hrr.Cookie != nil {
		exts = append(exts, wire.NewCookieExtension(hrr.Cookie))
	}
	hs.hello.Extensions = exts
	hs.retrySession(c.suite)
	if err := hs.sendCCS(); err != nil {
		return nil, err
	}
	if err := hs.writeHello(); err != nil {
		return nil, err
	}
	sh, err := hs.readServerHello()
	if err != nil {
		return nil, err
	}
	if sh.IsHelloRetryRequest() {
		return nil, alert.Errorf(alert.UnexpectedMessage, "second HelloRetryRequest")
	}
	if sh.CipherSuite != hrr.CipherSuite {
		return nil, alert.Errorf(alert.IllegalParameter, "ServerHello suite differs from the HelloRetryRequest's")
	}
	return sh, nil
}

// sendCCS sends the compatibility change_cipher_spec once (RFC 8446 §D.4).
func (hs *clientHS) sendCCS() error {
	if hs.sentCCS {
		return nil
	}
	hs.sentCCS = true
	return hs.c.rc.WriteRecord(record.TypeChangeCipherSpec, []byte{1})
}

// handshakeKeys derives the handshake secrets from the server's share
// (RFC 8446 §7.1) and switches the read side to them.
func (hs *clientHS) handshakeKeys(sh *wire.ServerHello) error {
	c := hs.c
	if sh.Cookie != nil {
		return alert.Errorf(alert.IllegalParameter, "cookie in ServerHello")
	}
	if sh.KeyShare == nil {
		// No PSK offered: a ServerHello without key_share leaves no
		// key exchange (RFC 8446 §4.2.8, §9.2).
		return alert.Errorf(alert.MissingExtension, "ServerHello without key_share")
	}
	key := hs.keyFor(CurveID(sh.KeyShare.Group))
	if key == nil {
		return alert.Errorf(alert.IllegalParameter, "server share for group %v, for which we sent none", CurveID(sh.KeyShare.Group))
	}
	hs.group = key.group
	shared, err := key.sharedSecret(sh.KeyShare.Data)
	if err != nil {
		return err
	}
	defer clear(shared)
	if c.suite == nil {
		c.suite = record.SuiteByID(sh.CipherSuite)
		hs.tr.SetHash(c.suite.Hash)
	}
	if err := hs.acceptServerPSK(sh); err != nil {
		return err
	}
	hs.tr.Add(sh.Marshal())
	c.state.Version = wire.VersionTLS13
	c.state.CipherSuite = sh.CipherSuite
	c.state.Group = hs.group
	c.state.ServerName = c.cfg.ServerName

	hs.sched = keysched.New(c.suite.Hash, hs.psk)
	hs.sched.Handshake(shared)
	th := hs.tr.Sum()
	// From here on our records, alerts included, are protected with the
	// handshake keys (RFC 8446 §2: all messages after ServerHello). The
	// compatibility change_cipher_spec goes first (RFC 8446 §D.4), so a
	// middlebox, or a peer expecting it, sees it before any protected
	// record, an alert refusing the server's flight included.
	if err := hs.sendCCS(); err != nil {
		return err
	}
	c.setWriteSecret(hs.sched.Derive(keysched.LabelClientHandshake, th))
	return c.setReadSecret(hs.sched.Derive(keysched.LabelServerHandshake, th))
}

// next reads the next handshake message and checks its type.
func (hs *clientHS) next(want ...wire.HandshakeType) ([]byte, error) {
	msg, err := hs.c.readHandshake()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(want, wire.HandshakeType(msg[0])) {
		return nil, alert.Errorf(alert.UnexpectedMessage, "%v where %v was expected", wire.HandshakeType(msg[0]), want[0])
	}
	return msg, nil
}

// readServerFlight reads EncryptedExtensions through Finished (RFC 8446
// §4.3, §4.4) and sends the client's flight.
func (hs *clientHS) readServerFlight() error {
	c := hs.c
	msg, err := hs.next(wire.TypeEncryptedExtensions)
	if err != nil {
		return err
	}
	var ee wire.EncryptedExtensions
	if err := ee.Unmarshal(msg); err != nil {
		return err
	}
	if err := hs.checkEncryptedExtensions(&ee); err != nil {
		return err
	}
	hs.tr.Add(msg)

	if hs.psk != nil {
		// RFC 8446 §2.2: a PSK handshake authenticates the server by
		// the PSK; no Certificate, CertificateRequest or
		// CertificateVerify follows.
		c.state.PeerCertificates = hs.session.peerCerts
		c.state.PeerRawPublicKey = hs.session.peerRawKey
	} else if err = hs.readServerAuth(); err != nil {
		return err
	}
	if err := c.verifyConnection(); err != nil {
		return err
	}

	if msg, err = hs.next(wire.TypeFinished); err != nil {
		return err
	}
	var fin wire.Finished
	if err := fin.Unmarshal(msg, c.suite.Hash.Size()); err != nil {
		return err
	}
	shs := c.inSec
	if !keysched.VerifyFinished(c.suite.Hash, shs, hs.tr.Sum(), fin.VerifyData) {
		return alert.Errorf(alert.DecryptError, "server Finished does not verify")
	}
	hs.tr.Add(msg)

	// Application secrets follow from the transcript through the
	// server Finished (RFC 8446 §7.1).
	hs.sched.Master()
	th := hs.tr.Sum()
	cats := hs.sched.Derive(keysched.LabelClientAppTraffic, th)
	sats := hs.sched.Derive(keysched.LabelServerAppTraffic, th)
	c.expMaster = hs.sched.Derive(keysched.LabelExporterMaster, th)
	if err := c.setReadSecret(sats); err != nil {
		return err
	}

	if hs.certReq != nil {
		if err := hs.sendClientCertificate(); err != nil {
			return err
		}
	}
	mac := keysched.FinishedMAC(c.suite.Hash, keysched.FinishedKey(c.suite.Hash, c.outSec), hs.tr.Sum())
	if err := hs.writeMessage((&wire.Finished{VerifyData: mac}).Marshal()); err != nil {
		return err
	}
	c.setWriteSecret(cats)
	if c.cfg.ClientSessionCache != nil {
		// RFC 8446 §7.1: the resumption master secret covers the
		// client's Finished.
		c.resMaster = hs.sched.Derive(keysched.LabelResumptionMaster, hs.tr.Sum())
	}
	return nil
}

// readServerAuth reads CertificateRequest (optional), Certificate and
// CertificateVerify (RFC 8446 §4.3.2, §4.4.2, §4.4.3); the verified chain or
// raw key is in the connection's state.
func (hs *clientHS) readServerAuth() error {
	msg, err := hs.next(wire.TypeCertificateRequest, wire.TypeCertificate)
	if err != nil {
		return err
	}
	if wire.HandshakeType(msg[0]) == wire.TypeCertificateRequest {
		cr := &wire.CertificateRequest{DANEClientIDType: hs.c.cfg.clientIDType()}
		if err := cr.Unmarshal(msg); err != nil {
			return err
		}
		// RFC 8446 §4.3.2: zero length in the main handshake.
		if len(cr.Context) != 0 {
			return alert.Errorf(alert.IllegalParameter, "CertificateRequest context in the handshake")
		}
		hs.certReq = cr
		hs.tr.Add(msg)
		if msg, err = hs.next(wire.TypeCertificate); err != nil {
			return err
		}
	}
	pub, err := hs.readServerCertificate(msg)
	if err != nil {
		return err
	}
	if msg, err = hs.next(wire.TypeCertificateVerify); err != nil {
		return err
	}
	var cv wire.CertificateVerify
	if err := cv.Unmarshal(msg); err != nil {
		return err
	}
	if err := sigalg.Verify(pub, cv.Algorithm, hs.sigs, sigalg.ServerContext, hs.tr.Sum(), cv.Signature); err != nil {
		return err
	}
	hs.c.state.PeerSignatureScheme = cv.Algorithm
	hs.tr.Add(msg)
	return nil
}

// checkEncryptedExtensions accepts only answers to what we offered (RFC
// 8446 §4.2: unsupported_extension otherwise).
func (hs *clientHS) checkEncryptedExtensions(ee *wire.EncryptedExtensions) error {
	c := hs.c
	for _, e := range ee.Extensions {
		switch e.Type {
		case wire.ExtSupportedGroups:
			// The server's preference, for later connections; allowed
			// whatever we offered (RFC 8446 §4.2.7).
		case wire.ExtServerName:
			if _, ok := wire.FindExtension(hs.hello.Extensions, wire.ExtServerName); !ok {
				return alert.Errorf(alert.UnsupportedExtension, "server_name acknowledged, not sent")
			}
		case wire.ExtALPN:
			if len(c.cfg.NextProtos) == 0 {
				return alert.Errorf(alert.UnsupportedExtension, "ALPN selected, none offered")
			}
			// RFC 7301 §3.2 leaves the alert open; the protocol is a
			// parameter we did not offer.
			if !slices.Contains(c.cfg.NextProtos, ee.ALPN) {
				return alert.Errorf(alert.IllegalParameter, "ALPN protocol %q not offered", ee.ALPN)
			}
			c.state.NegotiatedProtocol = ee.ALPN
		case wire.ExtServerCertificateType:
			t, err := hs.checkSelectedCertType(e.Type, ee.ServerCertType)
			if err != nil {
				return err
			}
			hs.serverCertType = t
		case wire.ExtClientCertificateType:
			t, err := hs.checkSelectedCertType(e.Type, ee.ClientCertType)
			if err != nil {
				return err
			}
			hs.clientCertType = t
		case wire.ExtRecordSizeLimit:
			if err := c.applyRecordLimits(ee.RecordSizeLimit); err != nil {
				return err
			}
		default:
			return alert.Errorf(alert.UnsupportedExtension, "EncryptedExtensions extension %d not offered", e.Type)
		}
	}
	return nil
}

// readServerCertificate decodes and verifies the server's chain (RFC 8446
// §4.4.2), or reads its raw public key (RFC 7250), adds the message to the
// transcript and returns the key CertificateVerify must verify with.
func (hs *clientHS) readServerCertificate(msg []byte) (crypto.PublicKey, error) {
	c := hs.c
	m := wire.Certificate{DANEClientIDType: c.cfg.clientIDType()}
	if err := m.Unmarshal(msg); err != nil {
		return nil, err
	}
	if len(m.Context) != 0 {
		return nil, alert.Errorf(alert.IllegalParameter, "server Certificate with a request context")
	}
	if len(m.Entries) == 0 {
		// RFC 8446 §4.4.2.4.
		return nil, alert.Errorf(alert.DecodeError, "empty server Certificate")
	}
	if err := c.acceptPeerCertType(hs.serverCertType); err != nil {
		return nil, err
	}
	for _, e := range m.Entries {
		for _, x := range e.Extensions {
			// We offered neither status_request nor SCTs (RFC 8446
			// §4.4.2).
			return nil, alert.Errorf(alert.UnsupportedExtension, "certificate entry extension %d not offered", x.Type)
		}
	}
	if hs.serverCertType == wire.CertTypeRawPublicKey {
		spki, pub, err := parseRawPublicKey(&m)
		if err != nil {
			return nil, err
		}
		// Authenticated by VerifyConnection alone (AcceptRawPublicKeys
		// requires one).
		c.state.PeerRawPublicKey = spki
		hs.tr.Add(msg)
		return pub, nil
	}
	chain := make([]*x509.Certificate, len(m.Entries))
	for i, e := range m.Entries {
		cert, err := x509.ParseCertificate(e.Data)
		if err != nil {
			return nil, &alert.Error{Alert: alert.BadCertificate, Reason: "server certificate", Err: err}
		}
		chain[i] = cert
	}
	if err := c.verifyPeer(chain); err != nil {
		return nil, err
	}
	c.state.PeerCertificates = chain
	hs.tr.Add(msg)
	return chain[0].PublicKey, nil
}

// verifyPeer verifies the peer's chain: by Config.VerifyPeer, or for a
// client against RootCAs and ServerName, for a server against ClientCAs.
func (c *Conn) verifyPeer(chain []*x509.Certificate) error {
	_, err := c.verifyChain(chain)
	return err
}

// verifyChain is verifyPeer, returning the path that verified chain
// (root included); nil with VerifyPeer.
func (c *Conn) verifyChain(chain []*x509.Certificate) ([]*x509.Certificate, error) {
	// RFC 8446 §4.4.2.2: the end-entity key signs the CertificateVerify,
	// so a keyUsage extension must allow digitalSignature, whoever
	// vouches for the chain.
	if ku := chain[0].KeyUsage; ku != 0 && ku&x509.KeyUsageDigitalSignature == 0 {
		return nil, alert.Errorf(alert.BadCertificate, "peer certificate keyUsage without digitalSignature")
	}
	if c.cfg.VerifyPeer != nil {
		if err := c.cfg.VerifyPeer(chain); err != nil {
			return nil, &alert.Error{Alert: alert.BadCertificate, Reason: "peer refused by VerifyPeer", Err: err}
		}
		return nil, nil
	}
	opts := x509.VerifyOptions{
		Roots:         c.cfg.RootCAs,
		DNSName:       c.cfg.ServerName,
		CurrentTime:   c.cfg.now(),
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if !c.isClient {
		opts.Roots, opts.DNSName = c.cfg.ClientCAs, ""
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, ic := range chain[1:] {
		opts.Intermediates.AddCert(ic)
	}
	paths, err := chain[0].Verify(opts)
	if err != nil {
		return nil, &alert.Error{Alert: certAlert(err), Reason: "peer certificate", Err: err}
	}
	return paths[0], nil
}

// certAlert picks the alert for a failed chain verification (RFC 8446 §6.2).
func certAlert(err error) alert.Description {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return alert.UnknownCA
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return alert.CertificateExpired
	}
	return alert.BadCertificate
}

// sendClientCertificate answers a CertificateRequest with Certificate and,
// when it has a certificate, CertificateVerify (RFC 8446 §4.4.2, §4.4.3).
func (hs *clientHS) sendClientCertificate() error {
	c := hs.c
	var chosen *Certificate
	var scheme uint16
	certs, err := hs.clientCandidates()
	if err != nil {
		return err
	}
	for _, cert := range certs {
		// Only a credential of the type the server selected (RFC 7250
		// §4.2; X.509 when it selected none).
		if cert.PrivateKey == nil || cert.certType() != hs.clientCertType {
			continue
		}
		if own := c.cfg.CertificateTypes; len(own) > 0 && !slices.Contains(own, CertificateType(hs.clientCertType)) {
			// X.509 by default, which we did not offer.
			continue
		}
		if !cert.issuerListed(hs.certReq.CertificateAuthorities) {
			continue
		}
		if s, ok := signingScheme(cert, hs.certReq.SignatureAlgorithms); ok {
			chosen, scheme = cert, s
			break
		}
	}
	m := wire.Certificate{Context: hs.certReq.Context}
	if chosen != nil {
		entries, err := certificateEntries(chosen)
		if err != nil {
			return err
		}
		if e, ok := hs.clientNameExtension(); ok {
			entries[0].Extensions = []wire.Extension{e}
		}
		m.Entries = entries
	}
	if err := hs.writeMessage(m.Marshal()); err != nil {
		return err
	}
	if chosen == nil {
		return nil
	}
	sig, err := sigalg.Sign(c.cfg.rand(), chosen.PrivateKey, scheme, sigalg.ClientContext, hs.tr.Sum())
	if err != nil {
		return &alert.Error{Alert: alert.InternalError, Reason: "signing CertificateVerify", Err: err}
	}
	return hs.writeMessage((&wire.CertificateVerify{Algorithm: scheme, Signature: sig}).Marshal())
}

// writeMessage sends a message of the client's protected flight and adds
// it to the transcript.
func (hs *clientHS) writeMessage(b []byte) error {
	if edit := hs.c.cfg.editMessage; edit != nil {
		if b = edit(b); b == nil {
			return nil
		}
	}
	hs.tr.Add(b)
	return hs.c.rc.WriteRecord(record.TypeHandshake, b)
}
