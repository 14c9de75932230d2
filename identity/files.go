package identity

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/dnsbound/dance/internal/atomicfile"
)

// File modes for what this package writes.
const (
	// KeyFileMode is the mode of private key files: owner read/write only.
	KeyFileMode fs.FileMode = 0o600
	// PublicFileMode is the mode of certificates, CSRs and public keys.
	PublicFileMode fs.FileMode = 0o644
	// DirMode is the mode of an output directory this package creates; it
	// holds private keys.
	DirMode fs.FileMode = 0o700
)

// ErrExists is wrapped by WriteFile's error when the file exists and
// overwriting was not asked for.
var ErrExists = errors.New("file exists")

// WriteFile writes data to path with mode perm, atomically: the data goes
// to a temporary file in the same directory, is synced, and is then moved
// into place, so a crash leaves either the old file or the complete new
// one, never a part. Without overwrite an existing file is never replaced,
// and that check is atomic too (the new file is hard-linked into place,
// which fails if the name is taken).
func WriteFile(path string, data []byte, perm fs.FileMode, overwrite bool) error {
	if overwrite {
		return atomicfile.WriteFile(path, data, perm)
	}
	if err := atomicfile.CreateFile(path, data, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return err
	}
	return nil
}
