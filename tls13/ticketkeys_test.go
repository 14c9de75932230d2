package tls13

import (
	"crypto/rand"
	"testing"
	"time"
)

// TestSessionTicketKeysShared: servers given the same keys by
// SetSessionTicketKeys resume each other's sessions; a key rotated in
// first seals the new tickets while the old one still opens; servers
// without the sealing key, or gone back to keys of their own, do not
// resume.
func TestSessionTicketKeysShared(t *testing.T) {
	p := testPKI(t)
	var k1, k2, k3 [32]byte
	for _, k := range []*[32]byte{&k1, &k2, &k3} {
		rand.Read(k[:])
	}
	server := func(keys ...[32]byte) *Config {
		cfg := ourServerConfig(p)
		if keys != nil {
			if err := cfg.SetSessionTicketKeys(keys); err != nil {
				t.Fatal(err)
			}
		}
		return cfg
	}
	// connect runs one connection of client to srv and reports whether
	// it resumed; the client keeps the ticket srv issued.
	connect := func(t *testing.T, ccfg, srv *Config) bool {
		t.Helper()
		addr, res := startOurServer(t, srv)
		c := dial(t, addr, ccfg)
		echo(t, c, "ticket")
		r := <-res
		if r.err != nil {
			t.Fatal(r.err)
		}
		if c.ConnectionState().Resumed != r.state.Resumed {
			t.Fatalf("client resumed %v, server %v", c.ConnectionState().Resumed, r.state.Resumed)
		}
		return r.state.Resumed
	}
	type step struct {
		srv  *Config
		want bool
	}
	cases := map[string][]step{
		"same keys":             {{server(k1), false}, {server(k1), true}, {server(k1), true}},
		"rotated in, old opens": {{server(k1), false}, {server(k2, k1), true}, {server(k2), true}},
		"old only after rotate": {{server(k1), false}, {server(k2, k1), true}, {server(k1), false}},
		"other key":             {{server(k1), false}, {server(k3), false}},
		"own keys":              {{server(k1), false}, {server(), false}, {server(k1), false}},
		"set after own keys":    {{server(), false}, {server(k1), false}, {server(k1), true}},
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) {
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0)}
			for i, s := range steps {
				if got := connect(t, ccfg, s.srv); got != s.want {
					t.Fatalf("connection %d: resumed %v, want %v", i, got, s.want)
				}
			}
		})
	}

	// Going back to keys of its own: a Config whose keys were set and
	// then cleared no longer opens tickets sealed under them.
	t.Run("cleared", func(t *testing.T) {
		srv := server(k1)
		ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0)}
		connect(t, ccfg, srv)
		if err := srv.SetSessionTicketKeys(nil); err != nil {
			t.Fatal(err)
		}
		if connect(t, ccfg, srv) {
			t.Fatal("resumed with a key no longer set")
		}
		if !connect(t, ccfg, srv) {
			t.Fatal("no resumption with the server's own key")
		}
	})
}

// TestSetTicketKeysNotRotated: keys set by the user seal and open past the
// period and lifetime after which the engine replaces and drops its own,
// and clearing them wipes them.
func TestSetTicketKeysNotRotated(t *testing.T) {
	var secret [32]byte
	rand.Read(secret[:])
	key, err := newSetTicketKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	var k ticketKeys
	k.setKeys([]*ticketKey{key})
	t0 := time.Unix(1_800_000_000, 0)
	ticket, err := sealTicket(key, []byte("session"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	far := t0.Add(10 * (ticketKeyPeriod + ticketLifetime))
	got, err := k.current(far, rand.Reader)
	if err != nil || got != key {
		t.Fatalf("a set key was replaced (%v)", err)
	}
	got.release()
	if plain, err := openTicket(&k, ticket, far); err != nil || string(plain) != "session" {
		t.Fatalf("a set key no longer opens its ticket: %v", err)
	}
	// The same secret gives the same name and key on another server.
	again, _ := newSetTicketKey(secret)
	var other ticketKeys
	other.setKeys([]*ticketKey{again})
	if _, err := openTicket(&other, ticket, t0); err != nil {
		t.Fatalf("the same secret does not open the ticket: %v", err)
	}
	// A handshake holding the key when it is cleared still uses it; the
	// last release wipes it.
	held, err := k.current(t0, rand.Reader)
	if err != nil || held != key {
		t.Fatalf("current %v, %v", held, err)
	}
	k.setKeys(nil)
	if key.sealer == nil {
		t.Fatal("a cleared key is wiped while a handshake holds it")
	}
	held.release()
	if key.sealer != nil {
		t.Fatal("a cleared key is not wiped by its last holder")
	}
	if _, err := openTicket(&k, ticket, t0); err == nil {
		t.Fatal("a cleared key still opens")
	}
	own, err := k.current(t0, rand.Reader)
	if err != nil || own == key || own.userSet {
		t.Fatal("no key of the engine's own after clearing")
	}
	own.release()
}
