package zone

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// PIDFile, in a zone directory, holds the process ID of the process that
// has the zone open (Open writes it, Close removes it), so that a second
// process refused the store can say who holds it. It is a hint only: the
// lock is the store's own.
const PIDFile = "zone.pid"

// LockedError is returned by Open when another open zone holds the
// directory's store: a running server, usually, or an Open in this
// process that was not closed.
type LockedError struct {
	Dir string
	// PID is the process that holds the store, as it wrote it in
	// DIR/zone.pid; 0 when unknown.
	PID int
}

func (e *LockedError) Error() string {
	db := filepath.Join(e.Dir, DBFile)
	if e.PID > 0 {
		return fmt.Sprintf("zone: %s is locked by a running server (pid %d)", db, e.PID)
	}
	return fmt.Sprintf("zone: %s is locked by a running server", db)
}

// Is makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ErrLocked is what every LockedError is (errors.Is).
var ErrLocked = errors.New("zone: store is locked by a running server")

// readPID returns the process ID in path, or 0.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// writePID records this process as the holder of the store. A failure
// (a read-only directory) only loses the hint.
func writePID(path string) {
	os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// removePID removes path if this process wrote it.
func removePID(path string) {
	if readPID(path) == os.Getpid() {
		os.Remove(path)
	}
}
