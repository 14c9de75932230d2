package httpauth_test

import (
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/httpauth"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// An application behind a TLS-terminating proxy at 127.0.0.1, which
// passes each client's certificate in the RFC 9440 Client-Cert field. The
// middleware verifies it and hands the identity to the handler; a
// Client-Cert from any other address is refused. (An application that
// terminates TLS itself uses the same middleware: the certificate then
// comes from the request's own connection.)
func ExampleMiddleware_Handler() {
	core, cert := exampleCore("sensor1._device.example.test")
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	m, err := httpauth.New(httpauth.Config{Verifier: core, TrustedProxies: proxies})
	if err != nil {
		log.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := danetls.IdentityFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", id.Subject())
	})
	h := m.Handler(app)

	for _, from := range []string{"127.0.0.1:40000", "192.0.2.7:40000"} {
		req := httptest.NewRequest("GET", "https://api.example.test/", nil)
		req.RemoteAddr = from
		httpauth.SetClientCert(req.Header, []*x509.Certificate{cert})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("from %s: %d %s\n", from, rec.Code, rec.Body)
	}
	// Output:
	// from 127.0.0.1:40000: 200 hello sensor1._device.example.test
	// from 192.0.2.7:40000: 403 Forbidden
}

// exampleCore returns a verification core over an in-process signed DNS
// hierarchy that publishes a DANE-EE record for name, and a certificate
// for name with that key. verify's ExampleCore_Verify shows these steps.
func exampleCore(name string) (*verify.Core, *x509.Certificate) {
	n := identity.MustParseName(name)
	key, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := identity.SelfSigned(n, key, identity.Options{})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := tlsa.ForPublicKey(key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		log.Fatal(err)
	}
	h, err := dnstest.Build(dnstest.Config{Records: []string{rec.ZoneLine(n.FQDN(), 300)}})
	if err != nil {
		log.Fatal(err)
	}
	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		log.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Anchors: anchors, Exchange: h.Exchange})
	if err != nil {
		log.Fatal(err)
	}
	allow, err := verify.ParseAllowList([]string{n.String()})
	if err != nil {
		log.Fatal(err)
	}
	core, err := verify.New(verify.Config{Resolver: r, Allow: allow})
	if err != nil {
		log.Fatal(err)
	}
	return core, cert
}
