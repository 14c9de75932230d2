package proxy_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine they started is
// still running when they end: servers, lookups and renewal loops stop
// with what started them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
