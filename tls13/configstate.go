package tls13

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"weak"

	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/sigalg"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// configState is what the engine derives from a Config's fields: checked
// and encoded on the first handshake that uses the Config and kept beside
// it, never written into it, for later handshakes. A Config must not be
// changed once used; one whose fields were replaced all the same (a new
// slice, another value) is derived again at its next handshake, keeping
// its ticket keys (its key tells; a slice changed in place is not seen).
type configState struct {
	key configKey // the fields it was derived from

	// err refuses the Config on either side: a field the engine cannot
	// use. Every handshake with the Config fails with it before anything
	// is sent.
	err error
	// clientNameErr refuses Config.ClientName, which only a client sends.
	// sendErr refuses Config.NextProtos or MaxSendFragment, which both
	// roles send from (checkSend).
	sendErr       error
	clientNameErr error
	// shareErr refuses Config.KeyShares, which only a client uses.
	shareErr error
	// caErr refuses Config.ClientCANames, which a server sends when it
	// asks for client certificates.
	caErr error

	shareGroups []CurveID      // the groups a client's first ClientHello has key shares for
	caExt       wire.Extension // a server's certificate_authorities, when sendCAs
	sendCAs     bool

	curves    []CurveID
	groupsExt wire.Extension // a client's supported_groups, listing curves

	sigs   []uint16       // the schemes we offer and accept (Config.SignatureSchemes)
	sigExt wire.Extension // signature_algorithms offering sigs

	recordLimit uint16 // our record_size_limit (RFC 8449)

	ownTypes  []uint8 // our credential's certificate types (RFC 7250), most preferred first
	peerTypes []uint8 // the peer's we accept, most preferred first
	// certTypeExts are a client's certificate type extensions.
	certTypeExts []wire.Extension

	// tickets are a server's ticket keys, made on first use and kept in
	// memory only.
	tickets *ticketKeys
	// chains are the client chains a server verified, for resumptions.
	chains *verifiedChains
}

// configKey identifies the fields a configState derives from: slices by
// their first element and length, the rest by value.
type configKey struct {
	peerTypes, ownTypes   *CertificateType
	nPeerTypes, nOwnTypes int
	acceptRaw, verifyConn bool
	curves                *CurveID
	nCurves               int
	sigs                  *SignatureScheme
	nSigs                 int
	certs                 *Certificate
	nCerts                int
	recordSizeLimit       int
	clientName            string
	suites                *uint16
	nSuites               int
	keyShares             *CurveID
	nKeyShares            int
	keySharesNil          bool // nil and empty KeyShares differ
	caNames               *[]byte
	nCANames              int
	nextProtos            *string
	nNextProtos           int
	maxSendFragment       int
}

func first[T any](s []T) *T {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func (c *Config) key() configKey {
	return configKey{
		peerTypes: first(c.PeerCertificateTypes), nPeerTypes: len(c.PeerCertificateTypes),
		ownTypes: first(c.CertificateTypes), nOwnTypes: len(c.CertificateTypes),
		acceptRaw: c.AcceptRawPublicKeys, verifyConn: c.VerifyConnection != nil,
		curves: first(c.CurvePreferences), nCurves: len(c.CurvePreferences),
		sigs: first(c.SignatureSchemes), nSigs: len(c.SignatureSchemes),
		certs: first(c.Certificates), nCerts: len(c.Certificates),
		recordSizeLimit: c.RecordSizeLimit, clientName: c.ClientName,
		suites: first(c.CipherSuites), nSuites: len(c.CipherSuites),
		keyShares: first(c.KeyShares), nKeyShares: len(c.KeyShares), keySharesNil: c.KeyShares == nil,
		caNames: first(c.ClientCANames), nCANames: len(c.ClientCANames),
		nextProtos: first(c.NextProtos), nNextProtos: len(c.NextProtos),
		maxSendFragment: c.MaxSendFragment,
	}
}

// configStates holds each used Config's state. It is keyed by a weak
// pointer so that it keeps no Config alive: a Config's state, ticket keys
// included, goes when the Config is collected.
var configStates sync.Map // weak.Pointer[Config] -> *configState

// derived returns c's state, deriving it on first use, or again when the
// fields it came from were replaced.
func (c *Config) derived() *configState {
	wp := weak.Make(c)
	key := c.key()
	v, ok := configStates.Load(wp)
	if ok && v.(*configState).key == key {
		return v.(*configState)
	}
	s := c.derive(key)
	if ok {
		old := v.(*configState)
		s.tickets, s.chains = old.tickets, old.chains
		configStates.Store(wp, s)
		return s
	}
	v, loaded := configStates.LoadOrStore(wp, s)
	if !loaded {
		runtime.AddCleanup(c, func(wp weak.Pointer[Config]) { configStates.Delete(wp) }, wp)
	}
	return v.(*configState)
}

// derive checks c's fields and builds what handshakes take from them.
func (c *Config) derive(key configKey) *configState {
	s := &configState{key: key, tickets: &ticketKeys{}, chains: &verifiedChains{}}
	s.ownTypes, s.peerTypes = c.ownCertTypes(), c.peerCertTypes()
	s.certTypeExts = certTypeExtensions(s.ownTypes, s.peerTypes)
	if c.ClientName != "" {
		if err := wire.CheckClientName(c.ClientName); err != nil {
			// %v: a configuration error, not an alert for the peer.
			s.clientNameErr = fmt.Errorf("tls13: Config.ClientName %q: %v", c.ClientName, err)
		}
	}
	s.sendErr = c.checkSend()
	s.err = c.deriveChecked(s)
	if s.err == nil {
		s.shareGroups, s.shareErr = c.keyShareGroups(s.curves)
	}
	s.caExt, s.sendCAs, s.caErr = c.clientCAExtension()
	return s
}

// deriveChecked fills in the parts of s that a bad field refuses, and
// returns the first refusal.
func (c *Config) deriveChecked(s *configState) error {
	isType := func(t CertificateType) bool { return t == CertificateTypeX509 || t == CertificateTypeRawPublicKey }
	if err := checkList("Config.PeerCertificateTypes", c.PeerCertificateTypes, isType, CertificateType.String); err != nil {
		return err
	}
	if err := checkList("Config.CertificateTypes", c.CertificateTypes, isType, CertificateType.String); err != nil {
		return err
	}
	if slices.Contains(s.peerTypes, wire.CertTypeRawPublicKey) && c.VerifyConnection == nil {
		return errors.New("tls13: accepting raw public keys (Config.AcceptRawPublicKeys or PeerCertificateTypes) needs a VerifyConnection to authenticate them")
	}

	s.curves = defaultCurves
	if len(c.CurvePreferences) > 0 {
		if err := checkList("Config.CurvePreferences", c.CurvePreferences, CurveID.implemented, CurveID.String); err != nil {
			return err
		}
		s.curves = c.CurvePreferences
	}
	groups := make([]uint16, len(s.curves))
	for i, g := range s.curves {
		groups[i] = uint16(g)
	}
	s.groupsExt = wire.NewSupportedGroupsExtension(groups)

	s.sigs, s.sigExt = sigalg.Schemes(), staticExts.sigAlgs
	if len(c.SignatureSchemes) > 0 {
		if err := checkSchemes("Config.SignatureSchemes", c.SignatureSchemes); err != nil {
			return err
		}
		s.sigs = make([]uint16, len(c.SignatureSchemes))
		for i, sc := range c.SignatureSchemes {
			s.sigs[i] = uint16(sc)
		}
		s.sigExt = wire.NewSignatureAlgorithmsExtension(s.sigs, false)
	}
	for i := range c.Certificates {
		if err := checkSchemes(fmt.Sprintf("Config.Certificates[%d].SignatureSchemes", i), c.Certificates[i].SignatureSchemes); err != nil {
			return err
		}
	}

	isSuite := func(id uint16) bool { return record.SuiteByID(id) != nil }
	suiteName := func(id uint16) string { return fmt.Sprintf("suite %#04x", id) }
	if err := checkList("Config.CipherSuites", c.CipherSuites, isSuite, suiteName); err != nil {
		return err
	}

	limit, err := c.recordSizeLimit()
	if err != nil {
		return err
	}
	s.recordLimit = limit
	return nil
}

// checkList refuses a Config list (field names it in the error) with an
// element the engine does not implement or one listed twice.
func checkList[T comparable](field string, list []T, implemented func(T) bool, name func(T) string) error {
	for i, x := range list {
		if !implemented(x) {
			return fmt.Errorf("tls13: %s: %s is not implemented", field, name(x))
		}
		if slices.Contains(list[:i], x) {
			return fmt.Errorf("tls13: %s: %s twice", field, name(x))
		}
	}
	return nil
}

// checkSchemes refuses a list of signature schemes with one outside the
// engine's scope or one listed twice.
func checkSchemes(field string, list []SignatureScheme) error {
	return checkList(field, list,
		func(s SignatureScheme) bool { return sigalg.Supported(uint16(s)) },
		func(s SignatureScheme) string { return fmt.Sprintf("signature scheme %#04x", uint16(s)) })
}
