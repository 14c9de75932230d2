package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
)

// udpQuery packs one query for the UDP loop tests.
func udpQuery(t testing.TB, name string, qtype uint16, rd, edns bool) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = rd
	if edns {
		m.SetEdns0(1232, true)
	}
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// udpAsk sends pkt with the given ID from c and returns the answer with
// that ID. It sends again after a silent deadline (a datagram may be
// lost) and fails after a few tries.
func udpAsk(c *net.UDPConn, pkt []byte, id uint16) ([]byte, error) {
	q := append([]byte(nil), pkt...)
	q[0], q[1] = byte(id>>8), byte(id)
	buf := make([]byte, 65535)
	for try := 0; try < 4; try++ {
		if _, err := c.Write(q); err != nil {
			return nil, err
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			n, err := c.Read(buf)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break
			}
			if err != nil {
				return nil, err
			}
			if n >= 2 && uint16(buf[0])<<8|uint16(buf[1]) == id {
				return append([]byte(nil), buf[:n]...), nil
			}
			// An answer to an earlier try: read on.
		}
	}
	return nil, fmt.Errorf("no answer with ID %d", id)
}

// Several UDP reader loops on one socket answer concurrent clients with
// the same octets one client gets alone, from the response cache and from
// the packed records, and count every answer once.
// Both ways of batching are tried: recvmmsg and sendmmsg on the loop's
// own headers (Linux) and golang.org/x/net's batches (other systems).
func TestUDPLoopsConcurrentClients(t *testing.T) {
	for _, portable := range []bool{false, true} {
		t.Run(map[bool]string{false: "native", true: "portable"}[portable], func(t *testing.T) {
			testUDPLoops(t, portable)
		})
	}
}

func testUDPLoops(t *testing.T, portable bool) {
	const loops, clients, rounds = 4, 8, 150
	ts := startServerWith(t, func(c *Config) { c.udpLoops, c.udpPortable = loops, portable })
	addRR(t, ts.zone,
		"c1._device.devices.test. 300 IN TLSA 3 1 1 "+strings.Repeat("11", 32),
		"c2._device.devices.test. 300 IN TLSA 3 1 1 "+strings.Repeat("22", 32),
		"c2._device.devices.test. 300 IN TLSA 3 1 2 "+strings.Repeat("33", 64),
	)
	qs := [][]byte{
		// Signed by the general path and cached (RD and DO).
		udpQuery(t, "c1._device.devices.test.", dns.TypeTLSA, true, true),
		udpQuery(t, "c2._device.devices.test.", dns.TypeTLSA, true, true),
		// Then, with another cache key, built from the packed records
		// and their signatures (the direct path).
		udpQuery(t, "c1._device.devices.test.", dns.TypeTLSA, false, true),
		udpQuery(t, "c2._device.devices.test.", dns.TypeTLSA, false, true),
		udpQuery(t, "c2._device.devices.test.", dns.TypeTLSA, false, false),
		// Negative answers, signed once and cached.
		udpQuery(t, "gone._device.devices.test.", dns.TypeTLSA, true, true),
		udpQuery(t, "c1._device.devices.test.", dns.TypeSSHFP, true, true),
	}
	// What one client gets alone, once every answer is signed.
	raddr := mustUDPAddr(t, ts.addr)
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := make([][]byte, len(qs))
	for i, q := range qs {
		if _, err := udpAsk(c, q, 1); err != nil {
			t.Fatal(err)
		}
		if want[i], err = udpAsk(c, q, 1); err != nil {
			t.Fatal(err)
		}
		var m dns.Msg
		if err := m.Unpack(want[i]); err != nil || !m.Authoritative || m.Rcode == dns.RcodeServerFailure {
			t.Fatalf("query %d: %v\n%v", i, err, &m)
		}
	}
	before := ts.srv.metrics.get("cache_hit") + ts.srv.metrics.get("direct")
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for cl := 0; cl < clients; cl++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialUDP("udp", nil, raddr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for r := 0; r < rounds; r++ {
				i := (cl + r) % len(qs)
				id := uint16(cl*rounds + r + 2)
				got, err := udpAsk(c, qs[i], id)
				if err != nil {
					errs <- err
					return
				}
				w := append([]byte(nil), want[i]...)
				w[0], w[1] = byte(id>>8), byte(id)
				if !bytes.Equal(got, w) {
					var a, b dns.Msg
					a.Unpack(got)
					b.Unpack(w)
					errs <- fmt.Errorf("client %d query %d: got\n%v\nwant\n%v", cl, i, &a, &b)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every answer came from the cache or the packed records, counted
	// once (a lost datagram sent again counts once more).
	if got := ts.srv.metrics.get("cache_hit") + ts.srv.metrics.get("direct") - before; got < clients*rounds {
		t.Errorf("cache_hit+direct grew by %d, want at least %d", got, clients*rounds)
	}
	if got := ts.srv.metrics.get("direct"); got < 3 {
		t.Errorf("direct = %d: the direct path was not taken", got)
	}
}

// Stopping the server stops every UDP loop and closes every descriptor of
// the socket: Serve returns, and the port can be bound again.
func TestUDPLoopsStopOnShutdown(t *testing.T) {
	const loops = 5
	dir := filepath.Join(t.TempDir(), "zone")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	srv, err := New(Config{Zone: z, udpLoops: loops})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ls.UDP.LocalAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	deadline := time.Now().Add(30 * time.Second)
	for srv.udpRunning.Load() != loops {
		if time.Now().After(deadline) {
			t.Fatalf("%d UDP loops running, want %d", srv.udpRunning.Load(), loops)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := net.DialUDP("udp", nil, mustUDPAddr(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := udpAsk(c, udpQuery(t, origin, dns.TypeSOA, false, true), 7); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Serve did not return; %d UDP loops still running", srv.udpRunning.Load())
	}
	if n := srv.udpRunning.Load(); n != 0 {
		t.Fatalf("%d UDP loops still running after Serve returned", n)
	}
	// A descriptor left open would keep the port bound.
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("port still bound after the server stopped: %v", err)
	}
	pc.Close()
}
