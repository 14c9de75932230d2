package zone

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dnsbound/dance/zone/internal/store"
)

// TestOpenCreatesNothing: Open on a directory that holds no zone fails
// and leaves the directory as it was: no zone.db, no zone.pid.
func TestOpenCreatesNothing(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(t *testing.T, dir string)
		notExist bool // the error matches fs.ErrNotExist
	}{
		{"empty directory", func(t *testing.T, dir string) {}, true},
		{"other files only", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "notes"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"missing directory", func(t *testing.T, dir string) {
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
		}, true},
		// A store that Init did not fill: Open refuses it and removes the
		// PID file it wrote while trying.
		{"store without settings", func(t *testing.T, dir string) {
			st, err := store.Create(filepath.Join(dir, DBFile))
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "zone")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tt.prepare(t, dir)
			before := listDir(t, dir)
			z, err := Open(dir, Options{})
			if err == nil {
				z.Close()
				t.Fatal("Open succeeded")
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = %v, want %v", err, got, tt.notExist)
			}
			if errors.Is(err, ErrLocked) {
				t.Errorf("%v matches ErrLocked", err)
			}
			if after := listDir(t, dir); !slices.Equal(before, after) {
				t.Errorf("directory changed: %v, then %v", before, after)
			}
		})
	}
}

// listDir lists dir's entries; nil for a directory that does not exist.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
