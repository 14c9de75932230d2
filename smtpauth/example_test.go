package smtpauth_test

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"

	"github.com/emersion/go-smtp"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/smtpauth"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// A relay that accepts mail only from client MTAs on its allow-list whose
// certificates match their TLSA records. The DNS here is a signed hierarchy
// built in the process; a deployment gives the resolver its upstreams and
// the real root anchors instead.
func ExampleBackend() {
	// The client MTA's identity, and the record that publishes its key.
	name := identity.MustParseName("_smtp-client.mta1.example.test")
	key, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := identity.SelfSigned(name, key, identity.Options{})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := tlsa.ForPublicKey(key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		log.Fatal(err)
	}
	dns, err := dnstest.Build(dnstest.Config{Records: []string{rec.ZoneLine(name.FQDN(), 300)}})
	if err != nil {
		log.Fatal(err)
	}
	anchors, err := resolver.ParseAnchorsString(dns.Anchors())
	if err != nil {
		log.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Anchors: anchors, Exchange: dns.Exchange})
	if err != nil {
		log.Fatal(err)
	}
	allow, err := verify.ParseAllowList([]string{"_smtp-client.mta1.example.test"})
	if err != nil {
		log.Fatal(err)
	}
	core, err := verify.New(verify.Config{Resolver: r, Allow: allow})
	if err != nil {
		log.Fatal(err)
	}

	// The relay: its own certificate, and sessions only for authenticated
	// senders.
	srvKey, _ := identity.GenerateKey(identity.KeyECDSAP256, nil)
	srvCert, _ := identity.SelfSigned(identity.MustParseName("relay.example.test"), srvKey, identity.Options{})
	be := &smtpauth.Backend{Verifier: core, Authenticated: func(c *smtp.Conn, id *verify.Identity) (smtp.Session, error) {
		fmt.Println("session for", id.Name)
		return acceptAll{}, nil
	}}
	s := smtp.NewServer(be)
	s.Domain = "relay.example.test"
	s.TLSConfig = smtpauth.ServerTLSConfig(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}}})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()

	// The client MTA, with its certificate, and then without.
	for _, certs := range [][]tls.Certificate{{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}, nil} {
		c, err := smtp.DialStartTLS(l.Addr().String(), &tls.Config{InsecureSkipVerify: true, Certificates: certs}) // the relay's certificate is not the point here
		if err != nil {
			log.Fatal(err)
		}
		if err := c.Hello("mta1.example.test"); err != nil {
			log.Fatal(err)
		}
		fmt.Println("MAIL:", c.Mail("postmaster@mta1.example.test", nil))
		c.Close()
	}
	// Output:
	// session for _smtp-client.mta1.example.test
	// MAIL: <nil>
	// MAIL: SMTP error 530: Authentication required: present a client certificate published in DNS
}
