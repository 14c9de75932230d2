package serve_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/serve"
)

// Serve a zone directory, as `dance zone serve --dir DIR` does, until the
// context ends.
func Example() {
	tmp, err := os.MkdirTemp("", "zone-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "z")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: "devices.example"}); err != nil {
		log.Fatal(err)
	}

	s, err := serve.New(serve.Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close() // writes DIR/signatures.cache
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	m := new(dns.Msg)
	m.SetQuestion("devices.example.", dns.TypeSOA)
	r, err := dns.Exchange(m, s.Addr())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dns.RcodeToString[r.Rcode], dns.TypeToString[r.Answer[0].Header().Rrtype], r.Authoritative)

	stop()
	fmt.Println("stopped:", <-done)
	// Output:
	// NOERROR SOA true
	// stopped: <nil>
}
