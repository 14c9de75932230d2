package tls13

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
)

// TestRecordLimits: records and messages without data (empty
// application_data records, user_canceled alerts, KeyUpdates) are accepted
// up to their limit and refused with unexpected_message past it, so that a
// peer cannot keep the connection busy without end; data resets the count.
func TestRecordLimits(t *testing.T) {
	p := testPKI(t)
	type step struct {
		empty, canceled, keyUpdates int
		data                        string
	}
	cases := []struct {
		name  string
		steps []step
		fail  bool
	}{
		{"empty records at the limit", []step{{empty: maxEmptyRecords, data: "x"}}, false},
		{"empty records past the limit", []step{{empty: maxEmptyRecords + 1}}, true},
		{"empty records reset by data", []step{{empty: maxEmptyRecords, data: "x"}, {empty: maxEmptyRecords, data: "y"}}, false},
		{"user_canceled at the limit", []step{{canceled: maxIgnoredAlerts, data: "x"}}, false},
		{"user_canceled past the limit", []step{{canceled: maxIgnoredAlerts + 1}}, true},
		{"user_canceled reset by data", []step{{canceled: maxIgnoredAlerts, data: "x"}, {canceled: maxIgnoredAlerts, data: "y"}}, false},
		{"KeyUpdates at the limit", []step{{keyUpdates: maxKeyUpdates, data: "x"}}, false},
		{"KeyUpdates past the limit", []step{{keyUpdates: maxKeyUpdates + 1}}, true},
		{"KeyUpdates reset by data", []step{{keyUpdates: maxKeyUpdates, data: "x"}, {keyUpdates: maxKeyUpdates, data: "y"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, res := startOurServer(t, ourServerConfig(p))
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots})
			if err := c.HandshakeContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			var sent string
			c.outMu.Lock()
			for _, s := range tc.steps {
				for range s.empty {
					if err := c.rc.WriteRecord(record.TypeApplicationData, nil); err != nil {
						t.Fatal(err)
					}
				}
				for range s.canceled {
					if err := c.rc.WriteRecord(record.TypeAlert, []byte{alertLevelWarning, byte(alert.UserCanceled)}); err != nil {
						t.Fatal(err)
					}
				}
				for range s.keyUpdates {
					if err := c.sendKeyUpdateLocked(false); err != nil {
						t.Fatal(err)
					}
				}
				if s.data != "" {
					if err := c.rc.WriteRecord(record.TypeApplicationData, []byte(s.data)); err != nil {
						t.Fatal(err)
					}
					sent += s.data
				}
			}
			c.outMu.Unlock()
			if tc.fail {
				r := <-res
				if d, ok := alert.Of(r.err); !ok || d != alert.UnexpectedMessage || !strings.Contains(r.err.Error(), "too many") {
					t.Fatalf("server error %v, want unexpected_message for too many", r.err)
				}
				_, err := c.Read(make([]byte, 1))
				var rem *RemoteAlertError
				if !errors.As(err, &rem) || alert.Description(rem.Alert) != alert.UnexpectedMessage {
					t.Fatalf("client read %v, want the server's unexpected_message", err)
				}
				return
			}
			got := make([]byte, len(sent))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != sent {
				t.Fatalf("echo %q, %v; want %q", got, err, sent)
			}
			c.Close()
			if r := <-res; r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
		})
	}
}

// TestChangeCipherSpecLimit: during the handshake the compatibility
// change_cipher_spec is dropped (RFC 8446 §5), but only up to
// maxEmptyRecords in a row; past that the server ends the handshake with
// unexpected_message.
func TestChangeCipherSpecLimit(t *testing.T) {
	p := testPKI(t)
	for _, n := range []int{maxEmptyRecords, maxEmptyRecords + 1} {
		addr, res := startOurServer(t, ourServerConfig(p))
		c := dialRaw(t, addr)
		out := defaultRawHello().marshal(t)
		for range n {
			out = append(out, rawRecord(record.TypeChangeCipherSpec, []byte{1})...)
		}
		if _, err := c.Write(out); err != nil {
			t.Fatal(err)
		}
		if n <= maxEmptyRecords {
			// Within the limit the server waits for the client's
			// Finished; the end of the stream is what stops it.
			c.(interface{ CloseWrite() error }).CloseWrite()
		}
		r := <-res
		d, _ := alert.Of(r.err)
		tooMany := d == alert.UnexpectedMessage && strings.Contains(r.err.Error(), "too many")
		if tooMany != (n > maxEmptyRecords) {
			t.Fatalf("%d change_cipher_spec records: server error %v", n, r.err)
		}
		c.Close()
	}
}
