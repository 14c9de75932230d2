package sshauth

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dnsbound/dance/identity"
)

// DefaultDir is where the authorization files live, one per user, named
// after the user: /etc/dance/ssh/alice lists the names that may log in as
// alice.
const DefaultDir = "/etc/dance/ssh"

// Limits of an authorization file. sshd waits on the command, so a file
// cannot make it look up more than MaxNames names.
const (
	MaxFileSize = 64 << 10
	MaxNames    = 64
)

// ErrBadUser is returned for a user name that cannot name a file in the
// authorization directory.
var ErrBadUser = errors.New("sshauth: bad user name")

// AuthorizationPath returns the authorization file of user in dir. The user
// name comes from sshd (%u), so it must be a single path element.
func AuthorizationPath(dir, user string) (string, error) {
	if user == "" || user == "." || user == ".." || len(user) > 256 ||
		strings.ContainsAny(user, "/\x00") {
		return "", fmt.Errorf("%w: %q", ErrBadUser, user)
	}
	return filepath.Join(dir, user), nil
}

// File is a parsed authorization file.
type File struct {
	// Names are the DNS names the file lists, canonical (lower case, no
	// trailing dot), each once, in the file's order.
	Names []string
	// Problems are the lines that were skipped, each with its line number;
	// the other lines still count, as sshd skips a bad authorized_keys line.
	Problems []error
}

// ParseAuthorization reads an authorization file: one DNS name a line,
// blank lines and lines starting with "#" ignored, at most MaxNames names.
// Each name must be a DANCE owner name (identity.ParseName) that can
// publish a bare key: user names (_user.DOMAIN and <hash>._user.DOMAIN)
// authenticate certificates only and are skipped.
func ParseAuthorization(r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("sshauth: authorization file larger than %d bytes", MaxFileSize)
	}
	f := &File{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxFileSize)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		n, err := identity.ParseName(s)
		if err != nil {
			f.Problems = append(f.Problems, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		if n.Kind() == identity.KindUser {
			f.Problems = append(f.Problems, fmt.Errorf("line %d: %s is a user name: its records authenticate certificates, not SSH keys", line, n))
			continue
		}
		if seen[n.String()] {
			continue
		}
		if len(f.Names) == MaxNames {
			f.Problems = append(f.Problems, fmt.Errorf("line %d: more than %d names; the rest are ignored", line, MaxNames))
			break
		}
		seen[n.String()] = true
		f.Names = append(f.Names, n.String())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// ReadAuthorizationFile opens path, checks it (CheckFileMode) and parses
// it.
func ReadAuthorizationFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if err := CheckFileMode(path, st); err != nil {
		return nil, err
	}
	f, err := ParseAuthorization(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// ErrFileMode is wrapped by the error of an authorization file that others
// could change.
var ErrFileMode = errors.New("sshauth: unsafe authorization file")

// CheckFileMode refuses an authorization file that is not a regular file or
// that its group or others may write: whoever can write it chooses who logs
// in (sshd's StrictModes refuses such an authorized_keys for the same
// reason).
func CheckFileMode(path string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrFileMode, path)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by group or others (mode %04o)", ErrFileMode, path, st.Mode().Perm())
	}
	return nil
}
