package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone/server"
)

// XoTConfig configures the zone-transfer listener over TLS (XoT, RFC
// 9103): TLS 1.3 only, ALPN "dot", on a port of its own, for secondaries
// that present a DNS-bound identity. Its secondaries are admitted by
// their credentials (Auth), not by Config.TransferFrom, which keeps
// governing transfers over TCP and TLSListen.
type XoTConfig struct {
	// Listen is the listener's address (required; RFC 7858's port 853 is
	// the usual one).
	Listen string
	// CertFile and KeyFile are the server's certificate chain and key
	// (PEM), required. Secondaries authenticate the server by the TLSA
	// records at _PORT._tcp.NAME that match it. Reload reads them again.
	CertFile, KeyFile string
	// Auth says what a transfer needs: server.XoTDANE (the zero value) a
	// client certificate that the verification core authenticates for a
	// name of Allow, server.XoTTSIG a request signed with a key of
	// Config.TransferKeyFile, server.XoTBoth both.
	Auth server.XoTAuth
	// Allow are the secondaries' DANE identities: names, or *.NAME for
	// every name below (verify.ParseAllowList). Required for the DANE
	// modes; a certificate for another name is refused in the handshake
	// without any DNS lookup.
	Allow []string
	// Resolver configures the lookups of the secondaries' TLSA records.
	// No Upstreams (and no Exchange) means this server itself, asked in
	// process: Allow must then name names of this zone, and the anchors
	// must hold the zone's own keys (AnchorsFile's default does). Its
	// Anchors, and those of AnchorsFile, are added to the IANA root keys
	// (unless Resolver.NoRootAnchors).
	Resolver resolver.Config
	// AnchorsFile holds trust anchors (DS or DNSKEY lines) added to
	// Resolver.Anchors; "" means DIR/anchors. Reload reads it again.
	AnchorsFile string
}

// XoTOutsideZoneError is an XoT allow-list with names outside the zone
// served while the secondaries' records are looked up on this server
// itself (no XoTConfig.Resolver.Upstreams): they cannot be found there.
type XoTOutsideZoneError struct {
	Zone  string
	Names []string
}

func (e *XoTOutsideZoneError) Error() string {
	return fmt.Sprintf("serve: the XoT allow-list names %s outside the zone %s, and without a resolver of their own the secondaries are looked up on this server, which does not serve them: give the secondaries a resolver (XoTConfig.Resolver.Upstreams) or name them inside the zone",
		strings.Join(e.Names, ", "), strings.TrimSuffix(e.Zone, "."))
}

// checkXoT refuses XoT settings that cannot work.
func (cfg *Config) checkXoT() error {
	x := cfg.XoT
	if x == nil {
		return nil
	}
	if x.Listen == "" || x.CertFile == "" || x.KeyFile == "" {
		return errors.New("serve: XoT needs Listen, CertFile and KeyFile")
	}
	if x.Auth > server.XoTBoth {
		return fmt.Errorf("serve: XoT auth: unknown %v", x.Auth)
	}
	if x.Auth.NeedsDANE() && len(x.Allow) == 0 {
		return fmt.Errorf("serve: XoT auth %v needs an allow-list: which secondaries may transfer", x.Auth)
	}
	if !x.Auth.NeedsDANE() && len(x.Allow) > 0 {
		return errors.New("serve: an XoT allow-list needs XoT auth dane or both")
	}
	if x.Auth.NeedsTSIG() && cfg.TransferKeyFile == "" {
		return fmt.Errorf("serve: XoT auth %v needs TransferKeyFile", x.Auth)
	}
	if x.Resolver.Transport == resolver.TLS && len(x.Resolver.Upstreams) == 0 {
		return errors.New("serve: the secondaries' resolver over TLS needs upstreams: the default is this server's plain DNS listener")
	}
	return nil
}

// prepareXoT loads the XoT certificate and makes the verification core of
// the secondaries (s.xotCore; the DANE modes are served by the tls13
// engine, xotengine.go) or, for XoTTSIG, the listener's crypto/tls
// configuration (s.xotTLS); listenXoT binds the listener once the DNS
// listeners are.
func (s *Server) prepareXoT() error {
	x := s.cfg.XoT
	pair, err := loadCert("XoT", x.CertFile, x.KeyFile)
	if err != nil {
		return err
	}
	s.xotCert.Store(pair)
	if x.Auth.NeedsDANE() {
		allow, err := verify.ParseAllowList(x.Allow)
		if err != nil {
			return fmt.Errorf("serve: XoT allow-list: %w", err)
		}
		s.xotNames = allow.ZoneNames()
		s.xotSelf = len(x.Resolver.Upstreams) == 0 && x.Resolver.Exchange == nil
		if s.xotSelf {
			if err := s.xotOutside(allow.Patterns()); err != nil {
				return err
			}
		}
		r, err := s.xotResolverFor()
		if err != nil {
			return err
		}
		s.xotResolver = &swapResolver{}
		s.xotResolver.r.Store(r)
		// The verdicts are logged (component=xot-dane) and counted under
		// core="xot", beside the admin API's core="admin".
		core, err := verify.New(verify.Config{Allow: allow, Resolver: s.xotResolver, Logger: s.log.With("component", "xot-dane"),
			Registerer: coreRegisterer(s.reg, coreXoT)})
		if err != nil {
			return fmt.Errorf("serve: XoT secondaries: %w", err)
		}
		s.xotCore = core
		return nil
	}
	s.xotTLS = &tls.Config{
		MinVersion: tls.VersionTLS13, // RFC 9103 §5.1
		NextProtos: []string{server.ALPN},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.xotCert.Load(), nil
		},
	}
	return nil
}

func (s *Server) listenXoT() error {
	var err error
	if s.xotCore != nil {
		s.ls.XoT, err = s.listenXoTEngine(s.cfg.XoT.Listen)
	} else {
		s.ls.XoT, err = server.ListenXoT(s.cfg.XoT.Listen, s.xotTLS)
	}
	if err != nil {
		return &ListenError{What: "XoT", Err: err}
	}
	return nil
}

// xotAuthenticator is how the DNS server checks secondaries again before
// each transfer: through the XoT verification core; nil without DANE.
func (s *Server) xotAuthenticator() server.XoTAuthenticator {
	core := s.xotCore
	if core == nil {
		return nil
	}
	return func(ctx context.Context, chain []*x509.Certificate) (string, error) {
		id, err := verify.VerifyChain(ctx, core, chain)
		if err != nil {
			return "", errors.New(verify.ReasonOf(err).String())
		}
		return id.Name, nil
	}
}

// xotOutside returns an *XoTOutsideZoneError when names are asked of this
// server and some lie outside its zone.
func (s *Server) xotOutside(names []string) error {
	if origin, out := s.outsideZone(names); len(out) > 0 {
		return &XoTOutsideZoneError{Zone: origin, Names: out}
	}
	return nil
}

// xotResolverFor makes the resolver of the secondaries' identities,
// reading the anchors file.
func (s *Server) xotResolverFor() (*resolver.Resolver, error) {
	x := s.cfg.XoT
	return s.identityResolver(x.Resolver, s.xotSelf, x.AnchorsFile, "XoT", "XoT secondaries'")
}

// XoTAddr is the XoT listener's address, or "".
func (s *Server) XoTAddr() string {
	if s.ls.XoT == nil {
		return ""
	}
	return s.ls.XoT.Addr().String()
}
