package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testTree is a small command tree: "t greet [--loud] NAME...", "t fail",
// "t bad", "t quiet", "t hint".
func testTree(got *[]string, loud *bool) *Command {
	return &Command{
		Name: "t",
		Sub: []*Command{
			{
				Name:     "greet",
				Summary:  "say hello",
				Usage:    "t greet [--loud] NAME...",
				Examples: []string{"t greet --loud bob"},
				Flags: func(fs *flag.FlagSet) {
					fs.BoolVar(loud, "loud", false, "shout")
					fs.String("tag", "x", "a `TAG` with a default")
				},
				Run: func(env *Env, fs *flag.FlagSet, args []string) error {
					*got = args
					for _, a := range args {
						fmt.Fprintf(env.Stdout, "hello %s\n", a)
					}
					return nil
				},
			},
			{Name: "fail", Summary: "fails", Run: func(*Env, *flag.FlagSet, []string) error {
				return Fail(errors.New("it broke"))
			}},
			{Name: "bad", Summary: "bad input", Run: func(*Env, *flag.FlagSet, []string) error {
				return Input(errors.New("x.pem: no PEM block"))
			}},
			{Name: "quiet", Summary: "negative verdict", Run: func(env *Env, _ *flag.FlagSet, _ []string) error {
				fmt.Fprintln(env.Stdout, "no-match")
				return Negative()
			}},
			{Name: "hint", Summary: "error with hint", Run: func(*Env, *flag.FlagSet, []string) error {
				return WithHint(Usagef("--out is required"), "pass --out DIR")
			}},
			{Name: "plain", Summary: "unclassified error", Run: func(*Env, *flag.FlagSet, []string) error {
				return errors.New("multi\nline   error")
			}},
			{Name: "noargs", Summary: "takes no arguments", NoArgs: true, Run: func(env *Env, _ *flag.FlagSet, _ []string) error {
				fmt.Fprintln(env.Stdout, "ran")
				return nil
			}},
		},
	}
}

func TestMain_ExitCodesAndOutput(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stdout     string // substring
		stderr     string // exact
		wantArgs   []string
		wantLoud   bool
		stdoutNone bool
		anyStderr  bool // help text on stderr: only its presence is checked
	}{
		{args: []string{"greet", "a", "--loud", "b"}, code: ExitOK, stdout: "hello a\nhello b\n", wantArgs: []string{"a", "b"}, wantLoud: true},
		{args: []string{"greet", "--", "--loud", "-"}, code: ExitOK, wantArgs: []string{"--loud", "-"}},
		{args: []string{"greet", "-"}, code: ExitOK, wantArgs: []string{"-"}},
		{args: []string{"greet", "--nope"}, code: ExitUsage, stderr: "dance: error: unknown flag --nope\ndance: hint: run 't greet --help'\n", stdoutNone: true},
		{args: []string{"greet", "--help"}, code: ExitOK, stdout: "EXAMPLES\n  t greet --loud bob\n"},
		{args: []string{"fail"}, code: ExitFail, stderr: "dance: error: it broke\n"},
		{args: []string{"bad"}, code: ExitUsage, stderr: "dance: error: x.pem: no PEM block\n"},
		{args: []string{"quiet"}, code: ExitFail, stdout: "no-match\n", stderr: ""},
		{args: []string{"hint"}, code: ExitUsage, stderr: "dance: error: --out is required\ndance: hint: pass --out DIR\n"},
		{args: []string{"plain"}, code: ExitFail, stderr: "dance: error: multi line error\n"},
		{args: []string{"noargs"}, code: ExitOK, stdout: "ran\n"},
		{args: []string{"noargs", "extra"}, code: ExitUsage, stderr: "dance: error: unexpected argument \"extra\"\n", stdoutNone: true},
		{args: []string{"nosuch"}, code: ExitUsage, stderr: "dance: error: unknown command \"t nosuch\"\ndance: hint: run 't --help' for the list of commands\n"},
		{args: nil, code: ExitUsage, stdoutNone: true, anyStderr: true},
		{args: []string{"--help"}, code: ExitOK, stdout: "COMMANDS\n  greet   say hello\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			var got []string
			var loud bool
			var out, errb bytes.Buffer
			code := Main(testTree(&got, &loud), tt.args, &Env{Stdout: &out, Stderr: &errb})
			if code != tt.code {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if tt.stdout != "" && !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q does not contain %q", out.String(), tt.stdout)
			}
			if tt.stdoutNone && out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
			if tt.anyStderr {
				if !strings.Contains(errb.String(), "COMMANDS") {
					t.Errorf("stderr %q, want the command list", errb.String())
				}
			} else if errb.String() != tt.stderr {
				t.Errorf("stderr %q, want %q", errb.String(), tt.stderr)
			}
			if tt.wantArgs != nil && !reflect.DeepEqual(got, tt.wantArgs) {
				t.Errorf("args %q, want %q", got, tt.wantArgs)
			}
			if loud != tt.wantLoud {
				t.Errorf("loud = %v, want %v", loud, tt.wantLoud)
			}
		})
	}
}

func TestHelpListsFlagsWithDefaults(t *testing.T) {
	var got []string
	var loud bool
	var out bytes.Buffer
	Main(testTree(&got, &loud), []string{"greet", "-h"}, &Env{Stdout: &out, Stderr: &out})
	h := out.String()
	for _, want := range []string{"USAGE\n  t greet [--loud] NAME...", "--loud\n      shout\n", "--tag TAG\n      a TAG with a default (default x)", "EXIT CODES\n  0  success"} {
		if !strings.Contains(h, want) {
			t.Errorf("help lacks %q:\n%s", want, h)
		}
	}
}

func TestStringList(t *testing.T) {
	var l StringList
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&l, "resolver", "")
	if _, err := Parse(fs, []string{"--resolver", "a", "pos", "--resolver=b"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual([]string(l), []string{"a", "b"}) {
		t.Fatalf("got %q", l)
	}
}

func TestReadInput(t *testing.T) {
	env := &Env{Stdin: strings.NewReader("from stdin")}
	b, err := ReadInput(env, "-")
	if err != nil || string(b) != "from stdin" {
		t.Fatalf("stdin: %q %v", b, err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(p, []byte("file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadInput(env, p); err != nil || string(b) != "file" {
		t.Fatalf("file: %q %v", b, err)
	}
	_, err = ReadInput(env, filepath.Join(dir, "missing.pem"))
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "missing.pem")+": ") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file error %v should name the file and wrap ErrNotExist", err)
	}
}

// TestVersionFlag: "--version" at the top runs the "version" command, and
// is an unknown command in a tree without one.
func TestVersionFlag(t *testing.T) {
	ran := 0
	tree := &Command{Name: "t", Sub: []*Command{{Name: "version", Run: func(env *Env, _ *flag.FlagSet, _ []string) error {
		ran++
		return nil
	}}}}
	var out, errb bytes.Buffer
	if code := Main(tree, []string{"--version"}, &Env{Stdout: &out, Stderr: &errb}); code != ExitOK || ran != 1 {
		t.Fatalf("--version: exit %d, ran %d times: %s", code, ran, errb.String())
	}
	tree.Sub[0].Name = "other"
	errb.Reset()
	if code := Main(tree, []string{"--version"}, &Env{Stdout: &out, Stderr: &errb}); code != ExitUsage || ran != 1 {
		t.Fatalf("--version without a version command: exit %d, ran %d: %s", code, ran, errb.String())
	}
}
