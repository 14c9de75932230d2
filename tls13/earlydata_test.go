package tls13

import (
	"crypto/rand"
	"net"
	"sync"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// injectAfterFirst writes extra after the first Write (the ClientHello
// record), as a client sending 0-RTT data right behind it would.
type injectAfterFirst struct {
	net.Conn
	once  sync.Once
	extra []byte
}

func (c *injectAfterFirst) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil {
		c.once.Do(func() { _, err = c.Conn.Write(c.extra) })
	}
	return n, err
}

// fakeEarlyData returns count application_data records of size octets of
// random bytes: 0-RTT records under keys the server does not have.
func fakeEarlyData(count, size int) []byte {
	var out []byte
	for range count {
		body := make([]byte, size)
		rand.Read(body)
		out = append(out, rawRecord(record.TypeApplicationData, body)...)
	}
	return out
}

// TestServerSkipsEarlyData: a client that offers early_data and sends
// 0-RTT records gets a 1-RTT handshake; the server, which never accepts
// early data, skips those records (RFC 8446 §4.2.10): under its handshake
// keys, or before the second ClientHello after a HelloRetryRequest. More
// than it is willing to skip, or such records without early_data offered,
// are refused.
func TestServerSkipsEarlyData(t *testing.T) {
	p := testPKI(t)
	offer := func(m *wire.ClientHello) {
		m.Extensions = append(m.Extensions, wire.Extension{Type: wire.ExtEarlyData, Data: []byte{}})
	}
	cases := map[string]struct {
		offer      bool
		srvCurves  []CurveID
		records    []byte
		wantHRR    bool
		wantRemote alert.Description // the server's alert; 0: the handshake succeeds
	}{
		"skipped":                  {offer: true, records: fakeEarlyData(3, 1000)},
		"after change_cipher_spec": {offer: true, records: append(rawRecord(record.TypeChangeCipherSpec, []byte{1}), fakeEarlyData(2, 500)...)},
		"skipped before HRR":       {offer: true, srvCurves: []CurveID{CurveP256}, records: fakeEarlyData(3, 1000), wantHRR: true},
		"up to the budget":         {offer: true, records: fakeEarlyData(2, maxSkippedEarlyData/2)},
		"over the budget":          {offer: true, records: fakeEarlyData(3, maxSkippedEarlyData/2), wantRemote: alert.BadRecordMAC},
		"over the budget at HRR":   {offer: true, srvCurves: []CurveID{CurveP256}, records: fakeEarlyData(3, maxSkippedEarlyData/2), wantRemote: alert.UnexpectedMessage},
		"not offered":              {records: fakeEarlyData(1, 100), wantRemote: alert.BadRecordMAC},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.CurvePreferences = tc.srvCurves
			addr, res := startOurServer(t, scfg)
			raw := dialRaw(t, addr)
			ccfg := &Config{ServerName: "server.test", RootCAs: p.roots}
			if tc.offer {
				ccfg.editHello = offer
			}
			c := Client(&injectAfterFirst{Conn: raw, extra: tc.records}, ccfg)
			if tc.wantRemote == 0 {
				echo(t, c, "after early data")
				r := <-res
				if r.err != nil {
					t.Fatal(r.err)
				}
				if c.ConnectionState().HelloRetried != tc.wantHRR {
					t.Errorf("HRR %v, want %v", c.ConnectionState().HelloRetried, tc.wantHRR)
				}
				return
			}
			// The client's own handshake may end before the server
			// reads the records, or fail on a reset if it was still
			// writing when the server closed: the server's error
			// names the alert it sent.
			c.Handshake()
			r := <-res
			if d, ok := alert.Of(r.err); !ok || d != tc.wantRemote {
				t.Fatalf("server error %v, want alert %v", r.err, tc.wantRemote)
			}
		})
	}
}
