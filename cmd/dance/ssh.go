package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/sshauth"
	"github.com/dnsbound/dance/verify"
)

func sshCommand() *cli.Command {
	return &cli.Command{
		Name:    "ssh",
		Summary: "SSH logins authorized by DNS names: OpenSSH's AuthorizedKeysCommand, and the records of a key",
		Sub:     []*cli.Command{sshAuthorizedKeysCommand(), sshPublishCommand()},
	}
}

func sshAuthorizedKeysCommand() *cli.Command {
	var rf resolverFlags
	var dir string
	var allow cli.StringList
	var deadline time.Duration
	return &cli.Command{
		Name:    "authorized-keys",
		Summary: "print the SSH keys the DNS names of a user's authorization file publish (for sshd)",
		Usage:   "dance ssh authorized-keys [--dir DIR] [--deadline DURATION] [--allow PATTERN ...] [resolver flags] USER [KEYTYPE KEY]",
		Description: `For sshd's AuthorizedKeysCommand. Reads the authorization file DIR/USER: one
DNS name a line ("#" starts a comment), the names that may log in as USER.
For each name it looks up the TLSA records with DNSSEC validation and prints
an authorized_keys line for each key the name publishes, with the comment
"dance:NAME". Only Secure answers count: a name whose answer is insecure,
bogus or late prints nothing. Removing a name's record locks its key out;
publishing a new one (dance ssh publish) rotates it.

Given the key sshd offers (%t %k), every DANE-EE SPKI record matches it
(3 1 0, 3 1 1, 3 1 2) and only that key is printed. Without it only 3 1 0
records can be listed: a digest names a key without giving it.

The file must not be writable by group or others. --allow restricts the
names a file may list (patterns as for the verification core's allow-list,
"*.people.example.com"); by default every name in the file is looked up.
Everything is done within --deadline, since sshd waits on this command: a
name not validated by then prints nothing. Refusals are written to stderr.

sshd_config:
  AuthorizedKeysCommand /usr/local/bin/dance ssh authorized-keys --resolver 127.0.0.1 %u %t %k
  AuthorizedKeysCommandUser dance-ssh

` + resolverFlagsHelp,
		Examples: []string{
			"dance ssh authorized-keys alice",
			"dance ssh authorized-keys --dir /etc/dance/ssh --resolver 127.0.0.1 --deadline 2s alice ssh-ed25519 AAAAC3Nza...",
		},
		ExitCodes: []string{
			"0  at least one key printed",
			"1  no key authorized (each refusal on stderr)",
			"2  bad usage, bad user name, or an unreadable or unsafe authorization file",
		},
		Flags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.StringVar(&dir, "dir", sshauth.DefaultDir, "the `DIR` of the authorization files, one per user, named after the user")
			fs.Var(&allow, "allow", "allow-list `PATTERN`: a name, or *.NAME for every name below; repeat (default: every name of the file)")
			fs.DurationVar(&deadline, "deadline", sshauth.DefaultDeadline, "print what is validated within this `DURATION`, and nothing for the rest")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 && len(args) != 3 {
				return cli.Usagef("want USER, or USER KEYTYPE KEY")
			}
			if deadline <= 0 {
				return cli.Usagef("--deadline must be positive")
			}
			path, err := sshauth.AuthorizationPath(dir, args[0])
			if err != nil {
				return cli.Input(err)
			}
			var offered ssh.PublicKey
			if len(args) == 3 {
				k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(args[1] + " " + args[2]))
				if err != nil {
					return cli.Input(fmt.Errorf("offered key: %w", err))
				}
				offered = k
			}
			file, err := sshauth.ReadAuthorizationFile(path)
			if err != nil {
				return cli.Input(err)
			}
			for _, p := range file.Problems {
				fmt.Fprintf(env.Stderr, "dance: warning: %s: %v\n", path, p)
			}
			patterns := allow
			if len(patterns) == 0 {
				patterns = file.Names
			}
			al, err := verify.ParseAllowList(patterns)
			if err != nil {
				return cli.Input(err)
			}
			r, err := rf.newResolver(env)
			if err != nil {
				return err
			}
			core, err := verify.New(verify.Config{Resolver: r, Allow: al, LookupTimeout: deadline, CacheEntries: -1})
			if err != nil {
				return cli.Fail(err)
			}
			res := sshauth.Authorize(env.Context(), core, file.Names, offered, deadline)
			for _, ref := range res.Refused {
				reason := verify.ReasonOf(ref.Err).String()
				if errors.Is(ref.Err, sshauth.ErrDeadline) {
					reason = "deadline"
				}
				fmt.Fprintf(env.Stderr, "dance: %s: refused (%s): %v\n", ref.Name, reason, ref.Err)
			}
			if err := sshauth.WriteAuthorizedKeys(env.Stdout, res); err != nil {
				return cli.Fail(err)
			}
			if len(res.Keys) == 0 {
				return cli.Negative()
			}
			return nil
		},
	}
}

func sshPublishCommand() *cli.Command {
	var name string
	var ttl uint
	return &cli.Command{
		Name:    "publish",
		Summary: "print the TLSA record that publishes an SSH public key at a DNS name",
		Usage:   "dance ssh publish --name NAME [--ttl SECONDS] [KEYFILE|-]",
		Description: `Reads an SSH public key in authorized_keys format (an id_ed25519.pub file; "-"
or nothing reads stdin) and prints the zone-file line that publishes it at
NAME: DANE-EE, SPKI, Full (3 1 0), the key's SubjectPublicKeyInfo. Pipe it
into 'dance zone add --from -' to publish it; the authorization files of
the hosts list NAME.

Keys: ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa of at least 2048
bits. Security keys (sk-*) and certificates are refused. NAME is any
DANCE owner name but a user name (_user.DOMAIN): a host-shaped name
("alice.people.example.com") or a service-shaped one
("_ssh-client.alice.example.com").`,
		Examples: []string{
			"dance ssh publish --name _ssh-client.alice.example.com ~/.ssh/id_ed25519.pub",
			"dance ssh publish --name _ssh-client.alice.example.com ~/.ssh/id_ed25519.pub | dance zone add --dir ./zone --from -",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "the DNS `NAME` that publishes the key (required)")
			fs.UintVar(&ttl, "ttl", idDefaultTTL, "TTL of the printed record, in `SECONDS`")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if name == "" {
				return cli.Usagef("--name is required")
			}
			if len(args) > 1 {
				return cli.Usagef("want at most one KEYFILE")
			}
			if ttl > 1<<31-1 {
				return cli.Usagef("--ttl is too large")
			}
			n, err := identity.ParseName(name)
			if err != nil {
				return cli.Input(fmt.Errorf("--name: %w", err))
			}
			if n.Kind() == identity.KindUser {
				return cli.Input(fmt.Errorf("--name %s is a user name: its records authenticate certificates, not SSH keys", n))
			}
			file := "-"
			if len(args) == 1 {
				file = args[0]
			}
			data, err := cli.ReadInput(env, file)
			if err != nil {
				return cli.Input(err)
			}
			key, _, _, rest, err := ssh.ParseAuthorizedKey(data)
			if err != nil {
				return cli.Input(fmt.Errorf("%s: %w", cli.InputName(file), err))
			}
			if strings.TrimSpace(string(rest)) != "" {
				return cli.Input(fmt.Errorf("%s: more than one key; publish one at a time", cli.InputName(file)))
			}
			recs, err := sshauth.Records(key)
			if err != nil {
				return cli.Input(fmt.Errorf("%s: %w", cli.InputName(file), err))
			}
			for _, r := range recs {
				fmt.Fprintln(env.Stdout, r.ZoneLine(n.FQDN(), uint32(ttl)))
			}
			return nil
		},
	}
}
