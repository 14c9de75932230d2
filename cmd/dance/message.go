package main

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/message"
	"github.com/dnsbound/dance/verify"
)

// messageFormats maps --format values to message formats.
var messageFormats = map[string]message.Format{"jws": message.JWSCompact, "jws-json": message.JWSJSON, "cose": message.COSE}

func signCommand() *cli.Command {
	var idDir, format, name, out string
	var noChain bool
	var lifetime time.Duration
	return &cli.Command{
		Name:    "sign",
		Summary: "sign a message with an identity, naming it by a dns: URI that verifiers look up",
		Usage:   "dance sign --identity DIR [--format jws|jws-json|cose] [--name NAME] [--no-chain] [--lifetime DURATION] [--out FILE] FILE|-",
		Description: `Signs FILE ("-": stdin) as a JWS (compact, or JSON with --format jws-json) or a
COSE_Sign1 (--format cose), with the identity in DIR (key.pem, and cert.pem as 'dance id new'
writes them). The protected header names the signer with an RFC 4501 URI,
dns:NAME?type=TLSA, in x5u and kid, and carries iat, a random message id (jti or cti), exp
with --lifetime, and the certificate chain (x5c or x5chain) unless --no-chain.
docs/message-identities.md is the format.

NAME is the name the certificate claims (its dNSName, or _user.DOMAIN for a user), or
--name. Which record verifiers need: with the chain carried, the identity's usual record
(3 1 1, 3 0 x or the CA's 2 x x); with --no-chain, a 3 1 0 record publishing the key itself
('dance tlsa gen --pubkey DIR/key.pem --mtype Full --name NAME'). A raw-public-key identity (pubkey.pem, no
cert.pem) signs with --name and needs that 3 1 0 record. The algorithm follows the key:
ES256 (P-256), ES384 (P-384), EdDSA (Ed25519), PS256 (RSA); COSE takes P-256 and Ed25519.`,
		Examples: []string{
			"dance sign --identity ./sensor1 reading.json > reading.jws",
			"dance sign --identity ./sensor1 --format cose --lifetime 5m --out reading.cose reading.cbor",
			"echo 21.5 | dance sign --identity ./sensor2 --name sensor2._device.example.com --no-chain -",
		},
		ExitCodes: []string{"0  signed, message written", "1  failure (e.g. writing the output)", "2  bad usage or bad input (unreadable identity, unknown format)"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&idDir, "identity", "", "identity `DIR` holding key.pem and cert.pem (or pubkey.pem)")
			fs.StringVar(&format, "format", "jws", "`FORMAT`: jws (compact), jws-json or cose")
			fs.StringVar(&name, "name", "", "the signer's `NAME` (default: the name the certificate claims)")
			fs.BoolVar(&noChain, "no-chain", false, "do not carry the certificate chain: verifiers take the key from a 3 1 0 record")
			fs.DurationVar(&lifetime, "lifetime", 0, "set exp this `DURATION` after iat (default: no exp; verifiers bound the age themselves)")
			fs.StringVar(&out, "out", "-", "write the message to `FILE` (- for stdout)")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("sign needs exactly one FILE (- for stdin), got %d arguments", len(args))
			}
			if idDir == "" {
				return cli.Usagef("--identity DIR is required")
			}
			f, ok := messageFormats[format]
			if !ok {
				return cli.Usagef("--format %q: want jws, jws-json or cose", format)
			}
			if lifetime < 0 {
				return cli.Usagef("--lifetime must not be negative")
			}
			s, err := loadMessageSigner(idDir, name, noChain)
			if err != nil {
				return err
			}
			s.Lifetime = lifetime
			payload, err := cli.ReadInput(env, args[0])
			if err != nil {
				return cli.Input(err)
			}
			msg, err := s.Sign(payload, f)
			if err != nil {
				return cli.Input(err)
			}
			if f != message.COSE {
				msg = append(msg, '\n')
			}
			if out == "-" {
				_, err = env.Stdout.Write(msg)
			} else {
				err = os.WriteFile(out, msg, 0o644)
			}
			if err != nil {
				return cli.Fail(err)
			}
			return nil
		},
	}
}

// loadMessageSigner reads an identity directory: key.pem, and cert.pem
// (the chain, leaf first) when present.
func loadMessageSigner(dir, name string, noChain bool) (*message.Signer, error) {
	kb, err := os.ReadFile(filepath.Join(dir, idKeyFile))
	if err != nil {
		return nil, cli.Input(err)
	}
	key, err := identity.ParsePrivateKey(kb)
	if err != nil {
		return nil, cli.Input(fmt.Errorf("%s: %w", filepath.Join(dir, idKeyFile), err))
	}
	s := &message.Signer{Name: name, Key: key}
	cb, err := os.ReadFile(filepath.Join(dir, idCertFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if name == "" {
			return nil, cli.Usagef("%s has no %s: give the signer's --name", dir, idCertFile)
		}
		return s, nil
	case err != nil:
		return nil, cli.Input(err)
	}
	chain, err := identity.ParseCertificates(cb)
	if err != nil {
		return nil, cli.Input(fmt.Errorf("%s: %w", filepath.Join(dir, idCertFile), err))
	}
	if pk, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(key.Public()) {
		return nil, cli.Input(fmt.Errorf("%s: the key in %s is not the certificate's", dir, idKeyFile))
	}
	if s.Name == "" {
		if s.Name, err = verify.ClaimedName(chain[0]); err != nil {
			return nil, cli.WithHint(cli.Input(err), "give the signer's --name")
		}
	}
	if !noChain {
		s.Chain = chain
	}
	return s, nil
}

func verifyMessageCommand() *cli.Command {
	var rf resolverFlags
	var format, out, rootsFile string
	var allow cli.StringList
	var asJSON bool
	var maxAge, skew time.Duration
	return &cli.Command{
		Name:    "verify-message",
		Summary: "authenticate a signed message (JWS or COSE) by the TLSA records of the name it claims",
		Usage:   "dance verify-message [--format jws|cose] [--allow PATTERN ...] [--resolver ADDR ...] [--anchors FILE] [--out FILE] [--json] FILE|-",
		Description: `Verifies a message 'dance sign' (or any signer following docs/message-identities.md)
made: the dns: URI in its protected header names the signer; the allow-list is checked; the
TLSA records at that name are looked up with DNSSEC validation; the key is taken from a
3 1 0 record, or from the carried certificate once it matches the records; then the
signature, the time window (iat within --max-age, exp, nbf, with --skew) and, for the
messages of this run, replays. Prints who signed, when, with which record, or "not
authenticated" with the reason. --out writes the verified payload.

--allow defaults to just the name the message claims; give patterns
("*._device.example.com") to check a receiver's allow-list too. --format accepts only
that format (jws: compact or JSON; cose: COSE_Sign1); by default either.

` + resolverFlagsHelp,
		Examples: []string{
			"dance verify-message --anchors zone/anchors --resolver 127.0.0.1:5353 reading.jws",
			"dance verify-message --format cose --allow '*._device.example.com' --out reading.cbor reading.cose",
			"dance sign --identity ./sensor1 r.json | dance verify-message --json -",
		},
		ExitCodes: []string{
			"0  authenticated",
			"1  not authenticated (the reason is printed), or the lookup failed",
			"2  bad usage or bad input (unreadable file, bad pattern)",
		},
		Flags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.StringVar(&format, "format", "", "accept only `FORMAT`: jws or cose (default: either)")
			fs.Var(&allow, "allow", "allow-list `PATTERN`: a name, or *.NAME for every name below; repeat (default: the name the message claims)")
			fs.StringVar(&rootsFile, "pkix-roots", "", "PEM CA certificates `FILE` for TLSA usages PKIX-TA and PKIX-EE (default: those records are unusable)")
			fs.DurationVar(&maxAge, "max-age", message.DefaultMaxAge, "accept messages issued at most this `DURATION` ago")
			fs.DurationVar(&skew, "skew", message.DefaultSkew, "allow this clock difference with the signer, as a `DURATION`")
			fs.StringVar(&out, "out", "", "write the verified payload to `FILE` (- for stdout)")
			fs.BoolVar(&asJSON, "json", false, "print the verdict as JSON")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("verify-message needs exactly one FILE (- for stdin), got %d arguments", len(args))
			}
			if maxAge <= 0 || skew < 0 {
				return cli.Usagef("--max-age must be positive and --skew not negative")
			}
			formats, err := acceptedFormats(format)
			if err != nil {
				return err
			}
			if out == "-" && asJSON {
				return cli.Usagef("--out - and --json both write to stdout")
			}
			msg, err := cli.ReadInput(env, args[0])
			if err != nil {
				return cli.Input(err)
			}
			if len(msg) > 0 && (msg[0] == '{' || msg[0] < 0x80 && msg[0] > ' ') {
				msg = bytes.TrimRight(msg, " \t\r\n") // a text file's last newline
			}
			if len(allow) == 0 {
				name, err := message.ClaimedName(msg)
				if err != nil {
					return printMessageVerdict(env, asJSON, nil, err)
				}
				allow = cli.StringList{name}
			}
			core, err := oneShotCore(env, allow, rootsFile, &rf)
			if err != nil {
				return err
			}
			if skew == 0 {
				skew = -1 // Config: negative means none
			}
			v, err := message.NewVerifier(message.Config{Core: core, MaxAge: maxAge, Skew: skew, Formats: formats})
			if err != nil {
				return cli.Fail(err)
			}
			m, verr := v.Verify(env.Context(), msg)
			if err := printMessageVerdict(env, asJSON, m, verr); err != nil {
				return err
			}
			if out != "" {
				if out == "-" {
					_, err = env.Stdout.Write(m.Payload)
				} else {
					err = os.WriteFile(out, m.Payload, 0o644)
				}
				if err != nil {
					return cli.Fail(err)
				}
			}
			return nil
		},
	}
}

// messageVerdictJSON is verify-message's --json output.
type messageVerdictJSON struct {
	Authenticated bool             `json:"authenticated"`
	Signer        *verify.Identity `json:"signer,omitempty"`
	Record        string           `json:"record,omitempty"`
	Format        message.Format   `json:"format,omitempty"`
	Algorithm     string           `json:"alg,omitempty"`
	KeyFrom       string           `json:"key_from,omitempty"`
	IssuedAt      *time.Time       `json:"issued_at,omitempty"`
	Expires       *time.Time       `json:"expires,omitempty"`
	ID            string           `json:"id,omitempty"`
	Reason        string           `json:"reason,omitempty"`
	Error         string           `json:"error,omitempty"`
}

// printMessageVerdict prints the verdict and returns cli.Negative for a
// refusal.
func printMessageVerdict(env *cli.Env, asJSON bool, m *message.Verified, verr error) error {
	if asJSON {
		o := messageVerdictJSON{Authenticated: verr == nil}
		if m != nil {
			o.Signer, o.Record, o.Format, o.Algorithm, o.KeyFrom, o.ID = m.Signer, m.Signer.Record.String(), m.Format, string(m.Algorithm), m.KeyFrom, m.ID
			iat := m.IssuedAt.UTC()
			o.IssuedAt = &iat
			if !m.Expires.IsZero() {
				exp := m.Expires.UTC()
				o.Expires = &exp
			}
		}
		if verr != nil {
			o.Reason, o.Error = message.Label(verr), verr.Error()
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(o); err != nil {
			return cli.Fail(err)
		}
	} else if verr != nil {
		fmt.Fprintf(env.Stdout, "not authenticated: %s\n", message.Label(verr))
		fmt.Fprintf(env.Stdout, "detail: %v\n", verr)
	} else {
		id := m.Signer
		fmt.Fprintf(env.Stdout, "authenticated: %s (%s)\n", id.Name, id.Kind)
		if id.User != "" {
			fmt.Fprintf(env.Stdout, "user: %s\n", id.User)
		}
		fmt.Fprintf(env.Stdout, "record: %s (%s, depth %d)\n", id.Record, id.Record.Usage, id.Depth)
		fmt.Fprintf(env.Stdout, "key from: %s\n", m.KeyFrom)
		fmt.Fprintf(env.Stdout, "signed: %s, %s %s\n", m.IssuedAt.UTC().Format(time.RFC3339), m.Format, m.Algorithm)
		fmt.Fprintf(env.Stdout, "id: %s\n", m.ID)
	}
	if verr != nil {
		return cli.Negative()
	}
	return nil
}

// acceptedFormats reads a --format flag that restricts what a verifier
// accepts: "" (either), jws or cose.
func acceptedFormats(format string) ([]message.Format, error) {
	switch format {
	case "":
		return nil, nil
	case "jws":
		return []message.Format{message.JWSCompact, message.JWSJSON}, nil
	case "cose":
		return []message.Format{message.COSE}, nil
	}
	return nil, cli.Usagef("--format %q: want jws or cose", format)
}
