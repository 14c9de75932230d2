package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
)

// startServeCmd runs "dance args..." (a server command) in-process until
// the test ends, waits until its stdout matches ready, and returns the
// submatches, its stderr and stop, which ends it and returns its exit
// code (once; later calls return the same code).
func startServeCmd(t *testing.T, args []string, ready *regexp.Regexp) (m []string, errb *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	errb = &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, nil, &out, errb) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("dance %s did not stop within 30s of its context ending", args[0])
			}
		})
		return code
	}
	t.Cleanup(cancel)
	testwait.Eventually(t, 30*time.Second, func() error {
		select {
		case code := <-done:
			t.Fatalf("dance %s exited %d: %s", args[0], code, errb.String())
		default:
		}
		if m = ready.FindStringSubmatch(out.String()); m == nil {
			return fmt.Errorf("dance %s did not report its addresses", args[0])
		}
		return nil
	})
	return m, errb, stop
}

// sighup sends SIGHUP to the test process, where a server command runs
// in-process, and waits until its stderr errb has one more want.
func sighup(t *testing.T, errb *syncBuffer, want string) {
	t.Helper()
	n := strings.Count(errb.String(), want)
	hangUp(t)
	testwait.Eventually(t, 30*time.Second, func() error {
		if strings.Count(errb.String(), want) == n {
			return fmt.Errorf("%q not logged yet", want)
		}
		return nil
	})
}
