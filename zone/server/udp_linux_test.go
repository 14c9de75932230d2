//go:build linux

package server

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// The recvmmsg batcher reads each datagram with its sender's address, and
// sendmmsg answers each sender, over IPv4 and IPv6.
func TestMmsgBatcherPeers(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			b := newMmsgBatcher(pc)
			if b == nil {
				t.Fatal("no raw access to a UDP socket")
			}
			const clients = 3
			var cs [clients]*net.UDPConn
			for i := range cs {
				if cs[i], err = net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr)); err != nil {
					t.Fatal(err)
				}
				defer cs[i].Close()
				if _, err := cs[i].Write([]byte{byte(i), 'q'}); err != nil {
					t.Fatal(err)
				}
			}
			// Every datagram, in one batch or several.
			seen := map[string]bool{}
			for len(seen) < clients {
				n, err := b.read()
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < n; i++ {
					pkt := b.packet(i)
					if len(pkt) != 2 || int(pkt[0]) >= clients || pkt[1] != 'q' {
						t.Fatalf("datagram %q", pkt)
					}
					want := cs[pkt[0]].LocalAddr().String()
					if got := b.peer(i).String(); got != want {
						t.Fatalf("peer %s, want %s", got, want)
					}
					seen[want] = true
					b.answer(i, i, []byte{pkt[0], 'a'})
				}
				if w, err := b.write(0, n); err != nil || w != n {
					t.Fatalf("wrote %d of %d: %v", w, n, err)
				}
				b.clear(n)
			}
			for i, c := range cs {
				buf := make([]byte, 16)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, err := c.Read(buf)
				if err != nil || !bytes.Equal(buf[:n], []byte{byte(i), 'a'}) {
					t.Fatalf("client %d: %q %v", i, buf[:n], err)
				}
			}
		})
	}
}
