package tls13

import (
	"bytes"
	"crypto/rand"
	"runtime"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// FuzzTicketPlaintext feeds the ticket plaintext parser arbitrary bytes:
// no panic, and what parses re-encodes to the same bytes. Seeds are in
// testdata/fuzz/FuzzTicketPlaintext.
func FuzzTicketPlaintext(f *testing.F) {
	s := serverSession{created: time.Unix(1_800_000_000, 0), ageAdd: 7, suite: 0x1301, psk: bytes.Repeat([]byte{1}, 32),
		serverName: "server.test", peerChain: [][]byte{{0x30, 0x00}}}
	if b, err := s.marshal(); err == nil {
		f.Add(b)
	}
	s.peerType = wire.CertTypeRawPublicKey
	if b, err := s.marshal(); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var s serverSession
		if !s.unmarshal(in) {
			return
		}
		out, err := s.marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("re-encoded % x, read % x", out, in)
		}
	})
}

// FuzzOpenTicket feeds ticket opening arbitrary identities: nothing opens
// but what the keyring sealed.
func FuzzOpenTicket(f *testing.F) {
	var k ticketKeys
	now := time.Unix(1_800_000_000, 0)
	key, err := k.current(now, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := sealTicket(key, []byte("session"), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(sealed[:len(sealed)-1])
	f.Add([]byte("not a ticket"))
	f.Fuzz(func(t *testing.T, in []byte) {
		plain, err := openTicket(&k, in, now)
		if err == nil && !(bytes.Equal(in, sealed) && string(plain) == "session") {
			t.Fatalf("opened % x", in)
		}
	})
}

// FuzzHybridClientShare feeds the server's X25519MLKEM768 key exchange
// arbitrary client shares: a result, or an illegal_parameter.
func FuzzHybridClientShare(f *testing.F) {
	k, err := newGroupKey(X25519MLKEM768, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.share())
	f.Add(k.share()[:100])
	f.Fuzz(func(t *testing.T, in []byte) {
		share, secret, err := serverKeyExchange(X25519MLKEM768, rand.Reader, in)
		if err != nil {
			if d, ok := alert.Of(err); !ok || d != alert.IllegalParameter {
				t.Fatalf("error %v, want illegal_parameter", err)
			}
			return
		}
		if len(share) != hybridServerLen || len(secret) != hybridSharedSecret {
			t.Fatalf("share %d, secret %d octets", len(share), len(secret))
		}
	})
}

// TestTicketPlaintextRoundTrip: a session survives marshal and unmarshal,
// and every truncation of it is refused.
func TestTicketPlaintextRoundTrip(t *testing.T) {
	in := serverSession{created: time.Unix(1_800_000_000, 0), ageAdd: 0xdeadbeef, suite: 0x1302, psk: bytes.Repeat([]byte{2}, 48),
		serverName: "server.test", peerChain: [][]byte{{0x30, 0x00}, {0x30, 0x01, 0x00}}}
	b, err := in.marshal()
	if err != nil {
		t.Fatal(err)
	}
	var out serverSession
	if !out.unmarshal(b) || !out.created.Equal(in.created) || out.ageAdd != in.ageAdd || out.suite != in.suite ||
		!bytes.Equal(out.psk, in.psk) || out.serverName != in.serverName || len(out.peerChain) != 2 || !bytes.Equal(out.peerChain[1], in.peerChain[1]) {
		t.Fatalf("round trip: %+v", out)
	}
	for n := range len(b) {
		if out.unmarshal(b[:n]) {
			t.Fatalf("truncated to %d octets, accepted", n)
		}
	}
	// A raw public key travels with its type.
	raw := serverSession{created: in.created, suite: 0x1301, psk: in.psk, peerType: wire.CertTypeRawPublicKey, peerChain: [][]byte{{0x30, 0x02, 0x05, 0x00}}}
	if b, err = raw.marshal(); err != nil {
		t.Fatal(err)
	}
	out = serverSession{}
	if !out.unmarshal(b) || out.peerType != wire.CertTypeRawPublicKey || len(out.peerChain) != 1 || !bytes.Equal(out.peerChain[0], raw.peerChain[0]) {
		t.Fatalf("raw key round trip: %+v", out)
	}
}

// TestTicketKeysFollowConfig: each server Config has its own state and
// ticket keys, and they are dropped once the Config is garbage: the table
// of states keeps no Config alive.
func TestTicketKeysFollowConfig(t *testing.T) {
	count := func() int {
		n := 0
		configStates.Range(func(any, any) bool { n++; return true })
		return n
	}
	before := count()
	a, b := &Config{}, &Config{}
	if a.derived().tickets == b.derived().tickets || a.derived() != a.derived() {
		t.Fatal("ticket keys not one per Config")
	}
	if count() != before+2 {
		t.Fatalf("%d states, want %d", count(), before+2)
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	a, b = nil, nil
	// Cleanups run after a collection, on their own goroutine: poll.
	deadline := time.Now().Add(time.Minute)
	for count() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d states left after the Configs were collected, want %d", count(), before)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
