package ldapauth

import (
	"testing"

	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
)

// BenchmarkBind measures SASL EXTERNAL binds per second.
//
//   - warm: binds on one open connection, the verdict cache warm (the
//     steady state: a client that binds again, or many clients of one
//     certificate); the cost is the server's request handling and the
//     cache lookup.
//
//   - cold: binds on one open connection with the verdict cache off and
//     a resolver without a cache, so that each bind looks up the TLSA
//     records at _user.example.test, validates the DNSSEC chain from the
//     root (in-process hierarchy on loopback) and matches the path.
//
//   - warm-new-conn, cold-new-conn: the same, each bind on a new
//     connection with its own TLS handshake (what ldapwhoami does).
//
//     go test -run '^$' -bench BenchmarkBind -benchtime 2s ./ldapauth
func BenchmarkBind(b *testing.B) {
	warm := startEnv(b, nil)
	cold := startEnv(b, nil)
	// The cold server's core: no verdict cache, no resolver cache.
	r := coldResolver(b, cold)
	core, err := verify.New(verify.Config{Resolver: r, Allow: cold.srv.cfg.Verifier.(*verify.Core).AllowList(), CacheEntries: -1})
	if err != nil {
		b.Fatal(err)
	}
	cold.srv.cfg.Verifier = core
	for _, v := range []struct {
		name    string
		e       *env
		newConn bool
	}{{"warm", warm, false}, {"cold", cold, false}, {"warm-new-conn", warm, true}, {"cold-new-conn", cold, true}} {
		b.Run(v.name, func(b *testing.B) {
			u := v.e.users[uAlice]
			c := v.e.dial(b, &u)
			if got := c.bindExternal(nil); got != ResultSuccess {
				b.Fatal(got)
			}
			b.ReportAllocs()
			for b.Loop() {
				if v.newConn {
					c.conn.Close()
					c = v.e.dial(b, &u)
				}
				if got := c.bindExternal(nil); got != ResultSuccess {
					b.Fatal(got)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "binds/s")
		})
	}
}

func coldResolver(b *testing.B, e *env) *resolver.Resolver {
	b.Helper()
	return testident.Resolver(b, e.h, resolver.Config{CacheEntries: -1})
}
