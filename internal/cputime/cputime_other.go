//go:build !unix && !windows

package cputime

import "time"

func process() (time.Duration, error) { return 0, ErrUnsupported }
