//go:build windows

package cputime

import (
	"syscall"
	"time"
)

func process() (time.Duration, error) {
	var creation, exit, kernel, user syscall.Filetime
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		return 0, err
	}
	if err := syscall.GetProcessTimes(h, &creation, &exit, &kernel, &user); err != nil {
		return 0, err
	}
	return interval(kernel) + interval(user), nil
}

// interval reads a FILETIME that holds a length of time, in 100 ns units.
// (Filetime.Nanoseconds is for points in time: it subtracts the 1601 epoch.)
func interval(ft syscall.Filetime) time.Duration {
	return time.Duration(uint64(ft.HighDateTime)<<32|uint64(ft.LowDateTime)) * 100
}
