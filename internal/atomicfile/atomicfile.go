// Package atomicfile writes files that must never be seen half-written:
// keys, trust anchors, caches, tokens. A reader, or the next start after a
// crash, finds either the old file or the complete new one.
//
// For most uses:
//
//	err := atomicfile.WriteFile(path, data, 0o644)  // replace
//	err := atomicfile.CreateFile(path, data, 0o600) // only if path is free
//
// and Write or Create to stream the content.
//
// Each write goes to a temporary file with a fresh random name in the same
// directory (so concurrent writers never share one and the final rename
// stays on one file system), is synced, and is then renamed (Write) or
// hard-linked (Create) to its name; the directory is synced last so the
// new name survives a crash too. The temporary file is removed whatever
// happens.
package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes data to path with mode perm, replacing the file that is
// there.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return write(path, perm, true, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// CreateFile writes data to a new file path with mode perm. If path exists
// (even as a dangling symbolic link) it fails with an error that wraps
// fs.ErrExist and leaves path as it was; the check and the creation are one
// atomic step.
func CreateFile(path string, data []byte, perm fs.FileMode) error {
	return write(path, perm, false, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write is WriteFile with the content written by fn. fn's writer is not
// buffered: wrap it in a bufio.Writer, and flush that, for many small
// writes. If fn returns an error, path is left as it was and the error is
// returned.
func Write(path string, perm fs.FileMode, fn func(io.Writer) error) error {
	return write(path, perm, true, fn)
}

// Create is CreateFile with the content written by fn, as Write.
func Create(path string, perm fs.FileMode, fn func(io.Writer) error) error {
	return write(path, perm, false, fn)
}

func write(path string, perm fs.FileMode, replace bool, fn func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	// After a rename the temporary name is gone already; after a link it is
	// a second name for the file.
	defer os.Remove(tmpName)
	if err := fill(tmp, perm, fn); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmpName, path)
	} else if err = os.Link(tmpName, path); errors.Is(err, fs.ErrExist) {
		// The *LinkError names both paths; say which one is taken.
		err = &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
	}
	if err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// fill sets the temporary file's mode, writes it and syncs it.
func fill(f *os.File, perm fs.FileMode, fn func(io.Writer) error) error {
	// CreateTemp makes the file 0600; set perm before any data is written
	// (a key must never be readable by others, even for a moment).
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	return f.Sync()
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
