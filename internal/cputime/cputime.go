// Package cputime reads the CPU time the current process has used, user
// and system together. Benchmarks report it next to wall time: on a busy
// machine wall time also counts waiting for a core, CPU time does not.
//
// Process is the one entry point. It works on Unix (getrusage) and on
// Windows (GetProcessTimes); elsewhere it returns ErrUnsupported.
package cputime

import (
	"errors"
	"time"
)

// ErrUnsupported is returned by Process on systems where the process's
// CPU time cannot be read.
var ErrUnsupported = errors.New("cputime: process CPU time is not available on this system")

// Process returns the user plus system CPU time the process has used so
// far, across all its threads.
func Process() (time.Duration, error) { return process() }
