package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dnsbound/dance/internal/cli"
)

// rotateLockFile, in an identity's directory, is locked by the 'dance id
// rotate' run working on it: two runs at once would each make a new key
// and publish it, and one would move its key over the other's.
const rotateLockFile = "rotate.lock"

// errRotateLocked is what a second run on a directory gets.
var errRotateLocked = errors.New("another 'dance id rotate' is running on this directory")

// lockRotation takes the lock of dir for this process, or fails with
// errRotateLocked without waiting. The lock goes with the process (a
// crash releases it); release closes it. A directory that does not exist
// needs no lock: the rotation fails on its own with the reason. The lock
// is the system's advisory file lock (tryLockFile: flock on Unix systems,
// LockFileEx on Windows).
func lockRotation(dir string) (release func(), err error) {
	path := filepath.Join(dir, rotateLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, cli.Input(fmt.Errorf("lock %s: %w", path, err))
	}
	held, err := tryLockFile(f)
	if err != nil || held {
		f.Close()
	}
	if held {
		return nil, cli.WithHint(cli.Fail(fmt.Errorf("%s: %w (it holds %s)", dir, errRotateLocked, path)),
			"wait for it to finish; it resumes from the same state if stopped")
	}
	if err != nil {
		return nil, cli.Fail(fmt.Errorf("lock %s: %w", path, err))
	}
	return func() { f.Close() }, nil
}
