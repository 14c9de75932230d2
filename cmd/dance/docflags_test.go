package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dnsbound/dance/internal/cli"
)

// docFiles are the documents, seen from this package's directory, whose
// dance command lines must name only flags the commands have.
var docFiles = []string{
	"../../README.md",
	"../../zone/README.md",
	"../../proxy/README.md",
	"../../docs/production.md",
	"../../docs/production-test.sh",
	"../../docs/dot-gate.md",
	"../../docs/smtp.md",
	"../../docs/ssh.md",
	"../../docs/mutual-dane.md",
	"../../docs/message-identities.md",
	"../../docs/ldap.md",
	"../../docs/xot.md",
	"../../deploy/dance-zone.service",
	"../../deploy/dance-proxy.service",
	"../../deploy/Dockerfile",
	"../../deploy/dance-zone.default",
	"../../deploy/dance-proxy.default",
}

// docArgs are the variables of deploy/*.default that hold a command's
// flags, and that command.
var docArgs = strings.NewReplacer("DANCE_ZONE_ARGS=", "dance zone serve ", "DANCE_PROXY_ARGS=", "dance proxy ")

var (
	// docCommand is "dance" and the words after it.
	docCommand = regexp.MustCompile(`\bdance((?: +[a-z][a-z-]*)+)`)
	// docFlag is a flag in a command line.
	docFlag = regexp.MustCompile(`(?:^|[\s"'=\[(])(--[a-z][a-z0-9-]*)`)
	// docEnd ends a command line: a pipe, a list, a quote or code span
	// that closes, a comment.
	docEnd = regexp.MustCompile("[|;`&)#]|\\$\\(")
)

// flagsOf returns the flags of cmd, --help and (with Config) --config.
func flagsOf(cmd *cli.Command) map[string]bool {
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	out := map[string]bool{"--help": true}
	if cmd.Config {
		out["--"+cli.ConfigFlag] = true
	}
	fs.VisitAll(func(f *flag.Flag) { out["--"+f.Name] = true })
	return out
}

// resolveDoc finds the command that words name, and how many words that
// took; nil when they name no command that runs.
func resolveDoc(words []string) (*cli.Command, int) {
	c := root()
	n := 0
	for _, w := range words {
		var next *cli.Command
		for _, s := range c.Sub {
			if s.Name == w {
				next = s
			}
		}
		if next == nil {
			break
		}
		c, n = next, n+1
	}
	if n == 0 || c.Run == nil {
		return nil, 0
	}
	return c, n
}

// TestDocFlagsExist: every flag a document gives a dance command is a
// flag of that command, so that a guide followed word for word works and
// a renamed flag is renamed in the documents too.
func TestDocFlagsExist(t *testing.T) {
	checked := 0
	for _, file := range docFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// Shell continuation lines make one command line.
		text := docArgs.Replace(strings.ReplaceAll(string(b), "\\\n", " "))
		for i, line := range strings.Split(text, "\n") {
			for _, m := range docCommand.FindAllStringSubmatchIndex(line, -1) {
				words := strings.Fields(line[m[2]:m[3]])
				cmd, n := resolveDoc(words)
				if cmd == nil {
					continue
				}
				// The rest of the command line, after the command's words.
				rest := line[m[0]:]
				for range n + 1 {
					rest = strings.TrimLeft(rest, " ")
					rest = rest[strings.IndexAny(rest+" ", " "):]
				}
				if e := docEnd.FindStringIndex(rest); e != nil {
					rest = rest[:e[0]]
				}
				flags := flagsOf(cmd)
				for _, f := range docFlag.FindAllStringSubmatch(rest, -1) {
					checked++
					if !flags[f[1]] {
						t.Errorf("%s:%d: dance %s has no flag %s: %s", filepath.Base(file), i+1, strings.Join(words[:n], " "), f[1], strings.TrimSpace(line))
					}
				}
			}
		}
	}
	t.Logf("%d flags checked", checked)
	if checked < 50 {
		t.Errorf("only %d flags checked in the documents: the parser finds no command lines", checked)
	}
}

// TestReadmeListsEveryFlag: the README of each long-running command names
// every one of its flags, which are also the keys of its --config file.
func TestReadmeListsEveryFlag(t *testing.T) {
	for _, c := range []struct {
		words []string
		file  string
	}{
		{[]string{"zone", "serve"}, "../../zone/README.md"},
		{[]string{"proxy"}, "../../proxy/README.md"},
		{[]string{"ldap", "serve"}, "../../docs/ldap.md"},
		{[]string{"dot-gate"}, "../../dotgate/README.md"},
		{[]string{"smtp", "relay"}, "../../smtpauth/README.md"},
	} {
		cmd, _ := resolveDoc(c.words)
		if cmd == nil {
			t.Fatalf("no command dance %s", strings.Join(c.words, " "))
		}
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		for f := range flagsOf(cmd) {
			if f != "--help" && !regexp.MustCompile(regexp.QuoteMeta(f)+`(?:[^a-z0-9-]|$)`).Match(b) {
				t.Errorf("%s does not name %s, a flag of dance %s", strings.TrimPrefix(c.file, "../../"), f, strings.Join(c.words, " "))
			}
		}
	}
}
