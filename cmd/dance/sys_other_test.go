//go:build !unix

package main

import (
	"os"
	"testing"
)

// hangUp skips the test: reloading on SIGHUP is a Unix feature.
func hangUp(t *testing.T) {
	t.Helper()
	t.Skip("reloading on SIGHUP needs a Unix system")
}

// fileOwner reports no owner: file ownership by user ID is a Unix notion.
func fileOwner(os.FileInfo) (uid int, ok bool) { return 0, false }
