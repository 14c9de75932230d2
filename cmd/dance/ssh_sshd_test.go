package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/sshauth"
	"github.com/dnsbound/dance/tlsa"
	"golang.org/x/crypto/ssh"
)

// sshdPath is where Debian's openssh-server installs sshd.
const sshdPath = "/usr/sbin/sshd"

// sshFixture is a real sshd whose AuthorizedKeysCommand is the dance
// binary, and the real ssh client that logs in to it.
type sshFixture struct {
	t        *testing.T
	dir      string
	authz    string // the authorization directory
	user     string // the account logged in to: the test's own
	addr     string
	log      string // sshd's log file
	knownHst string
}

// sshSecureDir returns a new directory for the dance binary that sshd accepts
// as AuthorizedKeysCommand: sshd refuses a command when the file or any
// directory above it is writable by group or others or owned by someone
// other than root or the command's user (auth_secure_path), which rules
// out /tmp (mode 1777). The test's temporary directory is used when it
// qualifies, else a directory in the user's cache directory, removed when
// the test ends.
func sshSecureDir(t *testing.T) string {
	t.Helper()
	uid := os.Getuid()
	secure := func(d string) bool {
		for d != "" {
			st, err := os.Stat(d)
			if err != nil {
				return false
			}
			owner, ok := fileOwner(st)
			if !ok || (owner != 0 && owner != uid) || st.Mode().Perm()&0o022 != 0 {
				return false
			}
			if d == "/" {
				return true
			}
			d = filepath.Dir(d)
		}
		return false
	}
	if d := t.TempDir(); secure(d) {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no directory sshd accepts for the AuthorizedKeysCommand: %v", err)
	}
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := os.MkdirTemp(cache, "dance-sshd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if !secure(d) {
		t.Fatalf("no directory sshd accepts for the AuthorizedKeysCommand: %s and %s are writable by others", t.TempDir(), d)
	}
	return d
}

// sshBuildDance builds the dance binary once per test into a directory sshd
// accepts.
func sshBuildDance(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(sshSecureDir(t), "dance")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// sshPrivsepDir makes sure the directory sshd chroots its pre-authentication
// child into exists when sshd runs as root (Debian's ssh.service creates
// it at start, and sshd exits with "Missing privilege separation
// directory" without it); one made here is removed when the test ends.
// Run by another user, sshd does no privilege separation and needs none.
func sshPrivsepDir(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		return
	}
	const dir = "/run/sshd"
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return
	}
	if err != nil {
		t.Fatalf("sshd running as root needs %s: %v", dir, err)
	}
	t.Cleanup(func() { os.Remove(dir) })
}

// startSSHD runs sshd in the foreground as the current user on a loopback
// port it picks, with its own host key and configuration:
// AuthorizedKeysCommand is bin with resolverArgs, run as the current user;
// no other way to log in.
func startSSHD(t *testing.T, bin string, resolverArgs ...string) *sshFixture {
	t.Helper()
	daemon.Tool(t, sshdPath)
	daemon.Tool(t, "ssh")
	daemon.Tool(t, "ssh-keygen")
	sshPrivsepDir(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	f := &sshFixture{t: t, dir: t.TempDir(), user: u.Username}
	f.authz = filepath.Join(f.dir, "authz")
	if err := os.Mkdir(f.authz, 0o755); err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(f.dir, "host_ed25519")
	sshKeygen(t, hostKey, "ed25519")
	f.log = filepath.Join(f.dir, "sshd.log")
	command := strings.Join(append(append([]string{bin, "ssh", "authorized-keys", "--dir", f.authz, "--deadline", "5s"}, resolverArgs...), "%u", "%t", "%k"), " ")
	f.addr = daemon.Start(t, daemon.Spec{
		Name: "sshd",
		Command: func(port int) *exec.Cmd {
			conf := filepath.Join(f.dir, "sshd_config")
			cfg := strings.Join([]string{
				"ListenAddress 127.0.0.1:" + strconv.Itoa(port),
				"HostKey " + hostKey,
				"PidFile none",
				// PAM needs root; StrictModes would check the modes of
				// the test's home directory, which is not what is tested.
				"UsePAM no",
				"StrictModes no",
				"AuthorizedKeysFile none",
				"AuthorizedKeysCommand " + command,
				"AuthorizedKeysCommandUser " + u.Username,
				"PubkeyAuthentication yes",
				"PasswordAuthentication no",
				"KbdInteractiveAuthentication no",
				"PermitRootLogin prohibit-password",
				// DEBUG1 passes the command's stderr (its refusals) to the log.
				"LogLevel DEBUG1",
			}, "\n") + "\n"
			if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			// sshd -e logs to stderr, where the command's stderr goes
			// too: both into one file the test reads (exec: the process
			// killed at the end is sshd itself).
			return exec.Command("sh", "-c", `exec "$0" -D -e -f "$1" 2>>"$2"`, sshdPath, conf, f.log)
		},
		Ready:       sshBanner,
		FatalIfSlow: true,
	})
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(pub))
	f.knownHst = filepath.Join(f.dir, "known_hosts")
	host, port, _ := net.SplitHostPort(f.addr)
	line := fmt.Sprintf("[%s]:%s %s %s\n", host, port, fields[0], fields[1])
	if err := os.WriteFile(f.knownHst, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// sshBanner reports whether an SSH server at addr sends its version line.
func sshBanner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 8)
	n, _ := c.Read(b)
	return bytes.HasPrefix(b[:n], []byte("SSH-2.0-"))
}

// sshKeygen makes a key pair without passphrase at path (path.pub).
func sshKeygen(t *testing.T, path, typ string, extra ...string) ssh.PublicKey {
	t.Helper()
	args := append([]string{"-q", "-t", typ, "-N", "", "-C", "", "-f", path}, extra...)
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	data, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// authorize writes the authorization file of the test's user.
func (f *sshFixture) authorize(names ...string) {
	f.t.Helper()
	data := "# names that may log in\n" + strings.Join(names, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(f.authz, f.user), []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// loginMarker is what the remote command prints after a login.
const loginMarker = "dance-login-ok"

// login runs the real ssh client with key only, and reports whether it
// logged in and ran a command.
func (f *sshFixture) login(key string) (bool, string) {
	f.t.Helper()
	host, port, _ := net.SplitHostPort(f.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-F", "none", "-i", key,
		"-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+f.knownHst,
		"-o", "ConnectTimeout=30", "-p", port, "-l", f.user, host, "echo", loginMarker)
	out, err := cmd.CombinedOutput()
	return err == nil && strings.Contains(string(out), loginMarker), string(out)
}

// logSince returns what sshd logged after offset bytes, and the new offset.
func (f *sshFixture) logSince(off int) (string, int) {
	data, _ := os.ReadFile(f.log)
	if off > len(data) {
		off = len(data)
	}
	return string(data[off:]), len(data)
}

// expectLogin logs in with key and checks the outcome; when refused, the
// reason the dance command gave must be in sshd's log.
func (f *sshFixture) expectLogin(what, key string, ok bool, reason string) {
	f.t.Helper()
	_, off := f.logSince(0)
	got, out := f.login(key)
	logged, _ := f.logSince(off)
	if got != ok && strings.Contains(logged, "account is locked") {
		f.t.Fatalf("%s: sshd refuses %s: with UsePAM no, a locked password field (! in /etc/shadow) refuses every login; '*' does not\n%s", what, f.user, logged)
	}
	if got != ok {
		f.t.Fatalf("%s: login %v, want %v\nssh: %s\nsshd log:\n%s", what, got, ok, out, logged)
	}
	if reason != "" && !strings.Contains(logged, "refused ("+reason+")") {
		f.t.Errorf("%s: sshd's log does not show the refusal %q:\n%s", what, reason, logged)
	}
}

// TestSSHLoginZone logs in to a real sshd with the real ssh client, the
// keys published in a zone that dance serves: a published key logs in, an
// unpublished one does not, removing the record locks the key out, and
// rotating is one replacement of the record. A digest record (3 1 1)
// authorizes the key sshd offers.
func TestSSHLoginZone(t *testing.T) {
	bin := sshBuildDance(t)
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zone")
	idMust(t, "zone", "init", "--zone", "people.test", "--dir", zdir)
	addr, _, _, _ := adminServe(t, zdir)
	f := startSSHD(t, bin, "--resolver", addr, "--anchors", filepath.Join(zdir, "anchors"))

	alice := filepath.Join(dir, "alice")
	sshKeygen(t, alice, "ed25519")
	stranger := filepath.Join(dir, "stranger")
	sshKeygen(t, stranger, "ed25519")
	const name = "_ssh-client.alice.people.test"
	publish := func(key string, extra ...string) {
		t.Helper()
		line := idMust(t, "ssh", "publish", "--name", name, "--ttl", "1", key+".pub")
		out, errs, code := idRun(t, line, append([]string{"zone", "add", "--dir", zdir, "--from", "-"}, extra...)...)
		if code != 0 {
			t.Fatalf("zone add: exit %d: %s %s", code, out, errs)
		}
	}
	f.authorize(name)
	f.expectLogin("unpublished name", alice, false, "no-record")
	publish(alice)
	f.expectLogin("published key", alice, true, "")
	f.expectLogin("unpublished key", stranger, false, "no-match")

	// Rotation: one replacement of the record set.
	alice2 := filepath.Join(dir, "alice2")
	sshKeygen(t, alice2, "ed25519")
	publish(alice2, "--replace")
	f.expectLogin("rotated-in key", alice2, true, "")
	f.expectLogin("rotated-out key", alice, false, "no-match")

	// A name the file does not list authorizes nothing, even with a
	// published key: the stranger's key published at another name.
	const other = "_ssh-client.mallory.people.test"
	line := idMust(t, "ssh", "publish", "--name", other, "--ttl", "1", stranger+".pub")
	if _, errs, code := idRun(t, line, "zone", "add", "--dir", zdir, "--from", "-"); code != 0 {
		t.Fatal(errs)
	}
	f.expectLogin("key of a name not in the file", stranger, false, "no-match")

	// A digest record matches the offered key (%t %k).
	ecKey := filepath.Join(dir, "alice-ecdsa")
	pub := sshKeygen(t, ecKey, "ecdsa", "-b", "256")
	spki, err := sshauth.SPKI(pub)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := tlsa.ForSPKI(spki, tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, errs, code := idRun(t, rec.ZoneLine(name, 1), "zone", "add", "--dir", zdir, "--from", "-"); code != 0 {
		t.Fatal(errs)
	}
	f.expectLogin("3 1 1 record, offered key", ecKey, true, "")

	// Removing the records locks every key out.
	if out, errs, code := idRun(t, "", "zone", "remove", "--dir", zdir, name); code != 0 {
		t.Fatalf("zone remove: %s %s", out, errs)
	}
	f.expectLogin("removed record", alice2, false, "no-record")
	f.expectLogin("removed digest record", ecKey, false, "no-record")
}

// TestSSHLoginDNSSEC: keys published in an unsigned zone or a zone whose
// signatures do not validate never log in, while a key in a signed zone of
// the same hierarchy does.
func TestSSHLoginDNSSEC(t *testing.T) {
	bin := sshBuildDance(t)
	dir := t.TempDir()
	keys := map[string]ssh.PublicKey{}
	for _, k := range []string{"good", "insecure", "bogus"} {
		keys[k] = sshKeygen(t, filepath.Join(dir, k), "ed25519")
	}
	line := func(name, k string) string {
		recs, err := sshauth.Records(keys[k])
		if err != nil {
			t.Fatal(err)
		}
		return recs[0].ZoneLine(name, 300)
	}
	h := dnstest.Start(t, dnstest.Config{
		Zones: map[string]dnstest.ZoneOptions{dnstest.Device: {Fault: dnstest.WrongKey}},
		Records: []string{
			line("_ssh-client.alice.example.test", "good"),
			line("bob.insecure.example.test", "insecure"),
			line("carol._device.example.test", "bogus"),
		},
	})
	anchors := filepath.Join(dir, "anchors")
	if err := os.WriteFile(anchors, []byte(h.Anchors()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := startSSHD(t, bin, "--resolver", h.Addr(), "--anchors", anchors)
	for _, tc := range []struct {
		name, key string
		ok        bool
		reason    string
	}{
		{"_ssh-client.alice.example.test", "good", true, ""},
		{"bob.insecure.example.test", "insecure", false, "dns-insecure"},
		{"carol._device.example.test", "bogus", false, "dns-bogus"},
	} {
		f.authorize(tc.name)
		f.expectLogin(tc.name, filepath.Join(dir, tc.key), tc.ok, tc.reason)
	}
}
