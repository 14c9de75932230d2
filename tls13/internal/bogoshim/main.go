// Command bogoshim drives the tls13 engine for BoringSSL's conformance
// runner (BoGo, ssl/test/runner): the runner starts it once per test with
// flags from ssl/test/test_config.cc, and the shim connects back to the
// runner, writes its shim ID, runs one TLS 1.3 handshake as client or
// server and then the test's traffic.
//
// The traffic, as the runner expects it: after the handshake, with
// -shim-writes-first the shim writes "hello"; with -key-update it sends a
// KeyUpdate; then it echoes every byte it reads, each XORed with 0xff,
// until the runner's close_notify. With -shim-shuts-down it sends
// close_notify instead and, with -check-close-notify, waits for the
// runner's.
//
// Exit status: 0 when the test's exchange succeeded, 1 with the error on
// standard error when it failed, 89 (exitUnimplemented) when a flag or a
// feature is not implemented: the runner then counts the test as
// unimplemented. TLS 1.2 and older are not implemented, so a handshake the
// runner's peer takes below TLS 1.3 also ends with 89, unless the flags
// asked for TLS 1.3 only (-min-version 772), where refusing is the test's
// point.
//
// scripts/bogo builds it and runs the runner with tls13/testdata/bogo-config.json.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dnsbound/dance/tls13"
)

// Exit statuses the runner reads (ssl/test/PORTING.md).
const (
	exitOK            = 0
	exitFailed        = 1
	exitUnimplemented = 89
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, false)
	if err != nil {
		fmt.Fprintln(stderr, "bogoshim:", err)
		if errors.Is(err, errUnimplemented) {
			return exitUnimplemented
		}
		return exitFailed
	}
	if o.handshakerAsk {
		// Split handshakes (BoringSSL's handshaker) do not exist here.
		fmt.Fprintln(stdout, "No")
		return exitOK
	}
	resumed, err := parseFlags(args, true)
	if err == nil {
		err = connectAll(o, resumed)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bogoshim:", err)
		if errors.Is(err, errUnimplemented) {
			return exitUnimplemented
		}
		return exitFailed
	}
	return exitOK
}

// connectAll makes the first connection with the flags of initial, then
// -resume-count more with those of resumed, each expected to resume the
// session of the one before (BoringSSL's shim's -resume-count) unless
// -expect-session-miss. One Config serves them all, so a server opens the
// tickets it issued and a client finds the tickets it kept.
func connectAll(initial, resumed *options) error {
	cfg, err := initial.config()
	if err != nil {
		return err
	}
	// A client keeps tickets, as BoringSSL's does unless -no-ticket, so
	// it offers psk_key_exchange_modes and the runner sends tickets.
	var cache tls13.ClientSessionCache
	if !initial.server {
		cache = tls13.NewLRUClientSessionCache(4)
	}
	o := initial
	// The shim's clock: with -resumption-delay, as BoringSSL's shim's
	// mock clock, it stands still and moves ahead by the delay before
	// each resumption, so the ticket age the runner checks is exact.
	var ahead time.Duration
	// It starts on a whole second, as the ticket's issue time is kept
	// to the second: the ages both sides count then agree exactly.
	start := time.Now().Truncate(time.Second)
	clock := func() time.Time {
		if initial.resumptionDelay == 0 {
			return time.Now()
		}
		return start.Add(ahead)
	}
	cfg.Time = clock
	if initial.ticketKey != nil {
		// BoringSSL's ticket key is 48 octets (name, HMAC and AES
		// keys) for its own ticket format; the engine's are 32-octet
		// secrets, so the flag's value is hashed to one.
		if err := cfg.SetSessionTicketKeys([][32]byte{sha256.Sum256(initial.ticketKey)}); err != nil {
			return err
		}
	}
	for i := 0; i <= initial.resumeCount; i++ {
		if i > 0 {
			// A resumed session keeps the verification result of
			// the connection that made it.
			resumed.verifyErr = o.verifyErr
			o = resumed
			next, err := o.config()
			if err != nil {
				return err
			}
			*cfg = *next
			cfg.Time = clock
			ahead += time.Duration(o.resumptionDelay) * time.Second
		}
		if !o.noTicket {
			cfg.ClientSessionCache = cache
		}
		cfg.SessionTicketsDisabled = o.noTicket
		if err := o.connect(cfg, i > 0); err != nil {
			return err
		}
	}
	return nil
}

// config builds the engine's Config from the flags.
func (o *options) config() (*tls13.Config, error) {
	cfg := &tls13.Config{ServerName: o.hostName, SignatureSchemes: o.verifyPrefs, MaxSendFragment: o.maxSendFragment}
	// As BoringSSL: the -new-*-credential ones in order, then the legacy
	// one (-cert-file/-key-file before any -new-*-credential). Each key
	// records its use, for -expect-selected-credential.
	var ordered []credential
	var indexes []int
	for i, cr := range o.certs {
		if !cr.legacy {
			ordered = append(ordered, cr)
			indexes = append(indexes, i-boolInt(o.certs[0].legacy))
		}
	}
	if len(o.certs) > 0 && o.certs[0].legacy {
		ordered = append(ordered, o.certs[0])
		indexes = append(indexes, -1)
	}
	for i, cr := range ordered {
		var c tls13.Certificate
		switch {
		case cr.rpk && cr.keyFile != "" && cr.certFile == "":
			key, err := loadKey(cr.keyFile)
			if err != nil {
				return nil, err
			}
			// A Certificate without a chain is a raw public key.
			c = tls13.Certificate{PrivateKey: key}
		case cr.certFile == "" || cr.keyFile == "" || cr.rpk:
			return nil, fmt.Errorf("%w: credential without both -cert-file and -key-file", errUnimplemented)
		default:
			var err error
			if c, err = loadCredential(cr); err != nil {
				return nil, err
			}
		}
		c.SignatureSchemes = cr.signingPrefs
		c.MatchIssuers = cr.mustMatchIssuer
		c.PrivateKey = &recordingSigner{Signer: c.PrivateKey, index: indexes[i], used: &o.selectedCred}
		cfg.Certificates = append(cfg.Certificates, c)
	}
	var roots *x509.CertPool
	if o.trust != "" {
		certs, err := readCerts(o.trust)
		if err != nil {
			return nil, err
		}
		roots = x509.NewCertPool()
		for _, c := range certs {
			roots.AddCert(c)
		}
	}
	// As BoringSSL's shim: the chain is verified against -trust-cert (the
	// name is never checked), or refused by -verify-fail, and the outcome
	// is recorded for -expect-verify-result; only with -verify-peer does a
	// failure end the handshake (otherwise it is a soft failure).
	cfg.VerifyPeer = func(chain []*x509.Certificate) error {
		var err error
		switch {
		case o.verifyFail:
			err = errors.New("certificate refused by -verify-fail")
		case roots != nil:
			inter := x509.NewCertPool()
			for _, c := range chain[1:] {
				inter.AddCert(c)
			}
			_, err = chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		}
		o.verifyErr = err
		if !o.verifyPeer {
			return nil
		}
		return err
	}
	if o.server {
		if o.requireClientCert {
			cfg.ClientAuth = tls13.RequireClientCert
		} else if o.verifyPeer {
			cfg.ClientAuth = tls13.RequestClientCert
		}
		if o.selectALPN != "" && !o.declineALPN {
			cfg.NextProtos = []string{o.selectALPN}
		}
		if o.rejectALPN {
			// A protocol no runner offers: no protocol in common.
			cfg.NextProtos = []string{rejectALPNProto}
		}
		switch o.useCAList {
		case "", "<NULL>", "<EMPTY>":
		default:
			for _, h := range strings.Split(o.useCAList, ",") {
				der, err := hex.DecodeString(h)
				if err != nil {
					return nil, fmt.Errorf("-use-client-ca-list: %w", err)
				}
				cfg.ClientCANames = append(cfg.ClientCANames, der)
			}
		}
		if o.expectPeerVerifyPrefs != nil || o.expectAdvertisedALPN != "" || o.failCertCallback {
			// As BoringSSL's certificate callback: it sees the
			// client's signature_algorithms and ALPN list, or fails;
			// nil falls back to Certificates.
			cfg.GetCertificate = func(info *tls13.ClientHelloInfo) (*tls13.Certificate, error) {
				if o.failCertCallback {
					return nil, errors.New("-fail-cert-callback")
				}
				if o.expectAdvertisedALPN != "" {
					var wireForm string
					for _, p := range info.SupportedProtos {
						wireForm += string([]byte{byte(len(p))}) + p
					}
					if wireForm != o.expectAdvertisedALPN {
						return nil, fmt.Errorf("client ALPN %q, expected %q", info.SupportedProtos, o.expectAdvertisedALPN)
					}
				}
				return nil, o.checkPeerVerifyPrefs(info.SignatureSchemes)
			}
		}
	} else {
		cfg.NextProtos = o.advertiseALPN
		if o.expectCAList != "" || o.expectPeerVerifyPrefs != nil || o.failCertCallback || o.oldClientCertCallback {
			// The server's certificate_authorities, as the runner
			// lists them (hex DER, comma-separated), and its
			// signature_algorithms reach the callback, which fails
			// with -fail-cert-callback; the credential is the first,
			// as without it.
			certs := cfg.Certificates
			cfg.GetClientCertificate = func(info *tls13.CertificateRequestInfo) (*tls13.Certificate, error) {
				if o.failCertCallback {
					return nil, errors.New("-fail-cert-callback")
				}
				var got []string
				for _, n := range info.CertificateAuthorities {
					got = append(got, hex.EncodeToString(n))
				}
				if o.expectCAList != "" && strings.Join(got, ",") != o.expectCAList {
					return nil, fmt.Errorf("certificate_authorities %q, want %q", strings.Join(got, ","), o.expectCAList)
				}
				if err := o.checkPeerVerifyPrefs(info.SignatureSchemes); err != nil {
					return nil, err
				}
				if len(certs) == 0 {
					return nil, nil
				}
				return &certs[0], nil
			}
		}
	}
	for _, g := range o.curves {
		cfg.CurvePreferences = append(cfg.CurvePreferences, tls13.CurveID(g))
	}
	if o.noKeyShares {
		cfg.KeyShares = []tls13.CurveID{}
	}
	for _, g := range o.keyShares {
		cfg.KeyShares = append(cfg.KeyShares, tls13.CurveID(g))
	}
	if err := o.certTypes(cfg); err != nil {
		return nil, err
	}
	if o.reverifyOnResume && !o.server {
		// As BoringSSL's client with -reverify-on-resume: the custom
		// verification runs again on the chain a resumed session
		// carries (the engine's VerifyConnection runs then; VerifyPeer
		// does not).
		inner := cfg.VerifyConnection
		cfg.VerifyConnection = func(ctx context.Context, st tls13.ConnectionState) error {
			if st.Resumed && st.PeerCertificates != nil {
				if err := cfg.VerifyPeer(st.PeerCertificates); err != nil {
					return err
				}
			}
			if inner != nil {
				return inner(ctx, st)
			}
			return nil
		}
	}
	return cfg, nil
}

// checkPeerVerifyPrefs compares the peer's signature_algorithms with
// -expect-peer-verify-pref, order included.
func (o *options) checkPeerVerifyPrefs(got []uint16) error {
	if o.expectPeerVerifyPrefs != nil && !slices.Equal(got, o.expectPeerVerifyPrefs) {
		return fmt.Errorf("peer signature_algorithms %#04x, expected %#04x", got, o.expectPeerVerifyPrefs)
	}
	return nil
}

// certTypes applies the RFC 7250 flags: -accepted-peer-cert-types is
// Config.PeerCertificateTypes, -available-client-cert-types
// Config.CertificateTypes, each in the runner's order. A raw key is
// authenticated in VerifyConnection, refused with -verify-fail.
func (o *options) certTypes(cfg *tls13.Config) error {
	toTypes := func(flag string, in []int) ([]tls13.CertificateType, error) {
		var out []tls13.CertificateType
		for _, t := range in {
			if t != certTypeX509 && t != certTypeRPK {
				return nil, fmt.Errorf("%w: %s %d", errUnimplemented, flag, t)
			}
			out = append(out, tls13.CertificateType(t))
		}
		return out, nil
	}
	var err error
	if cfg.PeerCertificateTypes, err = toTypes("-accepted-peer-cert-types", o.acceptedPeerTypes); err != nil {
		return err
	}
	if cfg.CertificateTypes, err = toTypes("-available-client-cert-types", o.availableTypes); err != nil {
		return err
	}
	if slices.Contains(o.acceptedPeerTypes, certTypeRPK) {
		cfg.VerifyConnection = func(_ context.Context, st tls13.ConnectionState) error {
			if st.PeerRawPublicKey != nil && o.verifyFail {
				o.verifyErr = errors.New("raw public key refused by -verify-fail")
				if o.verifyPeer || o.requireClientCert || !o.server {
					return o.verifyErr
				}
			}
			return nil
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// recordingSigner notes in *used which credential signed.
type recordingSigner struct {
	crypto.Signer
	index int
	used  *int
}

func (r *recordingSigner) Sign(rnd io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	*r.used = r.index
	return r.Signer.Sign(rnd, digest, opts)
}

// RFC 7250 certificate types.
const (
	certTypeX509 = 0
	certTypeRPK  = 2
)

func loadCredential(cr credential) (tls13.Certificate, error) {
	certs, err := readCerts(cr.certFile)
	if err != nil {
		return tls13.Certificate{}, err
	}
	signer, err := loadKey(cr.keyFile)
	if err != nil {
		return tls13.Certificate{}, err
	}
	c := tls13.Certificate{PrivateKey: signer}
	for _, x := range certs {
		c.Chain = append(c.Chain, x.Raw)
	}
	return c, nil
}

// loadKey reads a PEM private key.
func loadKey(file string) (crypto.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		if strings.Contains(err.Error(), "unknown algorithm") {
			// ML-DSA and other key types the engine cannot sign with.
			return nil, fmt.Errorf("%w: key type in %s: %v", errUnimplemented, file, err)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", file)
	}
	return signer, nil
}

func readCerts(file string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no certificate", file)
	}
	return out, nil
}

// connect dials the runner, sends the shim ID and runs the test.
func (o *options) connect(cfg *tls13.Config, resumption bool) error {
	o.selectedCred = -1
	host := "127.0.0.1"
	if o.ipv6 {
		host = "::1"
	}
	raw, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(o.port)))
	if err != nil {
		return err
	}
	defer raw.Close()
	var id [8]byte
	binary.LittleEndian.PutUint64(id[:], o.shimID)
	if _, err := raw.Write(id[:]); err != nil {
		return err
	}
	counted := &countingConn{Conn: raw}
	var conn *tls13.Conn
	if o.server {
		conn = tls13.Server(counted, cfg)
	} else {
		conn = tls13.Client(counted, cfg)
	}
	if err := o.exchange(conn, counted, resumption); err != nil {
		drain(raw.(*net.TCPConn))
		return o.classify(err, conn.ConnectionState())
	}
	// The exchange decided the test; the runner may already have closed
	// its end, so an error sending our close_notify is no failure.
	conn.Close()
	return nil
}

// classify turns an engine error into the shim's: a peer that negotiates
// below TLS 1.3, or a group the engine lacks, is a feature not
// implemented; everything else is a failure, reported with the engine's
// text (the runner's config maps its error names to those texts).
func (o *options) classify(err error, st tls13.ConnectionState) error {
	msg := err.Error()
	if strings.Contains(msg, "is not implemented") {
		return fmt.Errorf("%w: %v", errUnimplemented, err)
	}
	if o.only13 {
		return err
	}
	if strings.Contains(msg, "did not select TLS 1.3") || strings.Contains(msg, "does not offer TLS 1.3") {
		return fmt.Errorf("%w: TLS 1.2 or older: %v", errUnimplemented, err)
	}
	// A peer that speaks only TLS 1.2 or older answers our ClientHello
	// with protocol_version (RFC 8446 §4.2.1).
	var remote *tls13.RemoteAlertError
	if !o.server && st.Version == 0 && errors.As(err, &remote) && remote.Alert == alertProtocolVersion {
		return fmt.Errorf("%w: peer speaks TLS 1.2 or older: %v", errUnimplemented, err)
	}
	return err
}

// alertProtocolVersion is the protocol_version alert (RFC 8446 §6.2).
const alertProtocolVersion = 70

// drain lets the runner read our alert before the connection goes: it
// half-closes and reads what the runner still sends, for a bounded time.
func drain(c *net.TCPConn) {
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c)
}

// countingConn counts the reads and writes on the transport.
type countingConn struct {
	net.Conn
	ops atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	c.ops.Add(1)
	return c.Conn.Read(b)
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.ops.Add(1)
	return c.Conn.Write(b)
}

// exchange runs the handshake and the test's traffic.
func (o *options) exchange(conn *tls13.Conn, transport *countingConn, resumption bool) error {
	if !o.implicitHandshake {
		if err := conn.Handshake(); err != nil {
			return err
		}
		if o.extraHandshake {
			// A second Handshake is a no-op: no transport I/O.
			before := transport.ops.Load()
			if err := conn.Handshake(); err != nil {
				return err
			}
			if transport.ops.Load() != before {
				return errors.New("the extra handshake read or wrote the transport")
			}
		}
		if err := o.check(conn.ConnectionState(), resumption); err != nil {
			return err
		}
	}
	if o.exportLength > 0 {
		// Written first, as the runner reads it (RFC 8446 §7.5).
		km, err := conn.ExportKeyingMaterial(o.exportLabel, []byte(o.exportContext), o.exportLength)
		if err != nil {
			return err
		}
		if _, err := conn.Write(km); err != nil {
			return err
		}
	}
	if o.shimWritesFirst {
		if _, err := conn.Write([]byte("hello")); err != nil {
			return err
		}
	}
	if o.keyUpdate {
		if err := conn.UpdateKeys(false); err != nil {
			return err
		}
	}
	if o.shimShutsDown {
		return o.shutdown(conn)
	}
	size := o.readSize
	if size == 0 {
		size = 16384
	}
	buf := make([]byte, size)
	checked := !o.implicitHandshake
	for {
		if o.keyUpdateBeforeRd {
			if err := conn.UpdateKeys(false); err != nil {
				return err
			}
		}
		n, err := conn.Read(buf)
		if !checked && conn.ConnectionState().HandshakeComplete {
			if err := o.check(conn.ConnectionState(), resumption); err != nil {
				return err
			}
			checked = true
		}
		if err == io.EOF {
			return nil // close_notify
		}
		if errors.Is(err, io.ErrUnexpectedEOF) && !o.checkCloseNotify && checked {
			return nil // the runner closed without close_notify; tolerated
		}
		if err != nil {
			return err
		}
		for i := range buf[:n] {
			buf[i] ^= 0xff
		}
		if _, err := conn.Write(buf[:n]); err != nil {
			return err
		}
	}
}

// shutdown sends close_notify and, with -check-close-notify, requires the
// runner's: application data or an alert instead is an error.
func (o *options) shutdown(conn *tls13.Conn) error {
	err := conn.CloseWrite()
	if !o.checkCloseNotify {
		// As BoringSSL's SSL_shutdown without waiting: the runner may
		// close its end as soon as it has our close_notify, which can
		// fail the half-close that follows it.
		return nil
	}
	if err != nil {
		return err
	}
	var b [1]byte
	n, err := conn.Read(b[:])
	switch {
	case n > 0:
		return errors.New("APPLICATION_DATA_ON_SHUTDOWN: application data after our close_notify")
	case err == io.EOF:
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("Unexpected SSL_shutdown result: -1 != 1: %w", err)
	}
	return err
}

// check compares the negotiated parameters with the -expect-* flags.
func (o *options) check(st tls13.ConnectionState, resumption bool) error {
	if !resumption && st.Resumed {
		return errors.New("first connection resumed a session")
	}
	if resumption && st.Resumed == o.expectSessionMiss {
		if o.expectSessionMiss {
			return errors.New("session resumed, expected a miss")
		}
		return errors.New("session not resumed")
	}
	if o.expectEMS && st.Version != versionTLS13 {
		return fmt.Errorf("version %#04x: no transcript-bound master secret", st.Version)
	}
	if o.expectVersion != 0 && int(st.Version) != o.expectVersion {
		return fmt.Errorf("version %#04x, expected %#04x", st.Version, o.expectVersion)
	}
	if o.expectServerName != "" && st.ServerName != o.expectServerName {
		return fmt.Errorf("server name %q, expected %q", st.ServerName, o.expectServerName)
	}
	if o.expectNoSNI && st.ServerName != "" {
		return fmt.Errorf("server name %q, expected none", st.ServerName)
	}
	if o.expectALPN != "" && st.NegotiatedProtocol != o.expectALPN {
		return fmt.Errorf("ALPN protocol %q, expected %q", st.NegotiatedProtocol, o.expectALPN)
	}
	if o.server && o.selectALPN != "" && !o.declineALPN && st.NegotiatedProtocol != o.selectALPN {
		return fmt.Errorf("ALPN protocol %q, selected %q", st.NegotiatedProtocol, o.selectALPN)
	}
	if o.declineALPN && st.NegotiatedProtocol != "" {
		return fmt.Errorf("ALPN protocol %q after declining", st.NegotiatedProtocol)
	}
	if o.expectCurve != 0 && int(st.Group) != o.expectCurve {
		return fmt.Errorf("group %v, expected %d", st.Group, o.expectCurve)
	}
	if o.expectHRR && !st.HelloRetried {
		return errors.New("no HelloRetryRequest, expected one")
	}
	if o.expectNoHRR && st.HelloRetried {
		return errors.New("HelloRetryRequest, expected none")
	}
	if o.expectTicketAgeSkew != nil && st.Resumed && int(st.TicketAgeSkew/time.Second) != *o.expectTicketAgeSkew {
		return fmt.Errorf("ticket age skew %v, expected %ds", st.TicketAgeSkew, *o.expectTicketAgeSkew)
	}
	// A resumed handshake has no CertificateVerify to check.
	if o.expectPeerSig != 0 && !st.Resumed && int(st.PeerSignatureScheme) != o.expectPeerSig {
		return fmt.Errorf("peer signature scheme %#04x, expected %#04x", st.PeerSignatureScheme, o.expectPeerSig)
	}
	if o.expectVerifyResult && (o.verifyErr != nil) != o.verifyFail {
		return fmt.Errorf("verification result %v, expected it to fail: %v", o.verifyErr, o.verifyFail)
	}
	if o.expectSelectedCred != nil && !st.Resumed && o.selectedCred != *o.expectSelectedCred {
		return fmt.Errorf("credential %d signed, expected %d", o.selectedCred, *o.expectSelectedCred)
	}
	if o.expectPeerCertType != 0 || o.expectPeerRPK != nil {
		typ := certTypeX509
		if st.PeerRawPublicKey != nil {
			typ = certTypeRPK
		}
		if o.expectPeerCertType != 0 && typ != o.expectPeerCertType {
			return fmt.Errorf("peer certificate type %d, expected %d", typ, o.expectPeerCertType)
		}
		if sum := sha256.Sum256(st.PeerRawPublicKey); o.expectPeerRPK != nil && !bytes.Equal(sum[:], o.expectPeerRPK) {
			return errors.New("peer raw public key differs from -expect-peer-rpk-sha256")
		}
	}
	if o.expectPeerCert != "" {
		want, err := readCerts(o.expectPeerCert)
		if err != nil {
			return err
		}
		if !slices.EqualFunc(want, st.PeerCertificates, func(a, b *x509.Certificate) bool { return bytes.Equal(a.Raw, b.Raw) }) {
			return errors.New("peer chain differs from -expect-peer-cert-file")
		}
	}
	return nil
}

// rejectALPNProto is the protocol a server given -reject-alpn accepts: one
// no runner offers.
const rejectALPNProto = "bogoshim-accepts-no-runner-protocol"
