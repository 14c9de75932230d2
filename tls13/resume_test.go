package tls13

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/sigalg"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// TestResumeOurs: our client resumes with our server; the second handshake
// is a PSK one on both sides and reports the first's peer chain, through a
// HelloRetryRequest and with client certificates too.
func TestResumeOurs(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		srvCurves  []CurveID
		clientAuth bool
		wantHRR    bool
	}{
		"plain":           {},
		"HRR":             {srvCurves: []CurveID{CurveP256}, wantHRR: true},
		"client cert":     {clientAuth: true},
		"client cert HRR": {srvCurves: []CurveID{CurveP384}, clientAuth: true, wantHRR: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.CurvePreferences = tc.srvCurves
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0)}
			if tc.clientAuth {
				scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
				ccfg.Certificates = []Certificate{p.clients["ecdsa"]}
			}
			for i := range 3 {
				addr, res := startOurServer(t, scfg)
				c := dial(t, addr, ccfg)
				echo(t, c, "resume")
				r := <-res
				if r.err != nil {
					t.Fatal(r.err)
				}
				st := c.ConnectionState()
				want := i > 0
				if st.Resumed != want || r.state.Resumed != want || st.HelloRetried != tc.wantHRR {
					t.Fatalf("connection %d: client resumed %v, server resumed %v, HRR %v; want %v, %v", i, st.Resumed, r.state.Resumed, st.HelloRetried, want, tc.wantHRR)
				}
				if len(st.PeerCertificates) == 0 || !bytes.Equal(st.PeerCertificates[0].Raw, p.server.Certificate[0]) {
					t.Errorf("connection %d: client reports server chain %v", i, st.PeerCertificates)
				}
				if tc.clientAuth && (len(r.state.PeerCertificates) != 1 || r.state.PeerCertificates[0].Subject.CommonName != "client-ecdsa") {
					t.Errorf("connection %d: server reports client chain %v", i, r.state.PeerCertificates)
				}
			}
		})
	}
}

// TestResumeNoCache: a client without a ClientSessionCache, and a server
// with SessionTicketsDisabled, never resume.
func TestResumeNoCache(t *testing.T) {
	p := testPKI(t)
	for _, disabled := range []bool{false, true} {
		scfg := ourServerConfig(p)
		scfg.SessionTicketsDisabled = disabled
		ccfg := &Config{ServerName: "server.test", RootCAs: p.roots}
		if disabled {
			ccfg.ClientSessionCache = NewLRUClientSessionCache(1)
		}
		for range 2 {
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, ccfg)
			echo(t, c, "no resume")
			if r := <-res; r.err != nil || r.state.Resumed || c.ConnectionState().Resumed {
				t.Fatalf("disabled %v: resumed (%v)", disabled, r.err)
			}
		}
		if disabled {
			if _, ok := ccfg.ClientSessionCache.Get("server.test"); ok {
				t.Error("client kept a session from a server that issues none")
			}
		}
	}
}

// TestResumeWithCryptoTLSServer: our client resumes with crypto/tls's
// server, which must report the resumption too.
func TestResumeWithCryptoTLSServer(t *testing.T) {
	p := testPKI(t)
	scfg := serverConfig(p)
	cases := map[string][]tls.CurveID{"plain": nil, "HRR": {tls.CurveP256}}
	for name, curves := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := scfg.Clone()
			scfg.CurvePreferences = curves
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0)}
			for i := range 2 {
				addr, res := startServer(t, scfg)
				c := dial(t, addr, ccfg)
				echo(t, c, "resume")
				r := <-res
				if r.err != nil {
					t.Fatal(r.err)
				}
				want := i > 0
				if c.ConnectionState().Resumed != want || r.state.DidResume != want {
					t.Fatalf("connection %d: ours resumed %v, crypto/tls %v; want %v", i, c.ConnectionState().Resumed, r.state.DidResume, want)
				}
			}
		})
	}
}

// TestResumeWithCryptoTLSClient: crypto/tls's client resumes with our
// server.
func TestResumeWithCryptoTLSClient(t *testing.T) {
	p := testPKI(t)
	cases := map[string]struct {
		srvCurves []CurveID
		cliCurves []tls.CurveID
		suites    []uint16
	}{
		"plain":   {},
		"HRR":     {srvCurves: []CurveID{CurveP256}, cliCurves: []tls.CurveID{tls.X25519, tls.CurveP256}},
		"SHA-384": {srvCurves: []CurveID{X25519}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.CurvePreferences = tc.srvCurves
			ccfg := &tls.Config{ServerName: "server.test", RootCAs: p.roots, MinVersion: tls.VersionTLS13,
				ClientSessionCache: tls.NewLRUClientSessionCache(0), CurvePreferences: tc.cliCurves}
			for i := range 2 {
				addr, res := startOurServer(t, scfg)
				c := tlsDial(t, addr, ccfg)
				tlsEcho(t, c, "resume")
				// The ticket arrives after the handshake; reading
				// the echo took it in.
				c.Close()
				r := <-res
				if r.err != nil {
					t.Fatal(r.err)
				}
				want := i > 0
				if c.ConnectionState().DidResume != want || r.state.Resumed != want {
					t.Fatalf("connection %d: crypto/tls resumed %v, ours %v; want %v", i, c.ConnectionState().DidResume, r.state.Resumed, want)
				}
			}
		})
	}
}

// pskOffer is a ClientHello with a pre_shared_key, built by hand.
type pskOffer struct {
	suites     []uint16
	modes      []uint8 // nil: no psk_key_exchange_modes
	ids        []wire.PSKIdentity
	psks       [][]byte // the PSK each binder is computed with
	serverName string
	afterPSK   bool // an extension after pre_shared_key
	noSigAlgs  bool // no signature_algorithms (RFC 8446 §9.2 allows it with a PSK)
	flipBinder bool
	// For a HelloRetryRequest: supported_groups (nil: X25519 only), the
	// group of the one key share (0: X25519), the cookie to echo, and
	// the transcript before this ClientHello (message_hash and the
	// HelloRetryRequest) the binders cover.
	groups []uint16
	share  CurveID
	cookie []byte
	prefix []byte
}

func (o pskOffer) marshal(t testing.TB) []byte {
	t.Helper()
	m := wire.ClientHello{LegacyVersion: record.LegacyVersion, SessionID: make([]byte, 32), CipherSuites: o.suites, CompressionMethods: []byte{0}}
	rand.Read(m.Random[:])
	share, groups := o.share, o.groups
	if share == 0 {
		share = X25519
	}
	if groups == nil {
		groups = []uint16{wire.GroupX25519}
	}
	k, err := newGroupKey(share, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m.Extensions = []wire.Extension{
		wire.NewClientSupportedVersionsExtension([]uint16{wire.VersionTLS13}),
		wire.NewSupportedGroupsExtension(groups),
		wire.NewClientKeyShareExtension([]wire.KeyShare{{Group: uint16(share), Data: k.share()}}),
		wire.NewServerNameExtension(o.serverName),
	}
	if o.cookie != nil {
		m.Extensions = append(m.Extensions, wire.NewCookieExtension(o.cookie))
	}
	if !o.noSigAlgs {
		m.Extensions = append(m.Extensions, wire.NewSignatureAlgorithmsExtension(sigalg.Schemes(), false))
	}
	if o.modes != nil {
		m.Extensions = append(m.Extensions, wire.NewPSKModesExtension(o.modes))
	}
	if o.ids == nil {
		return rawRecord(record.TypeHandshake, m.Marshal())
	}
	h := record.SuiteByID(o.suites[0]).Hash
	offered := &wire.OfferedPSKs{Identities: o.ids}
	for range o.ids {
		offered.Binders = append(offered.Binders, make([]byte, h.Size()))
	}
	m.Extensions = append(m.Extensions, wire.NewPreSharedKeyExtension(offered))
	m.PreSharedKey = offered
	truncated, _ := m.TruncatedForBinders()
	d := h.New()
	d.Write(o.prefix)
	d.Write(truncated)
	for i, psk := range o.psks {
		offered.Binders[i] = binderMAC(h, psk, d.Sum(nil))
	}
	if o.flipBinder {
		offered.Binders[0][0] ^= 1
	}
	m.Extensions[len(m.Extensions)-1] = wire.NewPreSharedKeyExtension(offered)
	if o.afterPSK {
		m.Extensions = append(m.Extensions, wire.NewALPNExtension([]string{"h2"}))
	}
	return rawRecord(record.TypeHandshake, m.Marshal())
}

// TestServerPSKRefusals offers our server tickets it must not accept and
// reads what it answers: an alert, or a ServerHello whose pre_shared_key
// tells whether (and which identity) it resumed.
func TestServerPSKRefusals(t *testing.T) {
	p := testPKI(t)
	var skew atomic.Int64 // added to the server's clock
	scfg := ourServerConfig(p)
	scfg.Time = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0)}
	addr, res := startOurServer(t, scfg)
	echo(t, dial(t, addr, ccfg), "ticket")
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
	s, ok := ccfg.ClientSessionCache.Get("server.test")
	if !ok || s.suite != record.TLS_AES_128_GCM_SHA256 {
		t.Fatalf("no session, or one of suite %#04x", s.suite)
	}
	// A ticket from a server with other keys.
	other := ourServerConfig(p)
	ocfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0)}
	addr, res = startOurServer(t, other)
	echo(t, dial(t, addr, ocfg), "ticket")
	<-res
	os, _ := ocfg.ClientSessionCache.Get("server.test")

	age := func(s *ClientSessionState) uint32 { return uint32(time.Since(s.receivedAt).Milliseconds()) + s.ageAdd }
	id := wire.PSKIdentity{Identity: s.ticket, ObfuscatedTicketAge: age(s)}
	modified := bytes.Clone(s.ticket)
	modified[len(modified)-1] ^= 1
	suites := []uint16{record.TLS_AES_128_GCM_SHA256}
	dhe := []uint8{wire.PSKModeDHEKE}
	const full = -1
	cases := map[string]struct {
		offer     pskOffer
		skew      time.Duration
		wantAlert alert.Description
		wantID    int
	}{
		"valid":                   {offer: pskOffer{ids: []wire.PSKIdentity{id}, psks: [][]byte{s.psk}}, wantID: 0},
		"second identity":         {offer: pskOffer{ids: []wire.PSKIdentity{{Identity: []byte("no such ticket"), ObfuscatedTicketAge: 1}, id}, psks: [][]byte{s.psk, s.psk}}, wantID: 1},
		"bad binder":              {offer: pskOffer{ids: []wire.PSKIdentity{id}, psks: [][]byte{s.psk}, flipBinder: true}, wantAlert: alert.DecryptError},
		"ticket without its PSK":  {offer: pskOffer{ids: []wire.PSKIdentity{id}, psks: [][]byte{make([]byte, 32)}}, wantAlert: alert.DecryptError},
		"modified ticket":         {offer: pskOffer{ids: []wire.PSKIdentity{{Identity: modified, ObfuscatedTicketAge: id.ObfuscatedTicketAge}}, psks: [][]byte{s.psk}}, wantID: full},
		"other server's ticket":   {offer: pskOffer{ids: []wire.PSKIdentity{{Identity: os.ticket, ObfuscatedTicketAge: age(os)}}, psks: [][]byte{os.psk}}, wantID: full},
		"pre_shared_key not last": {offer: pskOffer{ids: []wire.PSKIdentity{id}, psks: [][]byte{s.psk}, afterPSK: true}, wantAlert: alert.IllegalParameter},
		"psk_ke only":             {offer: pskOffer{modes: []uint8{wire.PSKModeKE}, ids: []wire.PSKIdentity{id}, psks: [][]byte{s.psk}}, wantID: full},
		"no psk modes":            {offer: pskOffer{modes: []uint8{}, ids: []wire.PSKIdentity{id}, psks: [][]byte{s.psk}}, wantAlert: alert.MissingExtension},
		"expired":                 {offer: pskOffer{ids: []wire.PSKIdentity{id}, psks: [][]byte{s.psk}}, skew: ticketLifetime + time.Minute, wantID: full},
		"client age too high":     {offer: pskOffer{ids: []wire.PSKIdentity{{Identity: s.ticket, ObfuscatedTicketAge: s.ageAdd - 1}}, psks: [][]byte{s.psk}}, wantID: full},
		"other server name":       {offer: pskOffer{ids: []wire.PSKIdentity{id}, psks: [][]byte{s.psk}, serverName: "other.test"}, wantID: full},
		"no signature_algorithms": {offer: pskOffer{ids: []wire.PSKIdentity{id}, psks: [][]byte{s.psk}, noSigAlgs: true}, wantID: 0},
		"no signature_algorithms, ticket refused": {offer: pskOffer{ids: []wire.PSKIdentity{{Identity: modified, ObfuscatedTicketAge: id.ObfuscatedTicketAge}}, psks: [][]byte{s.psk}, noSigAlgs: true}, wantAlert: alert.MissingExtension},
		"suite of another hash":                   {offer: pskOffer{suites: []uint16{record.TLS_AES_256_GCM_SHA384}, ids: []wire.PSKIdentity{id}, psks: [][]byte{s.psk}}, wantID: full},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := tc.offer
			if o.suites == nil {
				o.suites = suites
			}
			if o.modes == nil {
				o.modes = dhe
			} else if len(o.modes) == 0 {
				o.modes = nil
			}
			if o.serverName == "" {
				o.serverName = "server.test"
			}
			skew.Store(int64(tc.skew))
			defer skew.Store(0)
			addr, res := startOurServer(t, scfg)
			c := dialRaw(t, addr)
			if _, err := c.Write(o.marshal(t)); err != nil {
				t.Fatal(err)
			}
			rec, err := readRawRecord(c)
			if err != nil {
				t.Fatal(err)
			}
			checkSelectedIdentity(t, rec, tc.wantAlert, tc.wantID)
			c.Close()
			<-res
		})
	}
}

// checkSelectedIdentity fails t unless rec, the server's answer to a
// ClientHello offering PSKs, is the alert wantAlert or, when wantAlert is
// 0, a ServerHello selecting PSK identity wantID.
func checkSelectedIdentity(t *testing.T, rec []byte, wantAlert alert.Description, wantID int) {
	t.Helper()
	switch record.ContentType(rec[0]) {
	case record.TypeAlert:
		if wantAlert == 0 || alert.Description(rec[6]) != wantAlert {
			t.Fatalf("alert %v; want alert %v / identity %d", alert.Description(rec[6]), wantAlert, wantID)
		}
	case record.TypeHandshake:
		var sh wire.ServerHello
		if err := sh.Unmarshal(rec[record.HeaderLen:]); err != nil {
			t.Fatal(err)
		}
		if wantAlert != 0 || sh.SelectedIdentity != wantID {
			t.Fatalf("ServerHello selects identity %d; want alert %v / identity %d", sh.SelectedIdentity, wantAlert, wantID)
		}
	default:
		t.Fatalf("record % x", rec[:5])
	}
}

// TestTicketKeyRotation: a key seals tickets for ticketKeyPeriod, then a
// new one does; an old key opens its tickets until the last one it sealed
// has expired, and not after.
func TestTicketKeyRotation(t *testing.T) {
	var k ticketKeys
	t0 := time.Unix(1_800_000_000, 0)
	k1, err := k.current(t0, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer k1.release()
	k2, _ := k.current(t0.Add(ticketKeyPeriod-time.Second), rand.Reader)
	k2.release()
	if k2 != k1 {
		t.Fatal("key replaced within its period")
	}
	ticket, err := sealTicket(k1, []byte("session"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(ticketKeyPeriod + time.Second)
	k3, _ := k.current(later, rand.Reader)
	k3.release()
	if k3 == k1 {
		t.Fatal("key not rotated after its period")
	}
	if plain, err := openTicket(&k, ticket, later); err != nil || string(plain) != "session" {
		t.Fatalf("old key no longer opens its ticket: %v", err)
	}
	if _, err := openTicket(&k, ticket, t0.Add(ticketKeyPeriod+ticketLifetime+time.Second)); err == nil {
		t.Fatal("a key opens tickets after the last it sealed expired")
	}
	var other ticketKeys
	if _, err := openTicket(&other, ticket, t0); err == nil {
		t.Fatal("another keyring opens the ticket")
	}
	// Keys that expire together (no handshake in between) are all
	// dropped and wiped.
	var quiet ticketKeys
	a, _ := quiet.current(t0, rand.Reader)
	a.release()
	b, _ := quiet.current(later, rand.Reader)
	b.release()
	quiet.find(a.name[:], later.Add(ticketKeyPeriod+ticketLifetime+time.Second))
	if n := len(quiet.load()); n != 0 || a.sealer != nil || b.sealer != nil {
		t.Fatalf("%d keys left; expired keys wiped: %v, %v", n, a.sealer == nil, b.sealer == nil)
	}
}

// TestTicketKeyWipedAfterLastHolder: a retired key stays usable by the
// handshakes that hold it, is wiped when the last lets go, and then is
// collected; a handshake that loaded the old set but took no hold is
// refused the key.
func TestTicketKeyWipedAfterLastHolder(t *testing.T) {
	var k ticketKeys
	t0 := time.Unix(1_800_000_000, 0)
	old, err := k.current(t0, rand.Reader) // a handshake holds it
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := sealTicket(old, []byte("session"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stale := k.load() // a handshake loaded the set, took no hold yet
	sealer := weak.Make(old.sealer)

	gone := t0.Add(ticketKeyPeriod + ticketLifetime + time.Second)
	nk, err := k.current(gone, rand.Reader) // rotation retires old
	if err != nil {
		t.Fatal(err)
	}
	nk.release()
	if set := k.load(); len(set) != 1 || set[0] != nk {
		t.Fatalf("set after rotation: %d keys", len(set))
	}
	if old.sealer == nil {
		t.Fatal("retired key wiped while a handshake holds it")
	}
	if _, err := old.sealer.aead.Open(nil, ticket[ticketKeyNameLen:ticketKeyNameLen+12], ticket[ticketKeyNameLen+12:], ticket[:ticketKeyNameLen]); err != nil {
		t.Fatalf("holder can no longer open with the retired key: %v", err)
	}
	if stale[0] != old || stale[0].acquire() {
		t.Fatal("a retired key was taken from a stale set while another holds it; want refused")
	}
	old.release()
	if old.sealer != nil || old.refs.Load() != 0 {
		t.Fatalf("retired key not wiped after its last holder (%d holds)", old.refs.Load())
	}
	if stale[0].acquire() {
		t.Fatal("a wiped key was taken from a stale set")
	}
	if _, err := openTicket(&k, ticket, gone); err == nil {
		t.Fatal("a ticket of a wiped key opens")
	}
	for i := 0; sealer.Value() != nil; i++ {
		if i == 100 {
			t.Fatal("the wiped key's AEAD is still reachable after 100 collections")
		}
		runtime.GC()
	}
	if nk.sealer == nil || nk.refs.Load() != 1 {
		t.Fatalf("current key: wiped %v, %d holds, want 1 (the set's)", nk.sealer == nil, nk.refs.Load())
	}
}

// TestTicketKeysConcurrentRotation: handshakes seal and open while the
// clock runs through many key lifetimes; run with -race. Every ticket
// opens until its key expires (a wiped key used by a holder would panic
// or fail to open), and at the end only live keys are held, each by its
// set alone.
func TestTicketKeysConcurrentRotation(t *testing.T) {
	var k ticketKeys
	t0 := time.Unix(1_800_000_000, 0)
	var clock atomic.Int64 // hours since t0
	now := func() time.Time { return t0.Add(time.Duration(clock.Load()) * time.Hour) }
	var retired []*ticketKey
	var mu sync.Mutex
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				at := now()
				key, err := k.current(at, rand.Reader)
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				retired = append(retired, key)
				mu.Unlock()
				ticket, err := sealTicket(key, []byte("session"), rand.Reader)
				key.release()
				if err != nil {
					errc <- err
					return
				}
				if plain, err := openTicket(&k, ticket, at); err != nil && !key.expired(now()) {
					errc <- fmt.Errorf("ticket sealed at %v does not open: %v", at, err)
					return
				} else if err == nil && string(plain) != "session" {
					errc <- fmt.Errorf("opened %q", plain)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 600; i++ {
			clock.Add(13) // a new key every other step; one expires every 15
			runtime.Gosched()
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	end := now().Add(ticketKeyPeriod + ticketLifetime + time.Hour)
	if key, err := k.current(end, rand.Reader); err != nil {
		t.Fatal(err)
	} else {
		key.release()
	}
	live := k.load()
	for _, key := range retired {
		switch {
		case slices.Contains(live, key):
			if key.refs.Load() != 1 || key.sealer == nil {
				t.Fatalf("live key: %d holds, wiped %v", key.refs.Load(), key.sealer == nil)
			}
		case key.refs.Load() != 0 || key.sealer != nil:
			t.Fatalf("retired key: %d holds, wiped %v", key.refs.Load(), key.sealer == nil)
		}
	}
}

// TestClientRefusesServerPSK: a relay rewrites crypto/tls's ServerHello to
// a resumption attempt so that it selects an identity we did not offer, or
// pairs the PSK with a suite of another hash (RFC 8446 §4.2.11).
func TestClientRefusesServerPSK(t *testing.T) {
	p := testPKI(t)
	cases := map[string]func(sh *wire.ServerHello){
		"identity not offered": func(sh *wire.ServerHello) { setExt(sh, wire.NewServerPreSharedKeyExtension(1)) },
		"suite of another hash": func(sh *wire.ServerHello) {
			sh.CipherSuite = record.TLS_AES_256_GCM_SHA384
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := serverConfig(p)
			scfg.CipherSuites = []uint16{tls.TLS_AES_128_GCM_SHA256}
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0)}
			addr, res := startServer(t, scfg)
			echo(t, dial(t, addr, ccfg), "ticket")
			<-res
			if s, ok := ccfg.ClientSessionCache.Get("server.test"); !ok || s.suite != record.TLS_AES_128_GCM_SHA256 {
				t.Fatal("no SHA-256 session from crypto/tls")
			}
			addr = startTamperer(t, scfg, editHello(func(n int, sh *wire.ServerHello) [][]byte {
				if sh.SelectedIdentity != 0 {
					panic("crypto/tls did not resume")
				}
				edit(sh)
				return [][]byte{shRecord(sh)}
			}))
			err := dial(t, addr, ccfg).HandshakeContext(context.Background())
			if d, ok := alert.Of(err); !ok || d != alert.IllegalParameter {
				t.Fatalf("handshake error %v, want illegal_parameter", err)
			}
		})
	}
}

// recordLog is a net.Conn that keeps what is written through it.
type recordLog struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (l *recordLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	l.out = append(l.out, b...)
	l.mu.Unlock()
	return l.Conn.Write(b)
}

// clientHellos returns the ClientHellos in a logged record stream.
func (l *recordLog) clientHellos(t *testing.T) []*wire.ClientHello {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*wire.ClientHello
	for b := l.out; len(b) >= record.HeaderLen; {
		n := int(b[3])<<8 | int(b[4])
		body := b[record.HeaderLen : record.HeaderLen+n]
		if record.ContentType(b[0]) == record.TypeHandshake && body[0] == byte(wire.TypeClientHello) {
			ch := new(wire.ClientHello)
			if err := ch.Unmarshal(body); err != nil {
				t.Fatal(err)
			}
			out = append(out, ch)
		}
		b = b[record.HeaderLen+n:]
	}
	return out
}

// reconfigure returns copies of a server and a client Config changed by
// change: a Config must not be changed once used. The server's copy
// shares the original's ticket keys, as if the server had been
// reconfigured in place, and the client's its session cache.
func reconfigure(s, c *Config, change func(s, c *Config)) (*Config, *Config) {
	s2, c2 := *s, *c
	change(&s2, &c2)
	s2.derived().tickets = s.derived().tickets
	return &s2, &c2
}

// TestClientPSKAfterHRR: after a HelloRetryRequest the second ClientHello
// offers the PSK again, with a new binder, when the suite's hash is the
// PSK's, and drops it when it is not (RFC 8446 §4.1.2).
func TestClientPSKAfterHRR(t *testing.T) {
	p := testPKI(t)
	for _, tc := range []struct {
		name      string
		suite     uint16
		wantOffer bool
	}{
		{"same hash", record.TLS_CHACHA20_POLY1305_SHA256, true},
		{"other hash", record.TLS_AES_256_GCM_SHA384, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(1)}
			addr, res := startOurServer(t, scfg)
			echo(t, dial(t, addr, ccfg), "ticket")
			<-res
			if s, ok := ccfg.ClientSessionCache.Get("server.test"); !ok || s.suite != record.TLS_AES_128_GCM_SHA256 {
				t.Fatal("no AES-128-GCM session")
			}
			saved := serverSuites
			serverSuites = []uint16{tc.suite}
			t.Cleanup(func() { serverSuites = saved })
			scfg, _ = reconfigure(scfg, ccfg, func(s, _ *Config) { s.CurvePreferences = []CurveID{CurveP256} })
			addr, res = startOurServer(t, scfg)
			raw := dialRaw(t, addr)
			log := &recordLog{Conn: raw}
			c := Client(log, ccfg)
			echo(t, c, "after HRR")
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			hellos := log.clientHellos(t)
			if len(hellos) != 2 || hellos[0].PreSharedKey == nil {
				t.Fatalf("%d ClientHellos, first offering a PSK: %v", len(hellos), len(hellos) > 0 && hellos[0].PreSharedKey != nil)
			}
			if got := hellos[1].PreSharedKey != nil; got != tc.wantOffer {
				t.Fatalf("second ClientHello offers the PSK: %v, want %v", got, tc.wantOffer)
			}
			if tc.wantOffer && bytes.Equal(hellos[0].PreSharedKey.Binders[0], hellos[1].PreSharedKey.Binders[0]) {
				t.Error("binder not recomputed")
			}
			if c.ConnectionState().Resumed != tc.wantOffer || r.state.Resumed != tc.wantOffer || !r.state.HelloRetried {
				t.Errorf("resumed %v/%v HRR %v; want resumed %v after HRR", c.ConnectionState().Resumed, r.state.Resumed, r.state.HelloRetried, tc.wantOffer)
			}
		})
	}
}

// TestResumeNotPastCertificate: a session is not resumed once the peer's
// certificate from its first connection has expired: the client does not
// offer it, the server does not accept it, and the full handshake that
// follows refuses the expired certificate.
func TestResumeNotPastCertificate(t *testing.T) {
	p := testPKI(t)
	later := func() time.Time { return time.Now().Add(48 * time.Hour) } // test certificates last 24 hours
	t.Run("client", func(t *testing.T) {
		ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(1)}
		scfg := ourServerConfig(p)
		addr, res := startOurServer(t, scfg)
		echo(t, dial(t, addr, ccfg), "ticket")
		<-res
		ccfg.Time = later
		addr, res = startOurServer(t, scfg)
		err := dial(t, addr, ccfg).HandshakeContext(context.Background())
		if d, ok := alert.Of(err); !ok || d != alert.CertificateExpired {
			t.Fatalf("handshake error %v, want certificate_expired from a full handshake", err)
		}
		<-res
	})
	t.Run("server", func(t *testing.T) {
		var skew atomic.Int64
		scfg := ourServerConfig(p)
		scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
		scfg.Time = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(1),
			Certificates: []Certificate{p.clients["ecdsa"]}}
		addr, res := startOurServer(t, scfg)
		echo(t, dial(t, addr, ccfg), "ticket")
		<-res
		skew.Store(int64(48 * time.Hour))
		addr, res = startOurServer(t, scfg)
		c := dial(t, addr, ccfg)
		c.HandshakeContext(context.Background())
		c.Close()
		r := <-res
		if d, ok := alert.Of(r.err); !ok || d != alert.CertificateExpired {
			t.Fatalf("server error %v, want certificate_expired from a full handshake", r.err)
		}
	})
}

// TestVerifyConnectionOnResumption: a resumed handshake runs
// VerifyConnection again, on the original connection's chain, so a peer
// refused since the ticket was issued (its TLSA record withdrawn, say) is
// not let back in by the ticket. The first connection is accepted and
// leaves a ticket; the second offers it, and the side's VerifyConnection,
// now refusing, ends it with handshake_failure.
func TestVerifyConnectionOnResumption(t *testing.T) {
	p := testPKI(t)
	refuse := errors.New("no longer published")
	for _, side := range []string{"server", "client"} {
		t.Run(side, func(t *testing.T) {
			var refusing atomic.Bool
			var seen ConnectionState // what the refusing call saw
			verify := func(_ context.Context, cs ConnectionState) error {
				if !refusing.Load() {
					return nil
				}
				seen = cs
				return refuse
			}
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, Certificates: []Certificate{p.clients["ecdsa"]},
				ClientSessionCache: NewLRUClientSessionCache(0)}
			if side == "server" {
				scfg.VerifyConnection = verify
			} else {
				ccfg.VerifyConnection = verify
			}
			addr, res := startOurServer(t, scfg)
			echo(t, dial(t, addr, ccfg), "first")
			if r := <-res; r.err != nil {
				t.Fatal(r.err)
			}

			refusing.Store(true)
			addr, res = startOurServer(t, scfg)
			c := dial(t, addr, ccfg)
			cerr := c.HandshakeContext(context.Background())
			if side == "server" && cerr == nil {
				// The client's flight is complete before the server
				// refuses it: the alert comes on the next read.
				c.Write([]byte("x"))
				_, cerr = c.Read(make([]byte, 1))
			}
			c.Close()
			r := <-res
			refuser := r.err
			if side == "client" {
				refuser = cerr
			}
			if d, ok := alert.Of(refuser); !ok || d != alert.HandshakeFailure || !errors.Is(refuser, refuse) {
				t.Fatalf("%s error %v, want handshake_failure wrapping the refusal", side, refuser)
			}
			if !seen.Resumed || len(seen.PeerCertificates) == 0 {
				t.Errorf("VerifyConnection saw resumed %v, %d certificates; want the resumed session's chain", seen.Resumed, len(seen.PeerCertificates))
			}
		})
	}
}

// TestNoResumptionPastNewClientAuth: a ticket from a connection without a
// client certificate does not resume once the server requires one; the
// full handshake that follows asks for the certificate the client lacks.
func TestNoResumptionPastNewClientAuth(t *testing.T) {
	p := testPKI(t)
	scfg := ourServerConfig(p)
	ccfg := &Config{ServerName: "server.test", RootCAs: p.roots, ClientSessionCache: NewLRUClientSessionCache(0)}
	addr, res := startOurServer(t, scfg)
	echo(t, dial(t, addr, ccfg), "ticket")
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
	if _, ok := ccfg.ClientSessionCache.Get("server.test"); !ok {
		t.Fatal("no ticket")
	}
	// The same Config, so the same ticket keys.
	scfg.ClientAuth, scfg.ClientCAs = RequireClientCert, p.clientPool
	addr, res = startOurServer(t, scfg)
	c := dial(t, addr, ccfg)
	c.HandshakeContext(context.Background())
	c.Close()
	r := <-res
	if d, ok := alert.Of(r.err); !ok || d != alert.CertificateRequired || r.state.Resumed {
		t.Fatalf("server error %v, resumed %v; want certificate_required from a full handshake", r.err, r.state.Resumed)
	}
}
