package danetls_test

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
)

// An HTTPS server that authenticates its clients by their DNS names. It
// is not run: it needs a resolver and a trust anchor for the identities.
func ExampleServerConfig() {
	anchors, err := resolver.ParseAnchorsString("devices.test. 3600 IN DS 12345 13 2 0123...")
	if err != nil {
		log.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Upstreams: []string{"127.0.0.1:5353"}, Anchors: anchors})
	if err != nil {
		log.Fatal(err)
	}
	allow, err := verify.ParseAllowList([]string{"*._device.devices.test"})
	if err != nil {
		log.Fatal(err)
	}
	core, err := verify.New(verify.Config{Resolver: r, Allow: allow})
	if err != nil {
		log.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair("server.pem", "server-key.pem")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:        ":8443",
		TLSConfig:   danetls.ServerConfig(&tls.Config{Certificates: []tls.Certificate{cert}}, core),
		ConnContext: danetls.ConnContext,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := danetls.IdentityFromContext(r.Context())
			fmt.Fprintf(w, "hello %s (%s)\n", id.Name, id.Kind)
		}),
		// Without these a slow or silent client holds its connection
		// forever; the handshake, DNS lookups included, must fit in the
		// shortest of the first three.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

// A client presenting the identity that "dance id new" wrote to ./sensor1.
func ExampleClientConfig() {
	cert, err := danetls.LoadIdentity("./sensor1")
	if err != nil {
		log.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: danetls.ClientConfig(nil, cert)}
	resp, err := (&http.Client{Transport: tr}).Get("https://api.devices.test:8443/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
}

// A server that takes a DANE identity or, from clients without a
// certificate, a bearer token. A client that presents a certificate the
// verifier refuses does not complete the handshake: it cannot fall back on
// the token. It is not run: it needs a verifier (see ExampleServerConfig).
func ExampleVerifyClientCertIfGiven() {
	var core verify.Verifier // a *verify.Core
	cert, err := tls.LoadX509KeyPair("server.pem", "server-key.pem")
	if err != nil {
		log.Fatal(err)
	}
	secret := os.Getenv("API_TOKEN")
	if secret == "" {
		log.Fatal("API_TOKEN is not set")
	}
	token := []byte("Bearer " + secret)
	srv := &http.Server{
		Addr: ":8443",
		TLSConfig: danetls.ServerConfig(&tls.Config{Certificates: []tls.Certificate{cert}}, core,
			danetls.VerifyClientCertIfGiven()),
		ConnContext: danetls.ConnContext,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, ok := danetls.IdentityFromRequest(r); ok {
				fmt.Fprintf(w, "hello %s\n", id.Subject())
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), token) != 1 {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			fmt.Fprintln(w, "hello token holder")
		}),
		// Limits against slow clients, as in ExampleServerConfig.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}
