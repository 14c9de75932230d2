package identity

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key.pem")
	if err := WriteFile(p, []byte("one"), KeyFileMode, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != KeyFileMode {
		t.Errorf("mode %v, want %v", st.Mode().Perm(), KeyFileMode)
	}
	// No overwrite without asking; the old content stays.
	if err := WriteFile(p, []byte("two"), KeyFileMode, false); !errors.Is(err, ErrExists) {
		t.Fatalf("second write: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Errorf("content %q after refused write", b)
	}
	// Overwrite on request, with the new mode.
	if err := WriteFile(p, []byte("three"), PublicFileMode, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "three" {
		t.Errorf("content %q after overwrite", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != PublicFileMode {
		t.Errorf("mode after overwrite %v", st.Mode().Perm())
	}
	// No temporary files are left behind, whatever happened.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q, want only key.pem", names)
	}
	// A missing directory is an error, not a panic or a stray file.
	if err := WriteFile(filepath.Join(dir, "nope", "x"), []byte("x"), KeyFileMode, false); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestWriteFileKeepsSymlinkTarget(t *testing.T) {
	// An existing name, even a dangling symbolic link planted by someone
	// else, is never followed or replaced without overwrite.
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, "key.pem")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("secret"), KeyFileMode, false); !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link target was written")
	}
}
