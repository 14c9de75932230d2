package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/miekg/dns"
)

// resolvConf is where the default upstreams come from.
var resolvConf = "/etc/resolv.conf"

// resolverFlags are the flags of every command that resolves names; define
// them with register and build the resolver with newResolver.
type resolverFlags struct {
	upstreams cli.StringList
	tls       bool
	tlsCA     string
	tlsName   string
	anchors   string
	trustAD   bool
	minTTL    time.Duration
}

const resolverFlagsHelp = `Names are resolved by asking the --resolver servers (default: the nameservers
of /etc/resolv.conf, else 127.0.0.1) with DNSSEC records, and validating every
signature locally up to a trust anchor: the IANA root keys, plus the DS or
DNSKEY lines of --anchors, each valid for its own subtree. --trust-ad believes
the resolver's AD bit instead, and is refused unless the resolver is reached
over --tls or on a loopback address. Over --tls the resolver's certificate is
verified against the system roots, or against --tls-ca for a private resolver,
for the name --tls-name (default: the host part of --resolver). Answers are
cached for their TTL, but at least --min-cache-ttl: a revoked identity can be
accepted for that long after its record is gone, so lower it for zones whose
TTLs are shorter.`

func (f *resolverFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.upstreams, "resolver", "DNS server to ask, `ADDR` as host or host:port; repeat for several (default: /etc/resolv.conf)")
	fs.BoolVar(&f.tls, "tls", false, "reach the resolvers over DNS over TLS (port 853 unless given), certificate verified")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "with --tls, verify the resolvers' certificates against the PEM CA certificates in `FILE` instead of the system roots")
	fs.StringVar(&f.tlsName, "tls-name", "", "with --tls, the `NAME` the resolvers' certificates must carry (default: the host of --resolver)")
	fs.StringVar(&f.anchors, "anchors", "", "trust anchors `FILE`: DS or DNSKEY lines in zone-file syntax, added to the root keys")
	fs.BoolVar(&f.trustAD, "trust-ad", false, "trust the resolver's AD bit instead of validating (needs --tls or a loopback resolver)")
	fs.DurationVar(&f.minTTL, "min-cache-ttl", resolver.DefaultMinTTL, "cache answers at least this `DURATION`, even when their TTL is shorter (1s to 1h)")
}

// newResolver builds a resolver from the flags. Errors are usage or input
// errors (exit 2).
func (f *resolverFlags) newResolver(env *cli.Env) (*resolver.Resolver, error) {
	cfg := resolver.Config{Upstreams: f.upstreams, Anchors: resolver.RootAnchors(), MinTTL: f.minTTL}
	if f.minTTL < time.Second || f.minTTL > resolver.DefaultMaxTTL {
		// DNS TTLs count seconds; a zero would mean "the default" to the
		// resolver, so it is refused rather than silently changed.
		return nil, cli.Usagef("--min-cache-ttl %v is outside 1s to %v", f.minTTL, resolver.DefaultMaxTTL)
	}
	if f.tls {
		cfg.Transport = resolver.TLS
		tc, err := f.tlsConfig(env)
		if err != nil {
			return nil, err
		}
		cfg.TLSConfig = tc
	} else if f.tlsCA != "" || f.tlsName != "" {
		return nil, cli.Usagef("--tls-ca and --tls-name need --tls")
	}
	if f.anchors != "" {
		data, err := cli.ReadInput(env, f.anchors)
		if err != nil {
			return nil, cli.Input(err)
		}
		a, err := resolver.ParseAnchors(bytes.NewReader(data))
		if err != nil {
			return nil, cli.Input(fmt.Errorf("%s: %w", f.anchors, err))
		}
		cfg.Anchors = cfg.Anchors.Merge(a)
	}
	if len(cfg.Upstreams) == 0 {
		cfg.Upstreams = systemResolvers()
	}
	cfg.TrustAD = f.trustAD
	r, err := resolver.New(cfg)
	if errors.Is(err, resolver.ErrTrustADRefused) {
		return nil, cli.WithHint(cli.Input(err), "add --tls, or use a resolver on 127.0.0.1 or ::1")
	}
	if err != nil {
		return nil, cli.Input(err)
	}
	return r, nil
}

// tlsConfig is the client configuration for DNS over TLS: the system roots
// or --tls-ca, and --tls-name. Certificates are always verified (RFC 7858
// §4.2 strict privacy): a resolver whose identity is unknown could forge
// AD bits and see every lookup.
func (f *resolverFlags) tlsConfig(env *cli.Env) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: strings.TrimSuffix(f.tlsName, ".")}
	if f.tlsCA != "" {
		pool, err := readCertPool(env, f.tlsCA)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// readCertPool reads the PEM certificates of file ("-": stdin) into a new
// pool; every failure is an input error (exit 2).
func readCertPool(env *cli.Env, file string) (*x509.CertPool, error) {
	data, err := cli.ReadInput(env, file)
	if err != nil {
		return nil, cli.Input(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, cli.Input(fmt.Errorf("%s: no PEM CERTIFICATE found", file))
	}
	return pool, nil
}

// systemResolvers returns the nameservers of /etc/resolv.conf, or 127.0.0.1.
func systemResolvers() []string {
	cc, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil || len(cc.Servers) == 0 {
		return []string{"127.0.0.1"}
	}
	var out []string
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out
}

func lookupCommand() *cli.Command {
	var rf resolverFlags
	var qtype string
	var asJSON bool
	return &cli.Command{
		Name:    "lookup",
		Summary: "look a name up and say whether DNSSEC proves the answer",
		Usage:   "dance lookup NAME [--type TLSA] [--resolver ADDR ...] [--tls [--tls-ca FILE] [--tls-name NAME]] [--anchors FILE] [--trust-ad] [--json]",
		Description: `Prints the records, then the verdict: secure, insecure, bogus or
indeterminate, with the reason (and its RFC 8914 Extended DNS Error code) when
not secure. A proven non-existence (nxdomain, nodata) is a secure answer too.
The revocation marker that 'dance zone revoke' publishes (TLSA 3 1 1 with an
all-zero digest) is printed as "revoked", not as a key (--json: "revoked": true).

` + resolverFlagsHelp,
		Examples: []string{
			"dance lookup _443._tcp.www.example.com",
			"dance lookup dev1._device.example.com --anchors device-anchor.ds --resolver 10.0.0.53",
			"dance lookup www.example.com --type A --resolver 9.9.9.9 --tls --json",
		},
		ExitCodes: []string{
			"0  the answer (or its non-existence) is secure",
			"1  insecure, bogus or indeterminate, or the lookup failed",
			"2  bad usage or bad input (name, type, anchors file)",
		},
		Flags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.StringVar(&qtype, "type", "TLSA", "record `TYPE` to look up")
			fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("lookup needs exactly one NAME, got %d arguments", len(args))
			}
			t, ok := dns.StringToType[strings.ToUpper(qtype)]
			if !ok {
				return cli.Usagef("unknown record type %q", qtype)
			}
			name := dns.Fqdn(args[0])
			if _, ok := dns.IsDomainName(name); !ok || len(name) > 255 {
				return cli.Input(fmt.Errorf("%q is not a domain name", args[0]))
			}
			r, err := rf.newResolver(env)
			if err != nil {
				return err
			}
			res, err := r.Lookup(env.Context(), name, t)
			if errors.Is(err, resolver.ErrInvalidName) {
				return cli.Input(err)
			}
			if err != nil {
				return cli.Fail(err)
			}
			if asJSON {
				if err := printLookupJSON(env, res); err != nil {
					return cli.Fail(err)
				}
			} else {
				printLookup(env, res)
			}
			if res.Status != resolver.Secure {
				return cli.Negative()
			}
			return nil
		},
	}
}

func printLookup(env *cli.Env, res *resolver.Result) {
	for _, c := range res.CNAMEs {
		fmt.Fprintf(env.Stdout, "; alias for %s\n", c)
	}
	for _, rec := range res.Records {
		if isRevocationMarker(rec.Type, rec.Data) {
			fmt.Fprintf(env.Stdout, "%s\t%d\tIN\t%s\t%s\n", rec.Name, rec.TTL, rec.Type, revokedLabel)
			continue
		}
		fmt.Fprintln(env.Stdout, rec.String())
	}
	line := res.Status.String()
	if res.Kind != resolver.KindAnswer {
		line += " " + res.Kind.String()
	}
	if res.Reason != nil {
		line += ": " + res.Reason.String()
	}
	fmt.Fprintln(env.Stdout, line)
}

type lookupJSON struct {
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Status     string            `json:"status"`
	Kind       string            `json:"kind"`
	Reason     *resolver.Reason  `json:"reason,omitempty"`
	Records    []resolver.Record `json:"records"`
	CNAMEs     []string          `json:"cnames,omitempty"`
	TTLSeconds int64             `json:"ttl_seconds"`
	// Revoked is set when the records hold the revocation marker.
	Revoked bool `json:"revoked,omitempty"`
}

// revokedLabel stands for the revocation marker (tlsa.RevocationMarker)
// where records are printed: it is no key.
const revokedLabel = "revoked (the revocation marker of 'dance zone revoke': TLSA 3 1 1 with an all-zero digest, no key)"

// isRevocationMarker reports whether a record in presentation form is
// tlsa.RevocationMarker.
func isRevocationMarker(typ, data string) bool {
	if !strings.EqualFold(typ, "TLSA") {
		return false
	}
	rr, err := tlsa.Parse(data)
	return err == nil && rr.IsRevocationMarker()
}

func printLookupJSON(env *cli.Env, res *resolver.Result) error {
	out := lookupJSON{Name: res.Name, Type: res.Type, Status: res.Status.String(), Kind: res.Kind.String(),
		Reason: res.Reason, Records: res.Records, CNAMEs: res.CNAMEs, TTLSeconds: int64(res.TTL.Seconds())}
	if out.Records == nil {
		out.Records = []resolver.Record{}
	}
	for _, r := range out.Records {
		out.Revoked = out.Revoked || isRevocationMarker(r.Type, r.Data)
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
