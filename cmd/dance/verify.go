package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/verify"
)

// pemPublicKey is the PEM label of a SubjectPublicKeyInfo (RFC 7468 §13).
const pemPublicKey = "PUBLIC KEY"

func verifyCommand() *cli.Command {
	var rf resolverFlags
	var chainFile, pubkeyFile, name, rootsFile string
	var allow cli.StringList
	var asJSON bool
	return &cli.Command{
		Name:    "verify",
		Summary: "authenticate a certificate chain or raw public key by its DNS name, as a server would",
		Usage:   "dance verify (--chain FILE | --pubkey FILE) [--name NAME] [--allow PATTERN ...] [--resolver ADDR ...] [--anchors FILE] [--json]",
		Description: `Runs the verification core a dance server runs for each client: the name's syntax,
the allow-list, a DNSSEC-validated lookup of the TLSA records at NAME, the
match against what is presented, and the policy for the kind of identity.
Prints the authenticated identity, or "not authenticated" with the reason
(the label the server's metrics use) and the detail.

--chain is a PEM file of certificates, leaf first, as a client presents them
("-" reads stdin); --pubkey is an RFC 7250 raw public key (PEM PUBLIC KEY).
--name is the name claimed; with --chain it defaults to the name the leaf
claims in standard TLS: its single SAN dNSName, or _user.DOMAIN for a user
certificate. --allow defaults to just that name; give patterns
("*._device.example.com") to check a server's allow-list too.

` + resolverFlagsHelp,
		Examples: []string{
			"dance verify --chain sensor1/cert.pem --anchors zone/anchors --resolver 127.0.0.1:5353",
			"dance verify --chain alice/cert.pem --name _user.example.com --json",
			"dance verify --pubkey sensor2/pubkey.pem --name sensor2._device.example.com",
			"dance verify --chain cert.pem --allow '*._device.example.com'",
		},
		ExitCodes: []string{
			"0  authenticated",
			"1  not authenticated (the reason is printed), or the lookup failed",
			"2  bad usage or bad input (unreadable or malformed file, bad name or pattern)",
		},
		Flags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.StringVar(&chainFile, "chain", "", "PEM certificate chain `FILE`, leaf first (- for stdin)")
			fs.StringVar(&pubkeyFile, "pubkey", "", "raw public key `FILE` (PEM PUBLIC KEY, RFC 7250) instead of --chain")
			fs.StringVar(&name, "name", "", "the `NAME` claimed (default: the name the leaf certificate claims)")
			fs.Var(&allow, "allow", "allow-list `PATTERN`: a name, or *.NAME for every name below; repeat (default: NAME)")
			fs.StringVar(&rootsFile, "pkix-roots", "", "PEM CA certificates `FILE` for TLSA usages PKIX-TA and PKIX-EE (default: those records are unusable)")
			fs.BoolVar(&asJSON, "json", false, "print the verdict as JSON")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if (chainFile == "") == (pubkeyFile == "") {
				return cli.Usagef("give exactly one of --chain and --pubkey")
			}
			p, err := readPresented(env, chainFile, pubkeyFile)
			if err != nil {
				return err
			}
			if name == "" {
				if len(p.Chain) == 0 {
					return cli.Usagef("--pubkey needs --name: a raw public key carries no name")
				}
				if name, err = verify.ClaimedName(p.Chain[0]); err != nil {
					// The certificate claims no usable name: refused as a
					// server using standard TLS would refuse it.
					if asJSON {
						if err := printVerdictJSON(env, "", nil, err); err != nil {
							return cli.Fail(err)
						}
					} else {
						printVerdict(env, "", nil, err)
					}
					return cli.Negative()
				}
			}
			n, err := identity.ParseName(name)
			if err != nil {
				return cli.Input(fmt.Errorf("--name: %w", err))
			}
			if len(allow) == 0 {
				allow = cli.StringList{n.String()}
			}
			core, err := oneShotCore(env, allow, rootsFile, &rf)
			if err != nil {
				return err
			}
			id, verr := core.Verify(env.Context(), name, p)
			if asJSON {
				if err := printVerdictJSON(env, n.String(), id, verr); err != nil {
					return cli.Fail(err)
				}
			} else {
				printVerdict(env, n.String(), id, verr)
			}
			if verr != nil {
				return cli.Negative()
			}
			return nil
		},
	}
}

// readPresented reads --chain or --pubkey.
func readPresented(env *cli.Env, chainFile, pubkeyFile string) (verify.Presented, error) {
	if chainFile != "" {
		chain, err := readCertificates(env, chainFile)
		if err != nil {
			return verify.Presented{}, err
		}
		return verify.Presented{Chain: chain}, nil
	}
	data, err := cli.ReadInput(env, pubkeyFile)
	if err != nil {
		return verify.Presented{}, cli.Input(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != pemPublicKey {
		return verify.Presented{}, cli.Input(fmt.Errorf("%s: no PEM %s block", pubkeyFile, pemPublicKey))
	}
	if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
		return verify.Presented{}, cli.Input(fmt.Errorf("%s: %w", pubkeyFile, err))
	}
	return verify.Presented{RawPublicKey: b.Bytes}, nil
}

func printVerdict(env *cli.Env, name string, id *verify.Identity, err error) {
	if err != nil {
		fmt.Fprintf(env.Stdout, "not authenticated: %s\n", verify.ReasonOf(err))
		fmt.Fprintf(env.Stdout, "detail: %v\n", err)
		return
	}
	fmt.Fprintf(env.Stdout, "authenticated: %s (%s)\n", id.Name, id.Kind)
	if id.User != "" {
		fmt.Fprintf(env.Stdout, "user: %s\n", id.User)
	}
	fmt.Fprintf(env.Stdout, "record: %s (%s, depth %d)\n", id.Record, id.Record.Usage, id.Depth)
	fmt.Fprintf(env.Stdout, "valid until: %s\n", id.Expires.UTC().Format(time.RFC3339))
}

type verdictJSON struct {
	Authenticated bool             `json:"authenticated"`
	Name          string           `json:"name"`
	Identity      *verify.Identity `json:"identity,omitempty"`
	Record        string           `json:"record,omitempty"`
	Reason        string           `json:"reason,omitempty"`
	Error         string           `json:"error,omitempty"`
}

func printVerdictJSON(env *cli.Env, name string, id *verify.Identity, err error) error {
	out := verdictJSON{Authenticated: err == nil, Name: name, Identity: id}
	if id != nil {
		out.Record = id.Record.String()
	}
	if err != nil {
		out.Reason = verify.ReasonOf(err).String()
		var ve *verify.Error
		if errors.As(err, &ve) && ve.Err != nil {
			out.Error = ve.Err.Error()
		} else {
			out.Error = err.Error()
		}
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// oneShotCore is the verification core of one command run: the names of
// allow, PKIX-TA/PKIX-EE roots from rootsFile ("" for none), the resolver
// of rf, and no verdict cache.
func oneShotCore(env *cli.Env, allow []string, rootsFile string, rf *resolverFlags) (*verify.Core, error) {
	al, err := verify.ParseAllowList(allow)
	if err != nil {
		return nil, cli.Input(err)
	}
	cfg := verify.Config{Allow: al, CacheEntries: -1}
	if rootsFile != "" {
		if cfg.Roots, err = readCertPool(env, rootsFile); err != nil {
			return nil, err
		}
	}
	if cfg.Resolver, err = rf.newResolver(env); err != nil {
		return nil, err
	}
	core, err := verify.New(cfg)
	if err != nil {
		return nil, cli.Fail(err)
	}
	return core, nil
}
