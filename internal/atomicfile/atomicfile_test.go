package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// onlyFiles fails unless dir holds exactly the given names: no temporary
// file is ever left behind.
func onlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("directory holds %q, want %q", got, want)
	}
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "anchors")
	for _, tc := range []struct {
		data string
		perm fs.FileMode
	}{{"one\n", 0o644}, {"two, longer\n", 0o600}, {"", 0o640}} {
		if err := WriteFile(p, []byte(tc.data), tc.perm); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != tc.data {
			t.Fatalf("content %q, %v; want %q", b, err, tc.data)
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != tc.perm {
			t.Errorf("mode %v, want %v", st.Mode().Perm(), tc.perm)
		}
	}
	onlyFiles(t, dir, "anchors")
}

func TestCreateFileRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	if err := CreateFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := CreateFile(p, []byte("two"), 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v, want fs.ErrExist", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != p {
		t.Errorf("error %v does not name %s", err, p)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Errorf("content %q after refused create", b)
	}
	// A dangling symbolic link planted at the name is neither followed
	// nor replaced.
	target := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := CreateFile(link, []byte("secret"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("create over a symlink: %v, want fs.ErrExist", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the link target was written")
	}
	onlyFiles(t, dir, "key", "link")
}

var errDiskFull = errors.New("simulated failure half-way")

// TestFailedWriteKeepsOldFile stands for a crash in the middle of a write:
// the writer fails after some of the new content went out. The old file is
// untouched and no part of the new one is visible, under either name.
func TestFailedWriteKeepsOldFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(path string, fn func(io.Writer) error) error
	}{
		{"Write", func(p string, fn func(io.Writer) error) error { return Write(p, 0o644, fn) }},
		{"Create", func(p string, fn func(io.Writer) error) error { return Create(p, 0o644, fn) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			old := bytes.Repeat([]byte("old "), 1000)
			if tc.name == "Write" {
				if err := WriteFile(p, old, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := tc.do(p, func(w io.Writer) error {
				if _, err := w.Write(bytes.Repeat([]byte("new "), 64<<10)); err != nil {
					return err
				}
				return errDiskFull
			})
			if !errors.Is(err, errDiskFull) {
				t.Fatalf("err = %v, want the writer's error", err)
			}
			b, err := os.ReadFile(p)
			switch {
			case tc.name == "Write" && !bytes.Equal(b, old):
				t.Errorf("old file changed: %d octets, %v", len(b), err)
			case tc.name == "Create" && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("failed create left a file: %d octets, %v", len(b), err)
			}
			if tc.name == "Write" {
				onlyFiles(t, dir, "f")
			} else {
				onlyFiles(t, dir)
			}
		})
	}
}

// TestConcurrentWriters runs writers of one name at once, as a fixed
// temporary name ("anchors.new") would let collide: each write succeeds,
// and the file ends as one writer's complete content.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "anchors")
	const writers = 16
	contents := make([][]byte, writers)
	for i := range contents {
		contents[i] = bytes.Repeat([]byte{byte('a' + i)}, 100<<10)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- Write(p, 0o644, func(w io.Writer) error {
				// In two parts, so writers interleave.
				half := len(contents[i]) / 2
				if _, err := w.Write(contents[i][:half]); err != nil {
					return err
				}
				_, err := w.Write(contents[i][half:])
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range contents {
		found = found || bytes.Equal(b, c)
	}
	if !found {
		t.Errorf("file is no writer's complete content (%d octets, starts %q)", len(b), b[:min(len(b), 8)])
	}
	onlyFiles(t, dir, "anchors")
}

func TestMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "nope", "x"), []byte("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write into a missing directory: %v, want fs.ErrNotExist", err)
	}
	onlyFiles(t, dir)
}
