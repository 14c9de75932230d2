package sshauth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	many := ""
	for i := 0; i <= MaxNames; i++ {
		many += fmt.Sprintf("h%d.example.com\n", i)
	}
	for _, tc := range []struct {
		name     string
		in       string
		want     []string
		problems int
	}{
		{"names comments blanks", "# team\n\n  alice.example.com  \nBOB.Example.COM.\n# end\n", []string{"alice.example.com", "bob.example.com"}, 0},
		{"service and device names", "_ssh-client.alice.example.com\nlaptop._device.example.com\n", []string{"_ssh-client.alice.example.com", "laptop._device.example.com"}, 0},
		{"duplicates once", "a.example.com\nA.example.com.\n", []string{"a.example.com"}, 0},
		{"bad lines skipped, others kept", "a.example.com\nnot a name\nx\\046y.example.com\nb.example.com\n", []string{"a.example.com", "b.example.com"}, 2},
		{"user names skipped", "_user.example.com\n" + strings.Repeat("a", 56) + "._user.example.com\nc.example.com\n", []string{"c.example.com"}, 2},
		{"at most MaxNames", many, nil, 1},
		{"empty", "", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseAuthorization(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "at most MaxNames" {
				if len(f.Names) != MaxNames {
					t.Fatalf("%d names, want %d", len(f.Names), MaxNames)
				}
			} else if !reflect.DeepEqual(f.Names, tc.want) {
				t.Fatalf("names %q, want %q", f.Names, tc.want)
			}
			if len(f.Problems) != tc.problems {
				t.Fatalf("problems %v, want %d", f.Problems, tc.problems)
			}
		})
	}
	if _, err := ParseAuthorization(strings.NewReader(strings.Repeat("#", MaxFileSize+1))); err == nil {
		t.Fatal("a file over MaxFileSize was read")
	}
}

func TestAuthorizationPath(t *testing.T) {
	if p, err := AuthorizationPath("/etc/dance/ssh", "alice"); err != nil || p != "/etc/dance/ssh/alice" {
		t.Fatalf("%q %v", p, err)
	}
	for _, u := range []string{"", ".", "..", "../alice", "a/b", "a\x00b", strings.Repeat("u", 257)} {
		if p, err := AuthorizationPath("/etc/dance/ssh", u); !errors.Is(err, ErrBadUser) {
			t.Errorf("user %q: %q %v, want ErrBadUser", u, p, err)
		}
	}
}

// TestReadAuthorizationFileMode: a file others may write, or a directory,
// is refused; the owner's own file is read.
func TestReadAuthorizationFileMode(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("a.example.com\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not subject to the umask
			t.Fatal(err)
		}
		return p
	}
	f, err := ReadAuthorizationFile(write("ok", 0o644))
	if err != nil || len(f.Names) != 1 {
		t.Fatalf("%v %v", f, err)
	}
	for _, p := range []string{write("group", 0o664), write("world", 0o646), dir} {
		if _, err := ReadAuthorizationFile(p); !errors.Is(err, ErrFileMode) {
			t.Errorf("%s: %v, want ErrFileMode", p, err)
		}
	}
	if _, err := ReadAuthorizationFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
