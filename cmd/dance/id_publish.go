package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/tlsa"
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
			"omitted. By default the records replace the RRsets of their types at NAME in one update;\n" +
			"--add keeps what is there; --remove deletes the given records, or all TLSA records at\n" +
			"NAME when none are given. The zone is found with an SOA query unless --zone is given.\n" +
			"Prints \"NAME: N record(s) published, serial S, zone ZONE at SERVER\" (added, removed),\n" +
			"as 'dance zone add' does.\n\n" +
			"Replacing a key's record is no way to change the key: verifiers that cached the old\n" +
			"record set refuse the new key until its TTL has passed. Publish the new one with --add,\n" +
			"wait out the TTL, switch the identity to it, then --remove the old one (the steps\n" +
			"'dance id rotate' takes through the zone's admin API).\n\n" +
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
			key, err := idLoadTSIG(tsigFile, keyName)
			if err != nil {
				return err
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
			mode := publish.Replace
			switch {
			case add:
				mode = publish.Add
			case remove:
				mode = publish.Remove
			}
			res, err := publish.Publish(env.Context(), publish.Request{
				Server: server, Key: key, Zone: zoneName, Name: name, Records: recs, Mode: mode, Timeout: timeout,
			})
			if err != nil {
				return idPublishErr(err)
			}
			verb := map[publish.Mode]string{publish.Replace: "published", publish.Add: "added", publish.Remove: "removed"}[mode]
			if revoke {
				verb = "published (revoked: the revocation marker)"
			}
			// The same shape as 'dance zone add': NAME without the
			// trailing dot, the record count, the serial after the change.
			shown := strings.TrimSuffix(dns.Fqdn(name), ".")
			where := fmt.Sprintf("zone %s at %s", strings.TrimSuffix(res.Zone, "."), server)
			if serial, err := idZoneSerial(env.Context(), server, res.Zone, timeout); err != nil {
				fmt.Fprintf(env.Stdout, "%s: %d record(s) %s, %s\n", shown, len(recs), verb, where)
				fmt.Fprintf(env.Stderr, "dance: warning: the zone's serial after the update is unknown: %v\n", err)
			} else {
				fmt.Fprintf(env.Stdout, "%s: %d record(s) %s, serial %d, %s\n", shown, len(recs), verb, serial, where)
			}
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

// idZoneSerial asks server for zone's SOA serial: after an update, the
// serial of the zone with the change (or a later one).
func idZoneSerial(ctx context.Context, server, zone string, timeout time.Duration) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	c := &dns.Client{Net: "tcp", Timeout: timeout}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("no SOA for %s in the answer (%s)", zone, dns.RcodeToString[r.Rcode])
}

// idLoadTSIG reads the TSIG key file and picks the key named keyName, or
// the only one.
func idLoadTSIG(file, keyName string) (*tsigkey.Key, error) {
	ks, err := tsigkey.ReadFile(file)
	if err != nil {
		return nil, cli.Input(err)
	}
	if keyName == "" {
		if len(ks) > 1 {
			return nil, cli.Usagef("%s holds %d keys; choose one with --key-name", file, len(ks))
		}
		return ks[0], nil
	}
	for _, k := range ks {
		if k.Name == dns.CanonicalName(keyName) {
			return k, nil
		}
	}
	return nil, cli.Input(fmt.Errorf("%s has no key %s", file, keyName))
}

// idPublishErr turns an error of publish.Publish into the command's error:
// a refusal by the server with a hint, bad input as such.
func idPublishErr(err error) error {
	var re *publish.RcodeError
	if errors.As(err, &re) {
		hint := "the server refused the update; its log says why"
		if re.Rcode == dns.RcodeNotAuth {
			hint = "the server does not accept this TSIG key (name, algorithm or secret)"
		}
		return cli.WithHint(cli.Fail(err), hint)
	}
	if strings.Contains(err.Error(), "publish: invalid") || strings.Contains(err.Error(), "is not at") || strings.Contains(err.Error(), "no records") {
		return cli.Input(err)
	}
	return cli.Fail(err)
}
