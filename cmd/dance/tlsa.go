package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/tlsa"
)

// tlsaDefaultTTL is the TTL printed by "dance tlsa gen": short, so that a
// withdrawn key stops being trusted soon after its record is removed.
const tlsaDefaultTTL = 300

func tlsaCommand() *cli.Command {
	return &cli.Command{
		Name:        "tlsa",
		Summary:     "generate and match TLSA records (RFC 6698, RFC 7671)",
		Description: "TLSA records bind a certificate or key to a DNS name.",
		Sub:         []*cli.Command{tlsaGenCommand(), tlsaMatchCommand()},
	}
}

func tlsaGenCommand() *cli.Command {
	var certFile, pubFile, usages, selectors, mtypes, name string
	var ttl uint
	return &cli.Command{
		Name:    "gen",
		Summary: "print the TLSA records of a certificate or public key",
		Usage:   "dance tlsa gen --cert FILE | --pubkey FILE [--usage U --selector S --mtype M] [--name OWNER] [--ttl N]",
		Description: "Prints one zone-file line per record: \"OWNER. TTL IN TLSA U S M HEX\", the data on the\n" +
			"same line. --usage, --selector and --mtype take numbers or RFC 7218 mnemonics, and\n" +
			"comma-separated lists print every combination (e.g. --mtype 1,2 for a digest rollover).\n" +
			"\n" +
			"--cert reads a PEM certificate (or a chain: the first certificate is used) or one DER\n" +
			"certificate. --pubkey reads a PEM PUBLIC KEY, or a PEM private key whose public key is\n" +
			"used; it implies selector SPKI, as for raw public keys (RFC 7250).\n" +
			"\n" +
			"The owner is --name. Without --name, the owner is the certificate's SAN dNSName when it\n" +
			"carries exactly one; otherwise --name is required.",
		Examples: []string{
			"dance tlsa gen --cert dev1/cert.pem",
			"dance tlsa gen --cert ca/cert.pem --usage DANE-TA --selector Cert --name _user.example.com",
			"dance tlsa gen --pubkey dev1/key.pem --name dev1._device.example.com --mtype 1,2",
		},
		ExitCodes: []string{"0  records printed", "2  bad usage or bad input (unreadable file, unknown parameter)"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&certFile, "cert", "", "certificate `FILE` (PEM or DER; - for stdin)")
			fs.StringVar(&pubFile, "pubkey", "", "public or private key `FILE` (PEM; - for stdin)")
			fs.StringVar(&usages, "usage", "DANE-EE", "certificate usage(s): `U`[,U...] (0-3 or PKIX-TA, PKIX-EE, DANE-TA, DANE-EE)")
			fs.StringVar(&selectors, "selector", "SPKI", "selector(s): `S`[,S...] (0-1 or Cert, SPKI)")
			fs.StringVar(&mtypes, "mtype", "SHA2-256", "matching type(s): `M`[,M...] (0-2 or Full, SHA2-256, SHA2-512)")
			fs.StringVar(&name, "name", "", "owner `NAME` of the records")
			fs.UintVar(&ttl, "ttl", tlsaDefaultTTL, "TTL in `SECONDS`")
		},
		NoArgs: true,
		Run: func(env *cli.Env, fs *flag.FlagSet, args []string) error {
			if (certFile == "") == (pubFile == "") {
				return cli.Usagef("give exactly one of --cert and --pubkey")
			}
			if ttl > 1<<31-1 {
				return cli.Usagef("--ttl %d is larger than 2147483647 (RFC 2181 §8)", ttl)
			}
			us, err := tlsaList(usages, "--usage", tlsa.ParseUsage)
			if err != nil {
				return err
			}
			ss, err := tlsaList(selectors, "--selector", tlsa.ParseSelector)
			if err != nil {
				return err
			}
			ms, err := tlsaList(mtypes, "--mtype", tlsa.ParseMatchingType)
			if err != nil {
				return err
			}
			for _, u := range us {
				if !u.Known() {
					return cli.Usagef("--usage %d: not a usage of RFC 6698 (0-3)", u)
				}
			}
			for _, s := range ss {
				if !s.Known() {
					return cli.Usagef("--selector %d: not a selector of RFC 6698 (0-1)", s)
				}
			}
			for _, m := range ms {
				if !m.Known() {
					return cli.Usagef("--mtype %d: not a matching type of RFC 6698 (0-2)", m)
				}
			}

			var recs []tlsa.Record
			if certFile != "" {
				certs, err := readCertificates(env, certFile)
				if err != nil {
					return err
				}
				leaf := certs[0]
				if name == "" {
					if len(leaf.DNSNames) != 1 {
						return cli.WithHint(cli.Usagef("--name is required: the certificate carries %d SAN dNSNames", len(leaf.DNSNames)),
							"give the owner name of the records, e.g. --name dev1._device.example.com")
					}
					name = leaf.DNSNames[0]
				}
				for _, u := range us {
					for _, s := range ss {
						for _, m := range ms {
							r, err := tlsa.ForCertificate(leaf, u, s, m)
							if err != nil {
								return cli.Input(fmt.Errorf("%s: %w", cli.InputName(certFile), err))
							}
							recs = append(recs, r)
						}
					}
				}
			} else {
				for _, s := range ss {
					if s != tlsa.SelectorSPKI {
						return cli.WithHint(cli.Usagef("--pubkey gives a key, not a certificate: selector %s does not apply", s),
							"use --selector SPKI, or --cert for a certificate")
					}
				}
				if name == "" {
					return cli.Usagef("--name is required with --pubkey")
				}
				data, err := cli.ReadInput(env, pubFile)
				if err != nil {
					return cli.Input(err)
				}
				pub, err := tlsaParsePublicKey(data)
				if err != nil {
					return cli.Input(fmt.Errorf("%s: %w", cli.InputName(pubFile), err))
				}
				for _, u := range us {
					for _, m := range ms {
						r, err := tlsa.ForPublicKey(pub, u, m)
						if err != nil {
							return cli.Input(fmt.Errorf("%s: %w", cli.InputName(pubFile), err))
						}
						recs = append(recs, r)
					}
				}
			}
			if err := tlsaCheckOwner(name); err != nil {
				return cli.Usagef("--name %q: %v", name, err)
			}
			for _, r := range recs {
				fmt.Fprintln(env.Stdout, r.ZoneLine(name, uint32(ttl)))
			}
			return nil
		},
	}
}

func tlsaMatchCommand() *cli.Command {
	var tlsaFile, chainFile, name, rootsFile, at, eku string
	var asJSON bool
	return &cli.Command{
		Name:    "match",
		Summary: "check a certificate chain or raw public key against TLSA records",
		Usage:   "dance tlsa match --tlsa FILE --chain FILE [--name NAME] [--roots FILE] [--at RFC3339] [--json]",
		Description: "--tlsa holds TLSA records, as zone-file lines or bare RDATA (\"3 1 1 HEX\"), with # and ;\n" +
			"comments. --chain holds the PEM certificates the peer presents, leaf first, each one\n" +
			"issued by the next; or a single PEM PUBLIC KEY, matched as a raw public key (RFC 7250:\n" +
			"only DANE-EE SPKI records apply).\n" +
			"\n" +
			"DANE-EE records match the leaf alone, whatever its names and dates. DANE-TA, PKIX-TA and\n" +
			"PKIX-EE records need a valid path (at --at, for --eku) and the claimed name as a SAN\n" +
			"dNSName of the leaf: exact, case-insensitive, no wildcards. The claimed name is --name,\n" +
			"or else the owner of the records when the file names exactly one. PKIX records need\n" +
			"--roots; without it they are unusable. Per usage and selector only the strongest digest\n" +
			"counts (RFC 7671 §9).\n" +
			"\n" +
			"The verdict is one line: RESULT, then the record and depth or the reason. --json prints\n" +
			"{\"result\": ..., \"depth\": N, \"record\": \"U S M HEX\", \"detail\": ...}: result is one of match,\n" +
			"no-match, name-mismatch, untrusted, no-usable-records; depth is the position of the\n" +
			"matched certificate in the validated path (0 the leaf, a record-only anchor one above\n" +
			"the top certificate), -1 if none; record is the record that matched or whose checks\n" +
			"failed, \"\" if none.",
		Examples: []string{
			"dance tlsa match --tlsa dev1.tlsa --chain dev1/cert.pem",
			"dance tlsa match --tlsa user-ca.tlsa --chain chain.pem --name alice.example.com --json",
			"dance tlsa match --tlsa records.txt --chain chain.pem --roots roots.pem --at 2026-01-01T00:00:00Z",
		},
		ExitCodes: []string{
			"0  authenticated (result match)",
			"1  not authenticated",
			"2  bad usage or bad input (unreadable or malformed file, chain out of order)",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&tlsaFile, "tlsa", "", "`FILE` of TLSA records (- for stdin)")
			fs.StringVar(&chainFile, "chain", "", "`FILE` with the PEM chain, leaf first, or a PEM public key (- for stdin)")
			fs.StringVar(&name, "name", "", "the `NAME` the peer claims")
			fs.StringVar(&rootsFile, "roots", "", "PEM `FILE` of PKIX trust anchors for usages PKIX-TA and PKIX-EE")
			fs.StringVar(&at, "at", "", "verify at this `TIME` (RFC 3339) instead of now")
			fs.StringVar(&eku, "eku", "client", "extended key usage the path must allow: `client`, server or any")
			fs.BoolVar(&asJSON, "json", false, "print the verdict as one JSON object")
		},
		NoArgs: true,
		Run: func(env *cli.Env, fs *flag.FlagSet, args []string) error {
			if tlsaFile == "" || chainFile == "" {
				return cli.Usagef("--tlsa and --chain are required")
			}
			if tlsaFile == "-" && chainFile == "-" {
				return cli.Usagef("only one of --tlsa and --chain can be stdin")
			}
			opts := tlsa.Options{}
			switch eku {
			case "client":
				opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			case "server":
				opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			case "any":
				opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
			default:
				return cli.Usagef("--eku %q: want client, server or any", eku)
			}
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return cli.Usagef("--at %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", at)
				}
				opts.Time = t
			}
			data, err := cli.ReadInput(env, tlsaFile)
			if err != nil {
				return cli.Input(err)
			}
			rrs, err := tlsa.ParseFile(cli.InputName(tlsaFile), bytes.NewReader(data))
			if err != nil {
				return cli.Input(err)
			}
			records := make([]tlsa.Record, len(rrs))
			owners := map[string]bool{}
			for i, rr := range rrs {
				records[i] = rr.Record
				if rr.Owner != "" {
					owners[strings.ToLower(strings.TrimSuffix(rr.Owner, "."))] = true
				}
			}
			opts.Name = name
			if name == "" && len(owners) == 1 {
				for o := range owners {
					opts.Name = o
				}
			}
			if rootsFile != "" {
				roots, err := readCertificates(env, rootsFile)
				if err != nil {
					return err
				}
				opts.Roots = x509.NewCertPool()
				for _, c := range roots {
					opts.Roots.AddCert(c)
				}
			}
			data, err = cli.ReadInput(env, chainFile)
			if err != nil {
				return cli.Input(err)
			}
			var res tlsa.Result
			if spki, ok := tlsaRawPublicKey(data); ok {
				if _, err := x509.ParsePKIXPublicKey(spki); err != nil {
					return cli.Input(fmt.Errorf("%s: public key: %w", cli.InputName(chainFile), err))
				}
				res = tlsa.MatchRawPublicKey(spki, records)
			} else {
				chain, err := identity.ParseCertificates(data)
				if err != nil {
					return cli.Input(fmt.Errorf("%s: %w", cli.InputName(chainFile), err))
				}
				if err := tlsaCheckOrder(chain); err != nil {
					return cli.WithHint(cli.Input(fmt.Errorf("%s: %w", cli.InputName(chainFile), err)),
						"put the leaf first, then each certificate's issuer")
				}
				res = tlsa.Match(chain, records, opts)
			}
			return tlsaReport(env, res, asJSON)
		},
	}
}

// tlsaReport prints the verdict; a negative one exits 1 quietly.
func tlsaReport(env *cli.Env, res tlsa.Result, asJSON bool) error {
	record := ""
	if len(res.Record.Data) > 0 {
		record = res.Record.String()
	}
	detail := ""
	if res.Err != nil {
		detail = res.Err.Error()
	}
	if asJSON {
		out, err := json.Marshal(struct {
			Result string `json:"result"`
			Depth  int    `json:"depth"`
			Record string `json:"record"`
			Detail string `json:"detail,omitempty"`
		}{res.Reason.String(), res.Depth, record, detail})
		if err != nil {
			return cli.Fail(err)
		}
		fmt.Fprintf(env.Stdout, "%s\n", out)
	} else if res.OK() {
		r := res.Record
		fmt.Fprintf(env.Stdout, "match: %s (%s %s %s) at depth %d\n", record, r.Usage, r.Selector, r.MatchingType, res.Depth)
	} else if record != "" {
		fmt.Fprintf(env.Stdout, "%s: %s: %s\n", res.Reason, record, detail)
	} else {
		fmt.Fprintf(env.Stdout, "%s: %s\n", res.Reason, detail)
	}
	if !res.OK() {
		return cli.Negative()
	}
	return nil
}

func tlsaList[T any](s, flagName string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, cli.Usagef("%s %q: not a number from 0 to 255 or an RFC 7218 mnemonic", flagName, strings.TrimSpace(f))
		}
		out = append(out, v)
	}
	return out, nil
}

// tlsaRawPublicKey returns the DER SubjectPublicKeyInfo when data is a
// single PEM PUBLIC KEY.
func tlsaRawPublicKey(data []byte) ([]byte, bool) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, false
	}
	return b.Bytes, true
}

// tlsaParsePublicKey reads a PEM PUBLIC KEY, or derives the public key of
// a PEM private key (PKCS #8, SEC 1 or PKCS #1) read by
// identity.ParsePrivateKey, which refuses RSA keys below
// identity.MinRSABits.
func tlsaParsePublicKey(data []byte) (crypto.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block (want PUBLIC KEY or a private key)")
	}
	if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, errors.New("encrypted private keys are not supported")
	}
	switch b.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(b.Bytes)
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		key, err := identity.ParsePrivateKey(pem.EncodeToMemory(b))
		if err != nil {
			return nil, err
		}
		return key.Public(), nil
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted private keys are not supported")
	case "CERTIFICATE":
		return nil, errors.New("holds a certificate: use --cert")
	}
	return nil, fmt.Errorf("PEM block %q is not a public or private key", b.Type)
}

// tlsaCheckOrder requires a chain in TLS order: leaf first, each
// certificate followed by its issuer (RFC 8446 §4.4.2 asks senders for
// this order, and a tool that checks chains should insist on it). A
// repeat of an earlier certificate is skipped, as tlsa.Match ignores it.
func tlsaCheckOrder(chain []*x509.Certificate) error {
	prev := 0
	for i := 1; i < len(chain); i++ {
		if slices.ContainsFunc(chain[:i], chain[i].Equal) {
			continue
		}
		if !bytes.Equal(chain[prev].RawIssuer, chain[i].RawSubject) {
			return fmt.Errorf("chain is not in order, leaf first: certificate %d (%s) is not the issuer of certificate %d (%s)",
				i+1, chain[i].Subject, prev+1, chain[prev].Subject)
		}
		prev = i
	}
	return nil
}

// tlsaCheckOwner checks an owner name for a zone-file line: labels of
// letters, digits, hyphens and underscores, no escapes, at most 253
// octets without the trailing dot (RFC 1035 §2.3.4).
func tlsaCheckOwner(name string) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return errors.New("empty name")
	}
	if len(n) > 253 {
		return fmt.Errorf("%d octets, at most 253", len(n))
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" {
			return errors.New("empty label")
		}
		if len(l) > 63 {
			return fmt.Errorf("label %q longer than 63 octets", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("label %q: character %q is not allowed (use A-labels, no escapes)", l, c)
			}
		}
	}
	return nil
}
