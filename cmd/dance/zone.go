package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/keys"
	"github.com/dnsbound/dance/zone/server"
	"github.com/dnsbound/dance/zone/tsigkey"
)

func zoneCommand() *cli.Command {
	return &cli.Command{
		Name:    "zone",
		Summary: "run a DNSSEC-signed identity zone (init, serve)",
		Description: "An authoritative DNS server for identity zones: it serves only the record types\n" +
			"identities need (TLSA, SMIMEA, OPENPGPKEY, SSHFP), signs online, denies existence\n" +
			"without letting anyone walk the zone, and takes RFC 2136 updates signed with TSIG.",
		Sub: []*cli.Command{zoneInitCommand(), zoneServeCommand()},
	}
}

func zoneInitCommand() *cli.Command {
	var (
		name, dir, alg string
		ns             cli.StringList
		asJSON         bool
		ttl, negTTL    uint
	)
	return &cli.Command{
		Name:    "init",
		Summary: "create a signed identity zone in a directory",
		Usage:   "dance zone init --zone ZONE --dir DIR [--algorithm ecdsa-p256|ed25519] [--ns NAME ...] [flags]",
		Description: "Creates DIR with the zone database (SOA, NS, DNSKEY, CDS, CDNSKEY), one combined\n" +
			"signing key (DIR/keys, private key mode 0600), the trust anchors (DIR/anchors: DS and\n" +
			"DNSKEY lines, usable as Unbound's trust-anchor-file) and an update key (DIR/tsig.key,\n" +
			"BIND syntax, hmac-sha256, usable with nsupdate -k). Prints the DS record for the parent.",
		Examples: []string{
			"dance zone init --zone ids.example.com --dir /var/lib/dance/ids --ns ns1.example.com --ns ns2.example.net",
			"dance zone init --zone ids.example.com --dir ./ids --ns ns1.ids.example.com=192.0.2.53,2001:db8::53",
			"dance zone init --zone devices.test --dir ./zone --algorithm ed25519 --json",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&name, "zone", "", "zone `NAME` (required)")
			fs.StringVar(&dir, "dir", "", "zone `DIR`ectory to create (required)")
			fs.StringVar(&alg, "algorithm", "ecdsa-p256", "DNSSEC `ALG`orithm: ecdsa-p256 or ed25519")
			fs.Var(&ns, "ns", "name server `NAME[=ADDR,...]` of the zone (repeatable; a name inside the zone needs its addresses; default ns1.ZONE=127.0.0.1)")
			fs.UintVar(&ttl, "ttl", zone.DefaultTTL, "default TTL of identity records, in `SECONDS`")
			fs.UintVar(&negTTL, "negative-ttl", zone.DefaultNegativeTTL, "TTL of negative answers (SOA minimum), in `SECONDS`")
			fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			if name == "" || dir == "" {
				return cli.Usagef("--zone and --dir are required")
			}
			a, err := keys.ParseAlgorithm(alg)
			if err != nil {
				return cli.Input(err)
			}
			if ttl == 0 || ttl > 86400 || negTTL == 0 || negTTL > 86400 {
				return cli.Usagef("--ttl and --negative-ttl must be between 1 and 86400 seconds")
			}
			nsNames, nsAddrs, err := parseNS(ns)
			if err != nil {
				return cli.Input(err)
			}
			res, err := zone.Init(dir, zone.InitOptions{Origin: name, Algorithm: a, NS: nsNames, NSAddrs: nsAddrs, TTL: uint32(ttl), NegativeTTL: uint32(negTTL)})
			if errors.Is(err, zone.ErrExists) {
				return cli.WithHint(cli.Input(err), "choose an empty directory; an existing zone is never overwritten")
			}
			if err != nil {
				return cli.Input(err)
			}
			if asJSON {
				var ds []string
				for _, d := range res.DS {
					ds = append(ds, d.String())
				}
				return json.NewEncoder(env.Stdout).Encode(map[string]any{
					"zone":      res.Origin,
					"key_tag":   res.Key.Tag(),
					"dnskey":    res.Key.DNSKEY.String(),
					"ds":        ds,
					"anchors":   filepath.Join(dir, zone.AnchorsFile),
					"tsig_key":  filepath.Join(dir, zone.TSIGFile),
					"tsig_name": res.TSIG.Name,
				})
			}
			fmt.Fprintf(env.Stdout, "zone %s created in %s (key tag %d)\n", res.Origin, dir, res.Key.Tag())
			fmt.Fprintf(env.Stdout, "; DS record(s) for the parent zone:\n")
			for _, d := range res.DS {
				fmt.Fprintln(env.Stdout, d.String())
			}
			fmt.Fprintf(env.Stdout, "; trust anchors: %s\n", filepath.Join(dir, zone.AnchorsFile))
			fmt.Fprintf(env.Stdout, "; update key %s: %s\n", res.TSIG.Name, filepath.Join(dir, zone.TSIGFile))
			return nil
		},
	}
}

// parseNS splits "--ns NAME=ADDR,ADDR" values into names and addresses.
func parseNS(vals []string) ([]string, map[string][]netip.Addr, error) {
	var names []string
	addrs := map[string][]netip.Addr{}
	for _, v := range vals {
		n, list, hasAddr := strings.Cut(v, "=")
		names = append(names, n)
		if !hasAddr {
			continue
		}
		for _, a := range strings.Split(list, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(a))
			if err != nil {
				return nil, nil, fmt.Errorf("--ns %s: %w", v, err)
			}
			addrs[n] = append(addrs[n], ip.Unmap())
		}
	}
	return names, addrs, nil
}

func zoneServeCommand() *cli.Command {
	var (
		dir, listen, logLevel string
		maxUDP                int
		allowXfr, notify      cli.StringList
		xfrKeyFile            string
	)
	return &cli.Command{
		Name:    "serve",
		Summary: "serve an identity zone over UDP and TCP",
		Usage:   "dance zone serve --dir DIR [--listen ADDR] [flags]",
		Description: "Answers queries for the zone in DIR, signing online with compact denial of\n" +
			"existence (RFC 9824), and applies RFC 2136 updates signed with a key from\n" +
			"DIR/tsig.key. Prints the bound address once ready; stops cleanly on SIGINT or SIGTERM.",
		Examples: []string{
			"dance zone serve --dir ./zone --listen 127.0.0.1:5353",
			"dance zone serve --dir ./zone --listen [::]:53 --allow-transfer 192.0.2.0/24 --transfer-key xfr.key --notify 192.0.2.7:53",
			"kdig @127.0.0.1 -p 5353 +dnssec sensor1._device.devices.test TLSA",
			"nsupdate -k ./zone/tsig.key   # server 127.0.0.1 5353; update add ... TLSA ...",
		},
		ExitCodes: []string{"0  stopped by a signal", "1  runtime failure", "2  bad usage or unreadable zone directory"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&dir, "dir", "", "zone `DIR`ectory made by dance zone init (required)")
			fs.StringVar(&listen, "listen", "127.0.0.1:53", "`ADDR`ess for UDP and TCP (port 0 picks a free port)")
			fs.IntVar(&maxUDP, "max-udp-size", server.DefaultMaxUDPSize, "largest UDP response in `OCTETS`")
			fs.StringVar(&logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn, error")
			fs.Var(&allowXfr, "allow-transfer", "`PREFIX` (CIDR or address) allowed to transfer the zone (repeatable; default: none)")
			fs.StringVar(&xfrKeyFile, "transfer-key", "", "TSIG key `FILE` (BIND syntax) whose keys must sign transfer requests")
			fs.Var(&notify, "notify", "secondary `HOST:PORT` to send NOTIFY after each change (repeatable)")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			if dir == "" {
				return cli.Usagef("--dir is required")
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return cli.Usagef("--log-level: %v", err)
			}
			z, err := zone.Open(dir, zone.Options{})
			if err != nil {
				return cli.WithHint(cli.Input(err), "create the zone first with 'dance zone init'")
			}
			defer z.Close()
			tk, err := tsigkey.ReadFile(filepath.Join(dir, zone.TSIGFile))
			if err != nil {
				return cli.Input(err)
			}
			var prefixes []netip.Prefix
			for _, a := range allowXfr {
				p, err := netip.ParsePrefix(a)
				if err != nil {
					ip, err2 := netip.ParseAddr(a)
					if err2 != nil {
						return cli.Usagef("--allow-transfer %q: not an address or prefix", a)
					}
					p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
				}
				prefixes = append(prefixes, p)
			}
			var xk []*tsigkey.Key
			if xfrKeyFile != "" {
				if xk, err = tsigkey.ReadFile(xfrKeyFile); err != nil {
					return cli.Input(err)
				}
			}
			for _, n := range notify {
				if _, _, err := net.SplitHostPort(n); err != nil {
					return cli.Usagef("--notify %q: want HOST:PORT", n)
				}
			}
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
			srv, err := server.New(server.Config{Zone: z, UpdateKeys: tk, MaxUDPSize: maxUDP, Logger: log,
				TransferFrom: prefixes, TransferKeys: xk, Notify: notify})
			if err != nil {
				return cli.Input(err)
			}
			ls, err := server.Listen(listen)
			if err != nil {
				return cli.Fail(err)
			}
			names := make([]string, len(tk))
			for i, k := range tk {
				names[i] = k.Name
			}
			fmt.Fprintf(env.Stdout, "serving %s on %s (udp, tcp); update keys: %s\n", z.Origin(), ls.Addr(), strings.Join(names, ", "))
			if err := srv.Serve(env.Context(), ls); err != nil {
				return cli.Fail(err)
			}
			log.Info("stopped", "zone", z.Origin())
			return nil
		},
	}
}
