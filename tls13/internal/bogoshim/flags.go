package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dnsbound/dance/tls13"
)

// versionTLS13 is TLS 1.3's protocol version as the runner passes it in
// -min-version, -max-version and -expect-version (RFC 8446 §4.2.1).
const versionTLS13 = 0x0304

// errUnimplemented marks a flag or feature the shim does not implement;
// main exits with exitUnimplemented for it.
var errUnimplemented = errors.New("unimplemented")

// options are the runner's flags the shim understands (the names and
// meanings are those of BoringSSL's ssl/test/test_config.cc).
type options struct {
	port   int
	ipv6   bool
	shimID uint64

	server        bool
	only13        bool // -min-version 772 or -no-tls12: TLS 1.3 only, as the engine is
	handshakerAsk bool // -is-handshaker-supported

	certs []credential // -cert-file/-key-file, one per -new-x509-credential
	// verifyPrefs (-verify-prefs) are the signature schemes offered and
	// accepted (Config.SignatureSchemes); empty: the engine's.
	verifyPrefs []tls13.SignatureScheme
	trust       string // -trust-cert
	curves      []uint16
	hostName    string

	requireClientCert bool
	verifyPeer        bool
	verifyFail        bool
	// expectVerifyResult: the recorded verification outcome must be a
	// success, or a failure with -verify-fail.
	expectVerifyResult bool
	verifyErr          error // outcome of the last chain verification

	expectVersion    int
	expectServerName string
	expectNoSNI      bool
	expectALPN       string
	expectCurve      int
	expectHRR        bool
	expectNoHRR      bool
	expectPeerCert   string
	expectPeerSig    int    // -expect-peer-signature-algorithm
	expectCAList     string // -expect-client-ca-list: hex DER names, comma-separated
	// useCAList is -use-client-ca-list: the names a server sends in
	// certificate_authorities (Config.ClientCANames); "<NULL>" and
	// "<EMPTY>" send none.
	useCAList string
	// keyShares (-key-shares) are the groups a client sends key shares
	// for (Config.KeyShares); noKeyShares (-no-key-shares) sends none.
	keyShares   []uint16
	noKeyShares bool
	// expectPeerVerifyPrefs (-expect-peer-verify-pref) are the peer's
	// signature_algorithms, in its order, as the credential callbacks see
	// them.
	expectPeerVerifyPrefs []uint16
	// expectAdvertisedALPN (-expect-advertised-alpn) is the client's
	// ALPN list, in the wire form, as GetCertificate sees it.
	expectAdvertisedALPN string
	// failCertCallback (-fail-cert-callback): the credential callback
	// fails.
	failCertCallback bool
	// oldClientCertCallback (-use-old-client-cert-callback): the client
	// credential comes from GetClientCertificate.
	oldClientCertCallback bool
	// reverifyOnResume (-reverify-on-resume): a resumed client checks
	// the original chain again, in VerifyConnection.
	reverifyOnResume bool
	// resumptionDelay (-resumption-delay) is how many seconds the
	// shim's clock (Config.Time) moves ahead before each resumption.
	resumptionDelay int
	// expectEMS (-expect-extended-master-secret): the session's secrets
	// cover the handshake transcript, which in TLS 1.3 they always do.
	expectEMS bool

	// RFC 7250 certificate types (0 X.509, 2 RawPublicKey).
	acceptedPeerTypes  []int  // -accepted-peer-cert-types, in order
	availableTypes     []int  // -available-client-cert-types, in order
	expectPeerCertType int    // -expect-peer-certificate-type
	expectPeerRPK      []byte // -expect-peer-rpk-sha256

	// expectSelectedCred is -expect-selected-credential: the index of
	// the credential we signed with among the -new-*-credential ones, -1
	// for the legacy one; nil: not checked. selectedCred is the one
	// signed with in this connection (-1: legacy or none).
	expectSelectedCred *int

	exportLength  int    // -export-keying-material: octets to export and write
	exportLabel   string // -export-label
	exportContext string // -export-context
	selectedCred  int

	advertiseALPN []string
	selectALPN    string
	declineALPN   bool
	// rejectALPN (-reject-alpn): the server accepts none of the client's
	// protocols (no_application_protocol, RFC 7301 §3.2).
	rejectALPN bool

	// maxSendFragment (-max-send-fragment) caps the content of the
	// records we send (Config.MaxSendFragment).
	maxSendFragment int
	// expectTicketAgeSkew (-expect-ticket-age-skew) is the skew in whole
	// seconds a resuming server reports (ConnectionState.TicketAgeSkew).
	expectTicketAgeSkew *int
	// ticketKey (-ticket-key) is the secret a server's ticket key comes
	// from (Config.SetSessionTicketKeys).
	ticketKey []byte

	shimWritesFirst   bool
	shimShutsDown     bool
	checkCloseNotify  bool
	keyUpdate         bool
	keyUpdateBeforeRd bool
	implicitHandshake bool
	extraHandshake    bool
	readSize          int

	resumeCount       int  // connections after the first, each resuming
	noTicket          bool // no tickets: a server issues none, a client keeps none
	expectSessionMiss bool // a resumption connection must not resume
}

// credential is one certificate chain and key, from PEM files.
type credential struct {
	certFile, keyFile string
	rpk               bool // -new-rpk-credential: a raw public key (RFC 7250), key only
	legacy            bool // set by -cert-file/-key-file before any -new-*-credential
	// signingPrefs (-signing-prefs) are the schemes the credential signs
	// with (Certificate.SignatureSchemes); empty: any its key fits.
	signingPrefs []tls13.SignatureScheme
	// mustMatchIssuer (-must-match-issuer): sent only to a peer whose
	// certificate_authorities lists an issuer of the chain
	// (Certificate.MatchIssuers).
	mustMatchIssuer bool
}

// flagSpec says whether a flag takes a value and how it is applied. A nil
// set means the flag is accepted and has no effect on a TLS 1.3-only
// engine (each such entry says why).
type flagSpec struct {
	param bool
	set   func(o *options, v string) error
}

// schemeFlag appends a signature scheme to the list f returns. A scheme
// the engine does not sign or verify CertificateVerify with (rsa_pkcs1_*,
// ecdsa_sha1, ecdsa_secp521r1_sha512, ML-DSA, ...) is unimplemented: the
// engine refuses it in a Config.
func schemeFlag(f func(o *options) *[]tls13.SignatureScheme) flagSpec {
	return intFlag(func(o *options, v int) error {
		if v < 0 || v > 0xffff {
			return fmt.Errorf("bad signature scheme %d", v)
		}
		s := tls13.SignatureScheme(v)
		switch s {
		case tls13.ECDSAWithP256AndSHA256, tls13.ECDSAWithP384AndSHA384, tls13.Ed25519,
			tls13.PSSWithSHA256, tls13.PSSWithSHA384, tls13.PSSWithSHA512:
		default:
			return errUnimplemented
		}
		list := f(o)
		*list = append(*list, s)
		return nil
	})
}

func boolFlag(f func(o *options)) flagSpec {
	return flagSpec{set: func(o *options, _ string) error { f(o); return nil }}
}

func strFlag(f func(o *options, v string)) flagSpec {
	return flagSpec{param: true, set: func(o *options, v string) error { f(o, v); return nil }}
}

func intFlag(f func(o *options, v int) error) flagSpec {
	return flagSpec{param: true, set: func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("bad integer %q", v)
		}
		return f(o, n)
	}}
}

// flags are the runner's flags the shim implements. Every other flag makes
// the shim exit as unimplemented.
var flags = map[string]flagSpec{
	"-port":                    intFlag(func(o *options, v int) error { o.port = v; return nil }),
	"-ipv6":                    boolFlag(func(o *options) { o.ipv6 = true }),
	"-shim-id":                 {param: true, set: func(o *options, v string) (err error) { o.shimID, err = strconv.ParseUint(v, 10, 64); return err }},
	"-server":                  boolFlag(func(o *options) { o.server = true }),
	"-is-handshaker-supported": boolFlag(func(o *options) { o.handshakerAsk = true }),

	"-new-x509-credential": boolFlag(func(o *options) { o.certs = append(o.certs, credential{}) }),
	"-new-rpk-credential":  boolFlag(func(o *options) { o.certs = append(o.certs, credential{rpk: true}) }),
	"-accepted-peer-cert-types": intFlag(func(o *options, v int) error {
		o.acceptedPeerTypes = append(o.acceptedPeerTypes, v)
		return nil
	}),
	"-available-client-cert-types": intFlag(func(o *options, v int) error {
		o.availableTypes = append(o.availableTypes, v)
		return nil
	}),
	"-export-keying-material": intFlag(func(o *options, v int) error { o.exportLength = v; return nil }),
	"-export-label":           strFlag(func(o *options, v string) { o.exportLabel = v }),
	"-export-context":         strFlag(func(o *options, v string) { o.exportContext = v }),
	// RFC 8446 §7.5: in TLS 1.3 no context and an empty one are the same.
	"-use-export-context":           {},
	"-expect-selected-credential":   intFlag(func(o *options, v int) error { o.expectSelectedCred = &v; return nil }),
	"-expect-peer-certificate-type": intFlag(func(o *options, v int) error { o.expectPeerCertType = v; return nil }),
	"-expect-peer-rpk-sha256": {param: true, set: func(o *options, v string) (err error) {
		o.expectPeerRPK, err = base64.StdEncoding.DecodeString(v)
		return err
	}},
	"-cert-file": strFlag(func(o *options, v string) { o.lastCred().certFile = v }),
	"-key-file":  strFlag(func(o *options, v string) { o.lastCred().keyFile = v }),
	// BoringSSL's -signing-prefs belongs to the last credential (the
	// legacy one before any -new-*-credential), like -cert-file.
	"-signing-prefs":     schemeFlag(func(o *options) *[]tls13.SignatureScheme { return &o.lastCred().signingPrefs }),
	"-must-match-issuer": boolFlag(func(o *options) { o.lastCred().mustMatchIssuer = true }),
	"-verify-prefs":      schemeFlag(func(o *options) *[]tls13.SignatureScheme { return &o.verifyPrefs }),
	"-trust-cert":        strFlag(func(o *options, v string) { o.trust = v }),
	"-curves": intFlag(func(o *options, v int) error {
		if v < 0 || v > 0xffff {
			return fmt.Errorf("bad group %d", v)
		}
		o.curves = append(o.curves, uint16(v))
		return nil
	}),
	"-host-name": strFlag(func(o *options, v string) { o.hostName = v }),

	"-require-any-client-certificate": boolFlag(func(o *options) { o.requireClientCert = true }),
	"-verify-peer":                    boolFlag(func(o *options) { o.verifyPeer = true }),
	"-verify-fail":                    boolFlag(func(o *options) { o.verifyFail = true }),
	"-expect-verify-result":           boolFlag(func(o *options) { o.expectVerifyResult = true }),
	// The shim's verification is a callback already.
	"-use-custom-verify-callback": {},
	// BoringSSL's asynchronous mode makes its callbacks and private key
	// operations return "retry" before they complete, and its early
	// callback configures credentials when the ClientHello is in. The
	// engine's calls block until done and its credentials are in the
	// Config before the ClientHello, which is the blocking equivalent:
	// the tests' checks (credential chosen, certificate types, no
	// transport I/O in an extra handshake) still run. The tests named
	// *-Async*, whose point is the retry path itself, are disabled.
	"-async":              {},
	"-use-early-callback": {},

	"-min-version": intFlag(func(o *options, v int) error {
		if v > versionTLS13 {
			return errUnimplemented
		}
		o.only13 = o.only13 || v == versionTLS13
		return nil
	}),
	"-max-version": intFlag(func(o *options, v int) error {
		if v < versionTLS13 {
			return errUnimplemented // TLS 1.2 and older
		}
		return nil
	}),
	// Disabling versions the engine does not speak changes nothing but
	// makes a peer below TLS 1.3 a refusal, as in BoringSSL.
	"-no-tls12": boolFlag(func(o *options) { o.only13 = true }),
	"-no-tls11": {},
	"-no-tls1":  {},

	"-expect-version":                  intFlag(func(o *options, v int) error { o.expectVersion = v; return nil }),
	"-expect-server-name":              strFlag(func(o *options, v string) { o.expectServerName = v }),
	"-expect-no-server-name":           boolFlag(func(o *options) { o.expectNoSNI = true }),
	"-expect-alpn":                     strFlag(func(o *options, v string) { o.expectALPN = v }),
	"-expect-curve-id":                 intFlag(func(o *options, v int) error { o.expectCurve = v; return nil }),
	"-expect-peer-signature-algorithm": intFlag(func(o *options, v int) error { o.expectPeerSig = v; return nil }),
	"-expect-hrr":                      boolFlag(func(o *options) { o.expectHRR = true }),
	"-expect-no-hrr":                   boolFlag(func(o *options) { o.expectNoHRR = true }),
	"-expect-peer-cert-file":           strFlag(func(o *options, v string) { o.expectPeerCert = v }),
	"-expect-client-ca-list":           strFlag(func(o *options, v string) { o.expectCAList = v }),
	"-use-client-ca-list":              strFlag(func(o *options, v string) { o.useCAList = v }),
	"-key-shares": intFlag(func(o *options, v int) error {
		if v < 0 || v > 0xffff {
			return fmt.Errorf("bad group %d", v)
		}
		o.keyShares = append(o.keyShares, uint16(v))
		return nil
	}),
	"-no-key-shares":                boolFlag(func(o *options) { o.noKeyShares = true }),
	"-expect-advertised-alpn":       strFlag(func(o *options, v string) { o.expectAdvertisedALPN = v }),
	"-fail-cert-callback":           boolFlag(func(o *options) { o.failCertCallback = true }),
	"-use-old-client-cert-callback": boolFlag(func(o *options) { o.oldClientCertCallback = true }),
	"-reverify-on-resume":           boolFlag(func(o *options) { o.reverifyOnResume = true }),
	"-resumption-delay": intFlag(func(o *options, v int) error {
		if v < 0 {
			return fmt.Errorf("bad delay %d", v)
		}
		o.resumptionDelay = v
		return nil
	}),
	// Our server never acknowledges server_name: it chooses nothing by
	// it (RFC 6066 §3), which is what the flag asks for.
	"-no-server-name-ack": {},
	// RFC 7627's extended master secret binds the master secret to the
	// handshake transcript; the TLS 1.3 key schedule always does (RFC
	// 8446 §7.1), and BoringSSL reports it as negotiated there.
	"-expect-extended-master-secret": boolFlag(func(o *options) { o.expectEMS = true }),
	// A TLS 1.3 session has no session ID (legacy_session_id is only
	// echoed, RFC 8446 §4.1.3) and our server keeps no cache keyed by
	// one: its sessions live in tickets alone.
	"-expect-no-session-id": {},
	"-expect-peer-verify-pref": intFlag(func(o *options, v int) error {
		if v < 0 || v > 0xffff {
			return fmt.Errorf("bad signature scheme %d", v)
		}
		o.expectPeerVerifyPrefs = append(o.expectPeerVerifyPrefs, uint16(v))
		return nil
	}),

	"-advertise-alpn": {param: true, set: func(o *options, v string) error {
		protos, err := parseALPNList(v)
		o.advertiseALPN = protos
		return err
	}},
	"-select-alpn":  strFlag(func(o *options, v string) { o.selectALPN = v }),
	"-decline-alpn": boolFlag(func(o *options) { o.declineALPN = true }),
	// BoringSSL's selection callback fails; ours has no callback, and a
	// server whose protocols the client did not offer refuses the same
	// way.
	"-reject-alpn": boolFlag(func(o *options) { o.rejectALPN = true }),
	"-max-send-fragment": intFlag(func(o *options, v int) error {
		o.maxSendFragment = v // the engine checks the range
		return nil
	}),
	"-expect-ticket-age-skew": intFlag(func(o *options, v int) error {
		o.expectTicketAgeSkew = &v
		return nil
	}),
	"-ticket-key": {param: true, set: func(o *options, v string) error {
		key, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(key) == 0 {
			return fmt.Errorf("bad -ticket-key %q", v)
		}
		o.ticketKey = key
		return nil
	}},

	"-shim-writes-first":      boolFlag(func(o *options) { o.shimWritesFirst = true }),
	"-shim-shuts-down":        boolFlag(func(o *options) { o.shimShutsDown = true }),
	"-check-close-notify":     boolFlag(func(o *options) { o.checkCloseNotify = true }),
	"-key-update":             boolFlag(func(o *options) { o.keyUpdate = true }),
	"-key-update-before-read": boolFlag(func(o *options) { o.keyUpdateBeforeRd = true }),
	"-implicit-handshake":     boolFlag(func(o *options) { o.implicitHandshake = true }),
	"-no-op-extra-handshake":  boolFlag(func(o *options) { o.extraHandshake = true }),
	"-resume-count": intFlag(func(o *options, v int) error {
		if v < 0 {
			return fmt.Errorf("bad resume count %d", v)
		}
		o.resumeCount = v
		return nil
	}),
	"-no-ticket":           boolFlag(func(o *options) { o.noTicket = true }),
	"-expect-session-miss": boolFlag(func(o *options) { o.expectSessionMiss = true }),
	"-read-size": intFlag(func(o *options, v int) error {
		if v <= 0 {
			return fmt.Errorf("bad read size %d", v)
		}
		o.readSize = v
		return nil
	}),
}

func (o *options) lastCred() *credential {
	if len(o.certs) == 0 {
		o.certs = append(o.certs, credential{legacy: true})
	}
	return &o.certs[len(o.certs)-1]
}

// parseALPNList decodes the runner's -advertise-alpn value: protocol names,
// each preceded by its length in one octet (the wire form of RFC 7301 §3.1).
func parseALPNList(v string) ([]string, error) {
	var out []string
	for len(v) > 0 {
		n := int(v[0])
		if n == 0 || n+1 > len(v) {
			return nil, fmt.Errorf("bad ALPN list %q", v)
		}
		out = append(out, v[1:1+n])
		v = v[1+n:]
	}
	return out, nil
}

// parseFlags applies args. A flag missing from flags, or a value the
// engine cannot honour, returns errUnimplemented.
//
// The runner prefixes flags with -on-initial- (first connection only),
// -on-resume- (the connections of -resume-count) and -on-retry- (ECH
// retries, not implemented). resume selects which of the first two apply.
func parseFlags(args []string, resume bool) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		name := args[i]
		apply := true
		switch {
		case strings.HasPrefix(name, "-on-initial-"):
			name = "-" + strings.TrimPrefix(name, "-on-initial-")
			apply = !resume
		case strings.HasPrefix(name, "-on-resume-"):
			name = "-" + strings.TrimPrefix(name, "-on-resume-")
			apply = resume
		}
		spec, ok := flags[name]
		if !ok {
			return nil, fmt.Errorf("%w: flag %s", errUnimplemented, args[i])
		}
		var v string
		if spec.param {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag %s needs a value", name)
			}
			i++
			v = args[i]
		}
		if apply && spec.set != nil {
			if err := spec.set(o, v); err != nil {
				if errors.Is(err, errUnimplemented) {
					return nil, fmt.Errorf("%w: %s %s", errUnimplemented, name, v)
				}
				return nil, fmt.Errorf("flag %s: %w", name, err)
			}
		}
	}
	return o, nil
}
