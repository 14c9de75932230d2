package tls13_test

import (
	"context"
	"crypto/x509"
	"errors"
	"log"
	"net"
	"time"

	"github.com/dnsbound/dance/tls13"
)

// A client that verifies the server against the system roots and its name.
func ExampleClient() {
	raw, err := net.Dial("tcp", "example.net:443")
	if err != nil {
		log.Fatal(err)
	}
	conn := tls13.Client(raw, &tls13.Config{ServerName: "example.net", NextProtos: []string{"http/1.1"}})
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		log.Fatal(err)
	}
	log.Printf("%#04x %v %q", conn.ConnectionState().CipherSuite, conn.ConnectionState().Group, conn.ConnectionState().NegotiatedProtocol)
}

// A client whose own check (DANE, for example) replaces the pool and name.
func ExampleConfig_verifyPeer() {
	cfg := &tls13.Config{
		VerifyPeer: func(chain []*x509.Certificate) error {
			if len(chain) == 0 {
				return errors.New("no certificate")
			}
			return nil // compare chain[0] with the TLSA records here
		},
	}
	_ = cfg
}
