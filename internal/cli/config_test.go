package cli

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"SECRET": "s3cret", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		in      string
		want    []ConfigEntry
		wantErr string // substring; "" means success
	}{
		{"keys and values", "# comment\n\nlisten = 127.0.0.1:8443\n  mode=tcp  \n", []ConfigEntry{{3, "listen", "127.0.0.1:8443"}, {4, "mode", "tcp"}}, ""},
		{"value with = and #", "backend = http://a/?x=1#frag\n", []ConfigEntry{{1, "backend", "http://a/?x=1#frag"}}, ""},
		{"quoted value", `name-header = " X-Who "` + "\n", []ConfigEntry{{1, "name-header", " X-Who "}}, ""},
		{"empty value", "anchors =\n", []ConfigEntry{{1, "anchors", ""}}, ""},
		{"environment variable", "token = ${SECRET}\nother = ${EMPTY}\n", []ConfigEntry{{1, "token", "s3cret"}, {2, "other", ""}}, ""},
		{"only a whole value is a reference", "x = a${SECRET}\n", []ConfigEntry{{1, "x", "a${SECRET}"}}, ""},
		{"unset environment variable", "a = 1\ntoken = ${NOPE}\n", nil, "f.conf:2: token: environment variable NOPE is not set"},
		{"line without =", "listen 127.0.0.1:1\n", nil, "f.conf:1: want key = value"},
		{"flag with dashes", "--listen = x\n", nil, "f.conf:1: bad key \"--listen\""},
		{"key with a space", "max conns = 3\n", nil, "f.conf:1: bad key"},
		{"bad quoting", "a = \"open\n", nil, "f.conf:1: a: bad quoted value"},
		{"empty key", "= 3\n", nil, "f.conf:1: bad key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig("f.conf", []byte(tt.in), lookup)
			if tt.wantErr != "" {
				var ce *ConfigError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ce) {
					t.Fatalf("error %v, want a *ConfigError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// configTree is "t serve" with Config set: it records its flags.
func configTree(got *map[string]string) *Command {
	return &Command{Name: "t", Sub: []*Command{{
		Name: "serve", Config: true, NoArgs: true,
		Flags: func(fs *flag.FlagSet) {
			fs.String("listen", "127.0.0.1:53", "")
			fs.Int("max-conns", 10, "")
			fs.Bool("tls", false, "")
			fs.Var(new(StringList), "allow", "")
		},
		Run: func(env *Env, fs *flag.FlagSet, _ []string) error {
			m := map[string]string{}
			fs.VisitAll(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
			*got = m
			return nil
		},
	}}}
}

func TestConfigFileOverrideOrder(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "serve.conf")
	os.WriteFile(conf, []byte("listen = 127.0.0.1:5353\nmax-conns = 99\ntls = true\nallow = a.test\nallow = b.test\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want map[string]string
	}{
		{"file only", []string{"serve", "--config", conf},
			map[string]string{"listen": "127.0.0.1:5353", "max-conns": "99", "tls": "true", "allow": "a.test,b.test"}},
		{"command line wins, before or after --config", []string{"serve", "--listen", "[::1]:1", "--config", conf, "--tls=false", "--allow", "c.test"},
			map[string]string{"listen": "[::1]:1", "max-conns": "99", "tls": "false", "allow": "c.test"}},
		{"no --config: defaults", []string{"serve"},
			map[string]string{"listen": "127.0.0.1:53", "max-conns": "10", "tls": "false", "allow": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]string
			var out, errb bytes.Buffer
			if code := Main(configTree(&got), tt.args, &Env{Stdout: &out, Stderr: &errb}); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			delete(got, ConfigFlag)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("flags %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o600)
		return p
	}
	tests := []struct {
		name, file, stderr string
	}{
		{"unknown key", write("a", "listen = x\n\nlisen = y\n"), `a:3: lisen: unknown key`},
		{"config inside config", write("b", "config = other\n"), `b:1: config: unknown key`},
		{"bad number", write("c", "max-conns = many\n"), `c:1: max-conns: parse error`},
		{"bad boolean", write("d", "tls = sure\n"), `d:1: tls: parse error`},
		{"missing file", filepath.Join(dir, "none"), "--config: " + filepath.Join(dir, "none") + ": no such file"},
		{"syntax", write("e", "tls\n"), `e:1: want key = value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]string
			var out, errb bytes.Buffer
			code := Main(configTree(&got), []string{"serve", "--config", tt.file}, &Env{Stdout: &out, Stderr: &errb})
			if code != ExitUsage || !strings.Contains(errb.String(), tt.stderr) || got != nil {
				t.Fatalf("exit %d, ran %v, stderr %q; want exit 2 with %q and no run", code, got != nil, errb.String(), tt.stderr)
			}
		})
	}
}

// TestConfigFromEnvironment: a ${NAME} value comes from Env.LookupEnv.
func TestConfigFromEnvironment(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "c")
	os.WriteFile(conf, []byte("listen = ${LISTEN_ADDR}\n"), 0o600)
	var got map[string]string
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, LookupEnv: func(k string) (string, bool) {
		if k == "LISTEN_ADDR" {
			return "127.0.0.1:9", true
		}
		return "", false
	}}
	if code := Main(configTree(&got), []string{"serve", "--config", conf}, env); code != ExitOK || got["listen"] != "127.0.0.1:9" {
		t.Fatalf("exit %d, listen %q: %s", code, got["listen"], errb.String())
	}
}

// TestConfigFlagOnlyWhenAskedFor: commands without Config have no
// --config, and the help of those with it explains the format.
func TestConfigFlagOnlyWhenAskedFor(t *testing.T) {
	var got []string
	var loud bool
	var out, errb bytes.Buffer
	if code := Main(testTree(&got, &loud), []string{"greet", "--config", "x"}, &Env{Stdout: &out, Stderr: &errb}); code != ExitUsage {
		t.Fatalf("--config on a command without Config: exit %d", code)
	}
	var m map[string]string
	out.Reset()
	Main(configTree(&m), []string{"serve", "--help"}, &Env{Stdout: &out, Stderr: &errb})
	for _, want := range []string{"--config FILE", "CONFIGURATION FILE\n", "${NAME}"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
