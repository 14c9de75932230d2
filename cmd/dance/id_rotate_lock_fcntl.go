//go:build solaris || aix

package main

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// tryLockFile takes an exclusive POSIX record lock on f without waiting
// (these systems have no flock). Unlike flock, such a lock does not keep
// out another open of the file in the same process; 'dance id rotate' runs
// one rotation per process. held reports that another process holds it.
func tryLockFile(f *os.File) (held bool, err error) {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	err = syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
		return true, nil
	}
	return false, err
}
