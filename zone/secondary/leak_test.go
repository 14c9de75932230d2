package secondary

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: Run
// stops its NOTIFY listener when its context ends.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
