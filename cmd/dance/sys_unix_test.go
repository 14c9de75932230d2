//go:build unix

package main

import (
	"os"
	"syscall"
	"testing"
)

// hangUp sends SIGHUP to the test process, where a server command runs
// in-process and reloads its configuration on that signal.
func hangUp(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// fileOwner returns the user ID that owns the file fi describes.
func fileOwner(fi os.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
