package identity

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
func WriteFile(path string, data []byte, perm fs.FileMode, overwrite bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		// The temporary name never survives: after a link it is a second
		// name for the file, after a rename it is gone already.
		_ = os.Remove(tmpName)
	}()
	// CreateTemp makes the file 0600; set perm before any data is written.
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if overwrite {
		if err := os.Rename(tmpName, path); err != nil {
			return err
		}
	} else if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename or link in dir durable. It is best effort: the
// file is complete and in place whatever happens here, and some file
// systems cannot sync a directory.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
