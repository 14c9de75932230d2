package danetls_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// A crypto/tls server that authenticates its clients by their DNS names,
// and a client that presents its identity. The handshake asks for the
// client's certificate and verifies it (allow-list, DNSSEC-validated TLSA
// lookup, match); the server then reads who the client is from the
// connection.
func ExampleServerConfig_listener() {
	core, clientCert := exampleCore("sensor1._device.example.test")
	serverCert, roots := exampleServerCert("api.example.test")

	cfg := danetls.ServerConfig(&tls.Config{Certificates: []tls.Certificate{serverCert}}, core)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			fmt.Println("refused:", err)
			return
		}
		id, _ := danetls.IdentityFromConn(tc)
		fmt.Fprintf(tc, "hello %s\n", id.Subject())
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(),
		danetls.ClientConfig(&tls.Config{RootCAs: roots, ServerName: "api.example.test"}, clientCert))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(line)
	<-served
	// Output:
	// hello sensor1._device.example.test
}

// exampleCore returns a verification core over an in-process signed DNS
// hierarchy that publishes a DANE-EE record for name, and a TLS
// certificate for name with that key. verify's ExampleCore_Verify shows
// these steps.
func exampleCore(name string) (*verify.Core, tls.Certificate) {
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
	return core, tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// exampleServerCert returns a self-signed server certificate for name and
// a pool that trusts it, standing in for a certificate from a public CA.
func exampleServerCert(name string) (tls.Certificate, *x509.CertPool) {
	key, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := identity.SelfSigned(identity.MustParseName(name), key, identity.Options{})
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, roots
}
