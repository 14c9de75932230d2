package serve

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// background checks of the admin identities' zones stop with Run and
// Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
