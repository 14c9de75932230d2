//go:build !unix

package main

import (
	"os"
	"testing"
)

// hangUp fails the test: the servers reload on SIGHUP, a Unix signal, and
// no other system can send it. The reload tests run on Unix (CI runs them
// on Linux); elsewhere they fail rather than pass without testing.
func hangUp(t *testing.T) {
	t.Helper()
	t.Fatal("reloading on SIGHUP is a Unix feature: this test runs on Unix only")
}

// fileOwner reports no owner: file ownership by user ID is a Unix notion.
func fileOwner(os.FileInfo) (uid int, ok bool) { return 0, false }
