package tls13

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"slices"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/keysched"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/sigalg"
	"github.com/dnsbound/dance/tls13/internal/transcript"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// serverSuites are the cipher suites a server accepts, in its order of
// preference.
var serverSuites = []uint16{record.TLS_AES_128_GCM_SHA256, record.TLS_CHACHA20_POLY1305_SHA256, record.TLS_AES_256_GCM_SHA384}

// cookieLen is the length of the random cookie a server puts in its
// HelloRetryRequest (RFC 8446 §4.2.2) and expects back.
const cookieLen = 32

// serverHS is the state of one server handshake.
type serverHS struct {
	c       *Conn
	curves  []CurveID
	sigs    []uint16       // the schemes we offer and accept (Config.SignatureSchemes)
	sigExt  wire.Extension // signature_algorithms offering sigs
	hello   *wire.ClientHello
	tr      *transcript.Transcript
	group   CurveID
	share   []byte // the client's key_share for group
	cert    *Certificate
	scheme  uint16
	sched   *keysched.Schedule
	cookie  []byte
	sentCCS bool
	// serverCertType and clientCertType are the negotiated certificate
	// types (RFC 7250): X.509 unless the client offered others.
	serverCertType, clientCertType uint8
	// certTypeExts are the EncryptedExtensions' answers to the
	// client's certificate type extensions.
	certTypeExts []wire.Extension

	// caExt is the certificate_authorities of our CertificateRequest
	// (Config.ClientCANames), sent when sendCAs.
	caExt   wire.Extension
	sendCAs bool

	clientApp []byte // client application traffic secret, for after its Finished
	psk       []byte // the resumed session's PSK; nil: a full handshake
	pskIndex  int    // the identity it came from
}

func (c *Conn) serverHandshake() error {
	if len(c.cfg.Certificates) == 0 && c.cfg.GetCertificate == nil {
		return errors.New("tls13: server Config without Certificates")
	}
	if c.st.err != nil {
		return c.st.err
	}
	hs := &serverHS{c: c, curves: c.st.curves, sigs: c.st.sigs, sigExt: c.st.sigExt, tr: transcript.New()}
	msg, err := hs.readClientHello()
	if err != nil {
		return err
	}
	if hs.hello.EarlyData {
		// We never accept early data; what a client sends anyway is
		// skipped (RFC 8446 §4.2.10).
		c.rc.SkipEarlyData(maxSkippedEarlyData)
	}
	if err := hs.negotiate(); err != nil {
		return err
	}
	if hs.share == nil {
		if msg, err = hs.retry(msg); err != nil {
			return err
		}
	} else {
		hs.tr.SetHash(c.suite.Hash)
	}
	// The PSK binders cover the transcript up to the final ClientHello.
	if err := hs.acceptPSK(); err != nil {
		return err
	}
	if hs.psk == nil {
		if hs.hello.SignatureAlgorithms == nil {
			// RFC 8446 §4.2.3: authenticating with a certificate to a
			// client that sent no signature_algorithms.
			return alert.Errorf(alert.MissingExtension, "no signature_algorithms, and the PSK was not accepted")
		}
		if err := hs.chooseCertificate(); err != nil {
			return err
		}
	} else {
		hs.resumedCertType()
	}
	hs.tr.Add(msg)
	if err := hs.sendServerHello(); err != nil {
		return err
	}
	if err := hs.sendServerFlight(); err != nil {
		return err
	}
	return hs.readClientFlight()
}

func (hs *serverHS) readClientHello() ([]byte, error) {
	msg, err := hs.c.readHandshake()
	if err != nil {
		return nil, err
	}
	if wire.HandshakeType(msg[0]) != wire.TypeClientHello {
		return nil, alert.Errorf(alert.UnexpectedMessage, "%v instead of ClientHello", wire.HandshakeType(msg[0]))
	}
	ch := new(wire.ClientHello)
	if err := ch.Unmarshal(msg); err != nil {
		return nil, err
	}
	if !slices.Contains(ch.SupportedVersions, wire.VersionTLS13) {
		// RFC 8446 §4.2.1: no TLS 1.2 fallback here.
		return nil, alert.Errorf(alert.ProtocolVersion, "client does not offer TLS 1.3")
	}
	// RFC 8446 §4.1.2: exactly one compression method, null.
	if !bytes.Equal(ch.CompressionMethods, []byte{0}) {
		return nil, alert.Errorf(alert.IllegalParameter, "legacy_compression_methods other than null")
	}
	hs.hello = ch
	return msg, nil
}

// negotiate picks suite, group, certificate and ALPN protocol from the
// ClientHello (RFC 8446 §4.1.1).
func (hs *serverHS) negotiate() error {
	c, ch := hs.c, hs.hello
	suites := c.cfg.cipherSuites(serverSuites)
	if c.cfg.ClientAuth != NoClientCert {
		// Checked before anything is sent.
		if c.st.caErr != nil {
			return c.st.caErr
		}
		hs.caExt, hs.sendCAs = c.st.caExt, c.st.sendCAs
	}
	for _, s := range suites {
		if slices.Contains(ch.CipherSuites, s) {
			c.suite = record.SuiteByID(s)
			break
		}
	}
	if c.suite == nil {
		return alert.Errorf(alert.HandshakeFailure, "no cipher suite in common")
	}
	// RFC 8446 §9.2: a ClientHello without pre_shared_key must carry
	// signature_algorithms, supported_groups and key_share. With one,
	// signature_algorithms may be absent; the other two we still need,
	// as we resume only with psk_dhe_ke.
	if (ch.SignatureAlgorithms == nil && ch.PreSharedKey == nil) || ch.SupportedGroups == nil || !ch.HasKeyShare {
		return alert.Errorf(alert.MissingExtension, "ClientHello without signature_algorithms, supported_groups or key_share")
	}
	for _, ks := range ch.KeyShares {
		// RFC 8446 §4.2.8: each share must be for a group offered.
		if !slices.Contains(ch.SupportedGroups, ks.Group) {
			return alert.Errorf(alert.IllegalParameter, "key share for group %#04x not in supported_groups", ks.Group)
		}
	}
	if err := hs.chooseGroup(); err != nil {
		return err
	}
	if len(c.cfg.NextProtos) > 0 && ch.ALPN != nil {
		for _, p := range c.cfg.NextProtos {
			if slices.Contains(ch.ALPN, p) {
				c.state.NegotiatedProtocol = p
				break
			}
		}
		if c.state.NegotiatedProtocol == "" {
			// RFC 7301 §3.2.
			return alert.Errorf(alert.NoApplicationProtocol, "no ALPN protocol in common")
		}
	}
	c.state.ServerName = ch.ServerName
	return nil
}

// chooseGroup takes the first of our groups the client has a share for;
// failing that, the first it supports, to be asked for in a
// HelloRetryRequest (hs.share stays nil).
func (hs *serverHS) chooseGroup() error {
	ch := hs.hello
	for _, g := range hs.curves {
		for _, ks := range ch.KeyShares {
			if ks.Group == uint16(g) {
				hs.group, hs.share = g, ks.Data
				return nil
			}
		}
	}
	for _, g := range hs.curves {
		if slices.Contains(ch.SupportedGroups, uint16(g)) {
			hs.group = g
			return nil
		}
	}
	return alert.Errorf(alert.HandshakeFailure, "no key exchange group in common")
}

// chooseCertificate takes the first of our credentials of a type the client
// accepts (RFC 7250 §4.2: server_certificate_type, X.509 without it) whose
// key signs with a scheme the client offered, and chooses the type of the
// client's credential.
func (hs *serverHS) chooseCertificate() error {
	ch := hs.hello
	accepts := func(t uint8) bool {
		if ch.ServerCertTypes == nil {
			return t == wire.CertTypeX509
		}
		return slices.Contains(ch.ServerCertTypes, t)
	}
	common := false
	certs, err := hs.serverCandidates()
	if err != nil {
		return err
	}
	if types := hs.c.cfg.CertificateTypes; len(types) > 0 {
		// Our preference among the types first, the order of the
		// credentials within a type.
		var ordered []*Certificate
		for _, t := range types {
			for _, cert := range certs {
				if cert.certType() == uint8(t) {
					ordered = append(ordered, cert)
				}
			}
		}
		certs = ordered
	}
	issuerMiss := false
	for _, cert := range certs {
		if cert.PrivateKey == nil || !accepts(cert.certType()) {
			continue
		}
		common = true
		if !cert.issuerListed(ch.CertificateAuthorities) {
			issuerMiss = true
			continue
		}
		if s, ok := signingScheme(cert, ch.SignatureAlgorithms); ok {
			hs.cert, hs.scheme, hs.serverCertType = cert, s, cert.certType()
			hs.chooseClientCertType()
			return nil
		}
	}
	if !common && ch.ServerCertTypes != nil {
		// RFC 7250 §4.2: no certificate type in common.
		return alert.Errorf(alert.UnsupportedCertificate, "no credential of a type in the client's server_certificate_type")
	}
	if issuerMiss {
		return alert.Errorf(alert.HandshakeFailure, "no credential the client's signature algorithms and certificate_authorities allow")
	}
	return alert.Errorf(alert.HandshakeFailure, "no certificate for the client's signature algorithms")
}

// chooseClientCertType answers the client's certificate type extensions
// (RFC 7250 §4.2): server_certificate_type whenever the client sent it;
// client_certificate_type when we ask for a certificate and one of the
// client's types is one we accept: the first of ours (PeerCertificateTypes,
// our preference) that the client lists. Else it is left out and the
// client's credential is X.509, refused by a server that does not accept
// X.509.
func (hs *serverHS) chooseClientCertType() {
	ch, cfg := hs.hello, hs.c.cfg
	if ch.ServerCertTypes != nil {
		hs.certTypeExts = append(hs.certTypeExts, wire.NewSelectedCertTypeExtension(hs.serverCertType, true))
	}
	if ch.ClientCertTypes == nil || cfg.ClientAuth == NoClientCert {
		return
	}
	for _, t := range hs.c.st.peerTypes {
		if slices.Contains(ch.ClientCertTypes, t) {
			hs.clientCertType = t
			hs.certTypeExts = append(hs.certTypeExts, wire.NewSelectedCertTypeExtension(t, false))
			return
		}
	}
}

// sendCCS sends the compatibility change_cipher_spec once, after the first
// ServerHello or HelloRetryRequest, when the client sent a session ID (RFC
// 8446 §D.4).
func (hs *serverHS) sendCCS() error {
	if hs.sentCCS || len(hs.hello.SessionID) == 0 {
		return nil
	}
	hs.sentCCS = true
	return hs.c.rc.WriteRecord(record.TypeChangeCipherSpec, []byte{1})
}

// retry sends a HelloRetryRequest with a cookie and reads the second
// ClientHello (RFC 8446 §4.1.4), which it returns, not yet in the
// transcript.
func (hs *serverHS) retry(ch1 []byte) ([]byte, error) {
	c := hs.c
	hs.tr.Add(ch1)
	hs.tr.SetHash(c.suite.Hash)
	hs.tr.ReplaceWithMessageHash()
	hs.cookie = make([]byte, cookieLen)
	if _, err := io.ReadFull(c.cfg.rand(), hs.cookie); err != nil {
		return nil, err
	}
	hrr := wire.ServerHello{
		LegacyVersion: record.LegacyVersion,
		Random:        wire.HelloRetryRequestRandom,
		SessionIDEcho: hs.hello.SessionID,
		CipherSuite:   c.suite.ID,
		Extensions: []wire.Extension{
			wire.NewServerSupportedVersionsExtension(wire.VersionTLS13),
			wire.NewHRRKeyShareExtension(uint16(hs.group)),
			wire.NewCookieExtension(hs.cookie),
		},
	}
	b := hrr.Marshal()
	hs.tr.Add(b)
	if err := c.rc.WriteRecord(record.TypeHandshake, b); err != nil {
		return nil, err
	}
	if err := hs.sendCCS(); err != nil {
		return nil, err
	}
	c.state.HelloRetried = true
	first := hs.hello
	usable := hs.usablePSKs()
	msg, err := hs.readClientHello()
	if err != nil {
		return nil, err
	}
	ch := hs.hello
	// RFC 8446 §4.1.2: the second ClientHello answers the request: our
	// cookie back, one share for the group asked for, and otherwise the
	// same offer.
	if !bytes.Equal(ch.Cookie, hs.cookie) {
		return nil, alert.Errorf(alert.IllegalParameter, "second ClientHello without our cookie")
	}
	if len(ch.KeyShares) != 1 || ch.KeyShares[0].Group != uint16(hs.group) {
		return nil, alert.Errorf(alert.IllegalParameter, "second ClientHello without a single %v share", hs.group)
	}
	if !bytes.Equal(ch.SessionID, first.SessionID) || !slices.Equal(ch.CipherSuites, first.CipherSuites) ||
		!slices.Equal(ch.SupportedGroups, first.SupportedGroups) {
		return nil, alert.Errorf(alert.IllegalParameter, "second ClientHello changes the offer")
	}
	if ch.ServerName != first.ServerName || !bytes.Equal(ch.PSKModes, first.PSKModes) {
		return nil, alert.Errorf(alert.IllegalParameter, "second ClientHello changes the offer")
	}
	if err := checkSecondPSKs(first.PreSharedKey, ch.PreSharedKey, usable); err != nil {
		return nil, err
	}
	if ch.EarlyData {
		return nil, alert.Errorf(alert.IllegalParameter, "early_data after HelloRetryRequest")
	}
	hs.share = ch.KeyShares[0].Data
	return msg, nil
}

func (hs *serverHS) sendServerHello() error {
	c := hs.c
	share, shared, err := serverKeyExchange(hs.group, c.cfg.rand(), hs.share)
	if err != nil {
		return err
	}
	defer clear(shared)
	sh := wire.ServerHello{
		LegacyVersion: record.LegacyVersion,
		SessionIDEcho: hs.hello.SessionID,
		CipherSuite:   c.suite.ID,
		Extensions: []wire.Extension{
			wire.NewServerSupportedVersionsExtension(wire.VersionTLS13),
			wire.NewServerKeyShareExtension(wire.KeyShare{Group: uint16(hs.group), Data: share}),
		},
	}
	if hs.psk != nil {
		sh.Extensions = append(sh.Extensions, wire.NewServerPreSharedKeyExtension(uint16(hs.pskIndex)))
	}
	if _, err := io.ReadFull(c.cfg.rand(), sh.Random[:]); err != nil {
		return err
	}
	b := sh.Marshal()
	hs.tr.Add(b)
	if err := c.rc.WriteRecord(record.TypeHandshake, b); err != nil {
		return err
	}
	if err := hs.sendCCS(); err != nil {
		return err
	}
	c.state.Version = wire.VersionTLS13
	c.state.CipherSuite = c.suite.ID
	c.state.Group = hs.group

	hs.sched = keysched.New(c.suite.Hash, hs.psk)
	hs.sched.Handshake(shared)
	th := hs.tr.Sum()
	c.setWriteSecret(hs.sched.Derive(keysched.LabelServerHandshake, th))
	return c.setReadSecret(hs.sched.Derive(keysched.LabelClientHandshake, th))
}

func (hs *serverHS) writeMessage(b []byte) error {
	if edit := hs.c.cfg.editMessage; edit != nil {
		if b = edit(b); b == nil {
			return nil
		}
	}
	hs.tr.Add(b)
	return hs.c.rc.WriteRecord(record.TypeHandshake, b)
}

// sendServerFlight sends EncryptedExtensions, CertificateRequest,
// Certificate, CertificateVerify and Finished (RFC 8446 §4.3, §4.4), then
// switches the write side to the application keys.
func (hs *serverHS) sendServerFlight() error {
	c := hs.c
	ee := wire.EncryptedExtensions{Extensions: []wire.Extension{}}
	if p := c.state.NegotiatedProtocol; p != "" {
		ee.Extensions = append(ee.Extensions, wire.NewALPNExtension([]string{p}))
	}
	ee.Extensions = append(ee.Extensions, hs.certTypeExts...)
	if v := hs.hello.RecordSizeLimit; v != 0 {
		// RFC 8449 §4: answered only when offered; the client's limit
		// binds our records from EncryptedExtensions on.
		ee.Extensions = append(ee.Extensions, wire.NewRecordSizeLimitExtension(c.st.recordLimit))
		if err := c.applyRecordLimits(v); err != nil {
			return err
		}
	}
	if err := hs.writeMessage(ee.Marshal()); err != nil {
		return err
	}
	if hs.psk == nil {
		if err := hs.sendServerAuth(); err != nil {
			return err
		}
	}
	mac := keysched.FinishedMAC(c.suite.Hash, keysched.FinishedKey(c.suite.Hash, c.outSec), hs.tr.Sum())
	if err := hs.writeMessage((&wire.Finished{VerifyData: mac}).Marshal()); err != nil {
		return err
	}
	hs.sched.Master()
	th := hs.tr.Sum()
	c.setWriteSecret(hs.sched.Derive(keysched.LabelServerAppTraffic, th))
	hs.clientApp = hs.sched.Derive(keysched.LabelClientAppTraffic, th)
	c.expMaster = hs.sched.Derive(keysched.LabelExporterMaster, th)
	return nil
}

// sendServerAuth sends CertificateRequest (when client certificates are
// asked for), Certificate and CertificateVerify (RFC 8446 §4.3.2, §4.4.2,
// §4.4.3); a PSK handshake sends none of them.
func (hs *serverHS) sendServerAuth() error {
	c := hs.c
	if c.cfg.ClientAuth != NoClientCert {
		cr := wire.CertificateRequest{Context: []byte{}, Extensions: append([]wire.Extension{
			hs.sigExt,
		}, c.cfg.clientNameRequest()...)}
		if hs.sendCAs {
			cr.Extensions = append(cr.Extensions, hs.caExt)
		}
		if err := hs.writeMessage(cr.Marshal()); err != nil {
			return err
		}
	}
	entries, err := certificateEntries(hs.cert)
	if err != nil {
		return err
	}
	cm := wire.Certificate{Context: []byte{}, Entries: entries}
	if err := hs.writeMessage(cm.Marshal()); err != nil {
		return err
	}
	sig, err := sigalg.Sign(c.cfg.rand(), hs.cert.PrivateKey, hs.scheme, sigalg.ServerContext, hs.tr.Sum())
	if err != nil {
		return &alert.Error{Alert: alert.InternalError, Reason: "signing CertificateVerify", Err: err}
	}
	if err := hs.writeMessage((&wire.CertificateVerify{Algorithm: hs.scheme, Signature: sig}).Marshal()); err != nil {
		return err
	}
	return nil
}

// readClientFlight reads the client's Certificate and CertificateVerify,
// when asked for, and its Finished (RFC 8446 §4.4).
func (hs *serverHS) readClientFlight() error {
	c := hs.c
	if c.cfg.ClientAuth != NoClientCert && hs.psk == nil {
		msg, err := hs.next(wire.TypeCertificate)
		if err != nil {
			return err
		}
		m := wire.Certificate{DANEClientIDType: c.cfg.clientIDType()}
		if err := m.Unmarshal(msg); err != nil {
			return err
		}
		if len(m.Context) != 0 {
			return alert.Errorf(alert.IllegalParameter, "client Certificate context differs from the request's")
		}
		hs.tr.Add(msg)
		if len(m.Entries) == 0 {
			if c.cfg.ClientAuth == RequireClientCert {
				// RFC 8446 §4.4.2.4.
				return alert.Errorf(alert.CertificateRequired, "client sent no certificate")
			}
		} else {
			if err := c.acceptPeerCertType(hs.clientCertType); err != nil {
				return err
			}
			raw := hs.clientCertType == wire.CertTypeRawPublicKey
			if err := hs.readClientName(&m, raw); err != nil {
				return err
			}
			var pub crypto.PublicKey
			var chain []*x509.Certificate
			if raw {
				spki, key, err := parseRawPublicKey(&m)
				if err != nil {
					return err
				}
				pub = key
				c.state.PeerRawPublicKey = spki
			} else {
				chain = make([]*x509.Certificate, len(m.Entries))
				for i, e := range m.Entries {
					cert, err := x509.ParseCertificate(e.Data)
					if err != nil {
						return &alert.Error{Alert: alert.BadCertificate, Reason: "client certificate", Err: err}
					}
					chain[i] = cert
				}
				path, err := c.verifyChain(chain)
				if err != nil {
					return err
				}
				if path != nil && !c.cfg.SessionTicketsDisabled {
					ders := make([][]byte, len(m.Entries))
					for i, e := range m.Entries {
						ders[i] = e.Data
					}
					c.st.chains.put(chainKey(ders), chain, path, c.cfg.ClientCAs)
				}
				pub = chain[0].PublicKey
			}
			if msg, err = hs.next(wire.TypeCertificateVerify); err != nil {
				return err
			}
			var cv wire.CertificateVerify
			if err := cv.Unmarshal(msg); err != nil {
				return err
			}
			if err := sigalg.Verify(pub, cv.Algorithm, hs.sigs, sigalg.ClientContext, hs.tr.Sum(), cv.Signature); err != nil {
				return err
			}
			c.state.PeerSignatureScheme = cv.Algorithm
			hs.tr.Add(msg)
			c.state.PeerCertificates = chain
		}
	}
	if err := c.verifyConnection(); err != nil {
		return err
	}
	msg, err := hs.next(wire.TypeFinished)
	if err != nil {
		return err
	}
	var fin wire.Finished
	if err := fin.Unmarshal(msg, c.suite.Hash.Size()); err != nil {
		return err
	}
	if !keysched.VerifyFinished(c.suite.Hash, c.inSec, hs.tr.Sum(), fin.VerifyData) {
		return alert.Errorf(alert.DecryptError, "client Finished does not verify")
	}
	hs.tr.Add(msg)
	if err := c.setReadSecret(hs.clientApp); err != nil {
		return err
	}
	if c.cfg.SessionTicketsDisabled {
		return nil
	}
	// RFC 8446 §7.1: the resumption master secret covers the client's
	// Finished; the ticket follows it (§4.6.1).
	resMaster := hs.sched.Derive(keysched.LabelResumptionMaster, hs.tr.Sum())
	defer clear(resMaster)
	return hs.issueTicket(resMaster)
}

func (hs *serverHS) next(want wire.HandshakeType) ([]byte, error) {
	msg, err := hs.c.readHandshake()
	if err != nil {
		return nil, err
	}
	if wire.HandshakeType(msg[0]) != want {
		return nil, alert.Errorf(alert.UnexpectedMessage, "%v where %v was expected", wire.HandshakeType(msg[0]), want)
	}
	return msg, nil
}
