package tls13

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
)

// TestUserCanceledIsNotAnError: user_canceled is not an error alert (RFC
// 8446 §6.1); the connection goes on until close_notify, while any other
// alert at warning level still ends it.
func TestUserCanceledIsNotAnError(t *testing.T) {
	p := testPKI(t)
	for _, tc := range []struct {
		name  string
		alert alert.Description
		ok    bool
	}{
		{"user_canceled", alert.UserCanceled, true},
		{"warning unexpected_message", alert.UnexpectedMessage, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, res := startOurServer(t, ourServerConfig(p))
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots})
			if err := c.HandshakeContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			c.outMu.Lock()
			err := c.rc.WriteRecord(record.TypeAlert, []byte{alertLevelWarning, byte(tc.alert)})
			c.outMu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				r := <-res
				var rem *RemoteAlertError
				if !errors.As(r.err, &rem) || alert.Description(rem.Alert) != tc.alert {
					t.Fatalf("server error %v, want the peer's %v", r.err, tc.alert)
				}
				return
			}
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 4)
			if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
				t.Fatalf("echo after user_canceled: %q, %v", got, err)
			}
			c.Close()
			if r := <-res; r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
		})
	}
}
