package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/publish"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// idPublishCommand is "dance id publish", under the id noun.
func idPublishCommand() *cli.Command {
	var (
		server, tsigFile, keyName, zoneName, from string
		add, remove, revoke                       bool
		ttl                                       uint
		timeout                                   time.Duration
	)
	return &cli.Command{
		Name:    "publish",
		Summary: "publish (or revoke) an identity's records on any DNS primary by RFC 2136 UPDATE",
		Usage: "dance id publish --server HOST[:PORT] --tsig FILE NAME [TYPE DATA ...] [--from FILE|-] [--add | --remove]\n" +
			"  dance id publish --server HOST[:PORT] --tsig FILE --revoke NAME\n" +
			"  dance id new --name NAME --out DIR | dance id publish --server HOST --tsig FILE --from -",
		Description: "Sends a TSIG-signed DNS UPDATE to the primary server of NAME's zone: this project's\n" +
			"zone server, Knot, BIND or PowerDNS. Records come as TYPE DATA pairs after NAME, or as\n" +
			"zone-file lines from --from (for example the output of 'dance id new'); NAME may then be\n" +
			"omitted. By default the records replace the RRsets of their types at NAME in one update\n" +
			"(a key rollover); --add keeps what is there; --remove deletes the given records, or all\n" +
			"TLSA records at NAME when none are given. The zone is found with an SOA query unless\n" +
			"--zone is given.\n\n" +
			"Removing is no revocation where a wildcard covers NAME (an organisation CA at\n" +
			"*._device.ZONE): the name is then answered from the wildcard, which still\n" +
			"authenticates the devices its CA issued; --remove asks the server afterwards and warns.\n" +
			"--revoke replaces the TLSA records at NAME with the revocation marker (TLSA " + tlsa.RevocationMarker[:5] + " with a\n" +
			"digest of 32 zero octets), which matches no key and keeps any wildcard from answering\n" +
			"for NAME, as 'dance zone revoke' does.",
		Examples: []string{
			`dance id publish --server 127.0.0.1:5353 --tsig ./zone/tsig.key sensor1._device.devices.test TLSA "3 1 1 8f1c...e2"`,
			"dance id new --name sensor1._device.devices.test --out ./s1 | dance id publish --server ns1.example.com --tsig upd.key --from -",
			"dance id publish --server ns1.example.com --tsig upd.key --remove sensor1._device.devices.test",
			"dance id publish --server ns1.example.com --tsig upd.key --revoke sensor1._device.devices.test",
		},
		ExitCodes: []string{"0  the server applied the update", "1  the server refused it or could not be reached", "2  bad usage or bad input"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&server, "server", "", "primary `HOST[:PORT]` taking updates (required; port 53 by default)")
			fs.StringVar(&tsigFile, "tsig", "", "TSIG key `FILE` in BIND syntax (required; nsupdate -k format)")
			fs.StringVar(&keyName, "key-name", "", "key `NAME` to use when the key file holds several")
			fs.StringVar(&zoneName, "zone", "", "`ZONE` to update (default: found with an SOA query)")
			fs.StringVar(&from, "from", "", "read records as zone-file lines from `FILE` (- for stdin)")
			fs.BoolVar(&add, "add", false, "add the records, keeping existing ones")
			fs.BoolVar(&remove, "remove", false, "remove the given records, or all TLSA records at NAME")
			fs.BoolVar(&revoke, "revoke", false, "replace the TLSA records at NAME with the revocation marker, which no wildcard answers over")
			fs.UintVar(&ttl, "ttl", 300, "TTL in `SECONDS` for records given as TYPE DATA")
			fs.DurationVar(&timeout, "timeout", publish.DefaultTimeout, "time limit per exchange with the server")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if server == "" || tsigFile == "" {
				return cli.Usagef("--server and --tsig are required")
			}
			if add && remove {
				return cli.Usagef("--add and --remove exclude each other")
			}
			if revoke && (add || remove || from != "" || len(args) != 1) {
				return cli.Usagef("--revoke takes one NAME and nothing else: no records, --from, --add or --remove")
			}
			if _, _, err := net.SplitHostPort(server); err != nil {
				server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
			}
			ks, err := tsigkey.ReadFile(tsigFile)
			if err != nil {
				return cli.Input(err)
			}
			key := ks[0]
			if keyName != "" {
				key = nil
				for _, k := range ks {
					if k.Name == dns.CanonicalName(keyName) {
						key = k
					}
				}
				if key == nil {
					return cli.Input(fmt.Errorf("%s has no key %s", tsigFile, keyName))
				}
			} else if len(ks) > 1 {
				return cli.Usagef("%s holds %d keys; choose one with --key-name", tsigFile, len(ks))
			}
			var name string
			var recs []dns.RR
			if len(args) > 0 {
				name = args[0]
				if (len(args)-1)%2 != 0 {
					return cli.Usagef("want NAME followed by TYPE DATA pairs")
				}
				for i := 1; i < len(args); i += 2 {
					rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(name), ttl, args[i], args[i+1]))
					if err != nil || rr == nil {
						return cli.Input(fmt.Errorf("record %s %s: %v", args[i], args[i+1], err))
					}
					recs = append(recs, rr)
				}
			}
			if from != "" {
				text, err := cli.ReadInput(env, from)
				if err != nil {
					return cli.Input(err)
				}
				zp := dns.NewZoneParser(strings.NewReader(string(text)), "", from)
				for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
					recs = append(recs, rr)
				}
				if err := zp.Err(); err != nil {
					return cli.Input(fmt.Errorf("%s: %w", from, err))
				}
				if len(recs) == 0 {
					return cli.Input(fmt.Errorf("%s: no records", from))
				}
				if name == "" {
					name = recs[0].Header().Name
				}
			}
			if name == "" {
				return cli.Usagef("want NAME, or records with --from")
			}
			if revoke {
				if recs, err = publish.Revoke(name, uint32(ttl)); err != nil {
					return cli.Input(err)
				}
			}
			mode := change.Replace
			switch {
			case add:
				mode = change.Add
			case remove:
				mode = change.Remove
			}
			res, err := publish.Publish(env.Context(), publish.Request{
				Server: server, Key: key, Zone: zoneName, Name: name, Records: recs, Mode: mode, Timeout: timeout,
			})
			var re *publish.RcodeError
			if errors.As(err, &re) {
				hint := "the server refused the update; its log says why"
				if re.Rcode == dns.RcodeNotAuth {
					hint = "the server does not accept this TSIG key (name, algorithm or secret)"
				}
				return cli.WithHint(cli.Fail(err), hint)
			}
			if err != nil {
				if strings.Contains(err.Error(), "publish: invalid") || strings.Contains(err.Error(), "is not at") || strings.Contains(err.Error(), "no records") {
					return cli.Input(err)
				}
				return cli.Fail(err)
			}
			verb := map[change.Mode]string{change.Replace: "published", change.Add: "added", change.Remove: "removed"}[mode]
			if revoke {
				verb = "revoked:"
			}
			fmt.Fprintf(env.Stdout, "%s: %s %d record(s) in zone %s at %s\n", dns.Fqdn(name), verb, len(recs), res.Zone, server)
			if res.CheckErr != nil {
				fmt.Fprintf(env.Stderr, "dance: warning: could not check whether a wildcard still answers for %s: %v\n", dns.Fqdn(name), res.CheckErr)
			}
			if len(res.StillAnswered) > 0 {
				fmt.Fprintf(env.Stderr, "dance: warning: %s still answers with %d TLSA record(s) (%s): a wildcard covers it, and whoever those records match (the devices its CA issued) is still authenticated; --revoke revokes the name\n",
					dns.Fqdn(name), len(res.StillAnswered), rdataOf(res.StillAnswered[0]))
			}
			return nil
		},
	}
}

// rdataOf is the presentation form of rr's data.
func rdataOf(rr dns.RR) string {
	return strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String()))
}
