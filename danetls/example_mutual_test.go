package danetls_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"strconv"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// Two self-signed peers authenticate each other by their DNS names alone
// (architecture Example 5): a join server, whose key is published at
// _PORT._tcp.js1.example.test, and a network server, whose key is
// published at ns1.example.test. Each side asks its own verification core;
// neither has a CA.
func ExampleDANEClientConfig() {
	js1 := exampleIdentity("js1.example.test")
	ns1 := exampleIdentity("ns1.example.test")

	// The join server listens first: its record names its port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	service := "_" + strconv.Itoa(port) + "._tcp.js1.example.test."
	core := exampleCoreFor([]string{
		exampleRecord(js1, service),
		exampleRecord(ns1, "ns1.example.test."),
	}, "ns1.example.test")

	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tc := tls.Server(c, danetls.ServerConfig(&tls.Config{Certificates: []tls.Certificate{js1}}, core))
		defer tc.Close()
		if err := tc.Handshake(); err != nil {
			fmt.Println("join server refused:", err)
			return
		}
		id, _ := danetls.IdentityFromConn(tc)
		fmt.Fprintf(tc, "join server greets %s\n", id.Name)
	}()

	// The network server: its identity for the join server, and the join
	// server authenticated by the records at _PORT._tcp.js1.example.test.
	cfg, err := danetls.DANEClientConfig(danetls.ClientConfig(nil, ns1), core,
		net.JoinHostPort("js1.example.test", strconv.Itoa(port)),
		danetls.ReportServerAuth(func(a danetls.ServerAuth) {
			fmt.Printf("network server authenticated %s by %s\n", a.Host, a.Identity.Record.Usage)
		}))
	if err != nil {
		log.Fatal(err)
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
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
	// network server authenticated js1.example.test by DANE-EE
	// join server greets ns1.example.test
}

// exampleIdentity makes a self-signed identity for name.
func exampleIdentity(name string) tls.Certificate {
	key, err := identity.GenerateKey(identity.KeyECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := identity.SelfSigned(identity.MustParseName(name), key, identity.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// exampleRecord is the DANE-EE record of c's key at owner.
func exampleRecord(c tls.Certificate, owner string) string {
	rec, err := tlsa.ForCertificate(c.Leaf, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
	if err != nil {
		log.Fatal(err)
	}
	return rec.ZoneLine(owner, 300)
}

// exampleCoreFor returns a verification core over an in-process signed
// DNS hierarchy holding records, allowing the clients named by allow.
func exampleCoreFor(records []string, allow ...string) *verify.Core {
	h, err := dnstest.Build(dnstest.Config{Records: records})
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
	al, err := verify.ParseAllowList(allow)
	if err != nil {
		log.Fatal(err)
	}
	core, err := verify.New(verify.Config{Resolver: r, Allow: al})
	if err != nil {
		log.Fatal(err)
	}
	return core
}
