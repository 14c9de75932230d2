package main

// Tests of deploy/: the systemd units pass systemd-analyze (syntax, the
// binary they run, and a hardening score), the system user file passes
// systemd-sysusers, and the binary built as deploy/Dockerfile builds it is
// statically linked and runs with nothing around it. No container runtime
// is needed: the image holds that binary and nothing that runs it.

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dnsbound/dance/internal/daemon"
)

// deployDir is deploy/ seen from this package's directory, where go test
// runs.
const deployDir = "../../deploy"

// unitBinary is where the units run dance from.
const unitBinary = "/usr/local/bin/dance"

// maxExposure is the highest exposure systemd-analyze security may give a
// unit, in its tenths (0 to 100; both units score 1.5 today, an unhardened
// service about 9.6).
const maxExposure = 20

// deployUnits are the units in deploy/, each with the state directory it
// must declare ("" for none) and the lines its hardening rests on.
var deployUnits = []struct {
	file, stateDir string
	want           []string
}{
	{"dance-zone.service", "dance-zone", []string{"User=dance", "StateDirectory=dance-zone", "ExecReload=/bin/kill -HUP $MAINPID", "ProtectSystem=strict",
		"NoNewPrivileges=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"}},
	{"dance-proxy.service", "", []string{"DynamicUser=yes", "LoadCredential=key.pem:", "--key %d/key.pem", "ProtectSystem=strict",
		"NoNewPrivileges=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"}},
}

// checkUnit runs systemd-analyze on the unit file at path and returns what
// is wrong with it: verify must succeed without a word (it only warns, exit
// 0, about unknown keys and unparsable values), and the offline security
// review must score at most maxExposure.
func checkUnit(sa, path string) []string {
	var problems []string
	out, err := exec.Command(sa, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		problems = append(problems, fmt.Sprintf("systemd-analyze verify: %v: %s", err, out))
	}
	out, err = exec.Command(sa, "security", "--offline=yes", "--man=no", fmt.Sprintf("--threshold=%d", maxExposure), path).CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		problems = append(problems, fmt.Sprintf("systemd-analyze security (threshold %d): %v: %s", maxExposure, err, lines[len(lines)-1]))
	}
	return problems
}

// writeUnit writes a unit file under a fresh directory, named as systemd
// expects, with ExecStart pointing at bin instead of unitBinary: the
// verifier checks that the program exists.
func writeUnit(t *testing.T, name, text, bin string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(text, unitBinary, bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeployUnits(t *testing.T) {
	sa := daemon.Tool(t, "systemd-analyze")
	bin := buildStatic(t)
	for _, u := range deployUnits {
		t.Run(u.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(deployDir, u.file))
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			if !strings.Contains(text, "\nExecStart="+unitBinary+" ") {
				t.Fatalf("ExecStart does not run %s", unitBinary)
			}
			for _, w := range u.want {
				if !strings.Contains(text, w) {
					t.Errorf("unit lacks %q", w)
				}
			}
			if u.stateDir != "" && !strings.Contains(text, "--dir /var/lib/"+u.stateDir+" ") {
				t.Errorf("ExecStart does not serve the state directory /var/lib/%s", u.stateDir)
			}
			for _, p := range checkUnit(sa, writeUnit(t, u.file, text, bin)) {
				t.Error(p)
			}
		})
	}

	// Each way a unit can be wrong is caught by checkUnit.
	b, err := os.ReadFile(filepath.Join(deployDir, "dance-zone.service"))
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	unhardened := regexp.MustCompile(`(?m)^(Protect|Private|Restrict|SystemCall|Capability|NoNew|Lock|Memory|Device|Remove|UMask).*\n`).ReplaceAllString(good, "")
	for _, c := range []struct{ name, text, bin string }{
		{"unknown key", strings.Replace(good, "[Service]\n", "[Service]\nProtectEverything=yes\n", 1), bin},
		{"bad value", strings.Replace(good, "ProtectSystem=strict", "ProtectSystem=stricter", 1), bin},
		{"missing binary", good, "/nonexistent/dance"},
		{"unhardened", unhardened, bin},
	} {
		if p := checkUnit(sa, writeUnit(t, "dance-zone.service", c.text, c.bin)); len(p) == 0 {
			t.Errorf("%s: not caught", c.name)
		}
	}
}

// TestDeploySysusers: deploy/dance.sysusers makes the user the zone unit
// runs as, with the state directory as its home.
func TestDeploySysusers(t *testing.T) {
	su := daemon.Tool(t, "systemd-sysusers")
	run := func(conf string) (string, error) {
		root := t.TempDir()
		if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(su, "--root="+root, conf).CombinedOutput(); err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
		return string(b), err
	}
	conf, err := filepath.Abs(filepath.Join(deployDir, "dance.sysusers")) // --root applies to relative paths
	if err != nil {
		t.Fatal(err)
	}
	passwd, err := run(conf)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^dance:x:\d+:\d+:[^:]*:/var/lib/dance-zone:`).MatchString(passwd) {
		t.Errorf("no user dance with home /var/lib/dance-zone in:\n%s", passwd)
	}
	bad := filepath.Join(t.TempDir(), "bad.conf")
	if err := os.WriteFile(bad, []byte("u dance - \"x\" /var/lib/dance-zone\nq bogus\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(bad); err == nil {
		t.Error("systemd-sysusers accepted an unknown line type: the check above proves nothing")
	}
}

// buildStatic builds dance with deploy/build-static.sh, the command
// deploy/Dockerfile runs, and returns the binary's path.
func buildStatic(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dance")
	cmd := exec.Command(filepath.Join(deployDir, "build-static.sh"), bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build-static.sh: %v\n%s", err, out)
	}
	return bin
}

// staticELF says why the ELF file at path is not statically linked: it
// names a program interpreter (the dynamic loader) or shared libraries.
func staticELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s has a program interpreter: dynamically linked", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("%s needs shared libraries %v", path, libs)
	}
	return nil
}

// TestDeployStaticBinary: the image's binary is built by
// deploy/build-static.sh, is static, and runs with an empty environment
// from an empty directory, as in the image (no shell, no libc, no PATH).
func TestDeployStaticBinary(t *testing.T) {
	df, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nRUN deploy/build-static.sh /out/dance\n", "\nCOPY --from=build /out/dance " + unitBinary + "\n",
		"\nENTRYPOINT [\"" + unitBinary + "\"]\n"} {
		if !bytes.Contains(df, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", strings.TrimSpace(want))
		}
	}
	bin := buildStatic(t)
	if err := staticELF(bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "version")
	cmd.Env = []string{}
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "dance ") {
		t.Fatalf("dance version: %v: %q", err, out)
	}

	// The check above refuses a dynamically linked program.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	if sh, err = filepath.EvalSymlinks(sh); err != nil {
		t.Fatal(err)
	}
	if err := staticELF(sh); err == nil {
		t.Errorf("staticELF accepts %s, which is dynamically linked", sh)
	}
}
