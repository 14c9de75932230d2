package main

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/internal/netprefix"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/admin"
	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/keys"
	"github.com/dnsbound/dance/zone/serve"
	"github.com/dnsbound/dance/zone/server"
)

func zoneCommand() *cli.Command {
	return &cli.Command{
		Name:    "zone",
		Summary: "run a DNSSEC-signed identity zone (init, serve)",
		Description: "An authoritative DNS server for identity zones: it serves only the record types\n" +
			"identities need (TLSA, SMIMEA, OPENPGPKEY, SSHFP), signs online, denies existence\n" +
			"without letting anyone walk its answers, and takes RFC 2136 updates signed with TSIG.\n\n" +
			walkHelp + "\n\n" + revocationHelp,
		Sub: []*cli.Command{zoneInitCommand(), zoneServeCommand(), zoneSecondaryCommand(), zoneAddCommand(), zoneRemoveCommand(), zoneRevokeCommand(), zoneListCommand(), zoneImportCommand(), zoneRolloverCommand()},
	}
}

// walkHelp states where the zone's names are protected from enumeration
// and where not.
var walkHelp = "Walking: 'zone serve' answers a DNSSEC query for an absent name with compact denial\n" +
	"(RFC 9824): one NSEC made for the name asked, which says nothing about any other name,\n" +
	"so no number of queries to this server lists the zone. That holds for this server\n" +
	"alone. A zone transfer carries every name in clear and an NSEC3 chain, so a secondary\n" +
	"holds all names, and a secondary serving the chain gives every name's hash to anyone\n" +
	"who asks enough random names (each denial names the hashes around it); a dictionary\n" +
	"then recovers the names offline. The two answer an absent name with different codes:\n" +
	"this server NOERROR and an NSEC whose types are NXNAME (NXDOMAIN only when the query\n" +
	"sets the CO bit), a secondary NXDOMAIN and NSEC3 records. Queries without DO get\n" +
	"NXDOMAIN from both. Where names must stay private, answer from this server alone, or\n" +
	"keep secondaries private: transfers only to the listed addresses (--allow-transfer,\n" +
	"none by default), signed with a TSIG key (--transfer-key), and over TLS only\n" +
	"(--tls-listen with --transfer-tls-only: XoT, RFC 9103); and let only your own resolvers\n" +
	"query the secondaries, by firewall or the secondary's own query ACL ('zone serve' has\n" +
	"no query ACL: its answers give nothing away)."

// revocationHelp states what removing an identity's record guarantees.
var revocationHelp = "Revocation: 'dance zone revoke NAME' removes an identity's records and publishes at\n" +
	"NAME the revocation marker (TLSA 3 1 1 with a digest of 32 zero octets), which matches\n" +
	"no key and keeps any wildcard from answering for NAME; verifiers then say \"revoked\".\n" +
	"'zone remove' alone leaves a name that a wildcard covers (an organisation CA at\n" +
	"*._device.ZONE) to that wildcard, which still authenticates the devices its CA issued.\n" +
	"Where no wildcard stands in the way, either revokes it for resolvers once the record's\n" +
	"TTL has passed (300 s by default). An attacker on the path to a resolver who kept an\n" +
	"answer from before the removal can replay it, and it validates until its signature\n" +
	"expires: at most the identity signature validity after the removal (2 days by\n" +
	"default, --identity-sig-validity; identity records are re-signed at half of it)."

func zoneInitCommand() *cli.Command {
	var (
		name, dir, alg string
		ns             cli.StringList
		asJSON, csk    bool
		ttl, negTTL    uint
		sigValidity    time.Duration
	)
	return &cli.Command{
		Name:    "init",
		Summary: "create a signed identity zone in a directory",
		Usage:   "dance zone init --zone ZONE --dir DIR [--algorithm ecdsa-p256|ed25519] [--csk] [--ns NAME ...] [flags]",
		Description: "Creates DIR with the zone database (SOA, NS, DNSKEY, CDS, CDNSKEY), the signing keys\n" +
			"(DIR/keys, private key mode 0600), the trust anchors (DIR/anchors: DS and DNSKEY lines,\n" +
			"usable as Unbound's trust-anchor-file) and an update key (DIR/tsig.key, BIND syntax,\n" +
			"hmac-sha256, usable with nsupdate -k). Prints the DS record for the parent.\n\n" +
			"The keys are a key-signing key (KSK, flags 257: the DS names it; it signs the DNSKEY,\n" +
			"CDS and CDNSKEY RRsets) and a zone-signing key (ZSK, flags 256: it signs the rest), so\n" +
			"the ZSK can be rolled without the parent (dance zone rollover). --csk makes one combined\n" +
			"signing key instead (one key, one signature per RRset; dnssec-verify then needs -z).",
		Examples: []string{
			"dance zone init --zone ids.example.com --dir /var/lib/dance/ids --ns ns1.example.com --ns ns2.example.net",
			"dance zone init --zone ids.example.com --dir ./ids --ns ns1.ids.example.com=192.0.2.53,2001:db8::53",
			"dance zone init --zone devices.test --dir ./zone --algorithm ed25519 --json",
			"dance zone init --zone devices.test --dir ./zone --csk",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&name, "zone", "", "zone `NAME` (required)")
			fs.StringVar(&dir, "dir", "", "zone `DIR`ectory to create (required)")
			fs.StringVar(&alg, "algorithm", "ecdsa-p256", "DNSSEC `ALG`orithm: ecdsa-p256 or ed25519")
			fs.BoolVar(&csk, "csk", false, "one combined signing key instead of a KSK and a ZSK")
			fs.Var(&ns, "ns", "name server `NAME[=ADDR,...]` of the zone (repeatable; a name inside the zone needs its addresses; default ns1.ZONE=127.0.0.1)")
			fs.UintVar(&ttl, "ttl", zone.DefaultTTL, "default TTL of identity records, in `SECONDS`")
			fs.UintVar(&negTTL, "negative-ttl", zone.DefaultNegativeTTL, "TTL of negative answers (SOA minimum), in `SECONDS`")
			fs.DurationVar(&sigValidity, "identity-sig-validity", zone.DefaultIdentitySigValidity, identitySigValidityUsage)
			fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
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
			if err := zone.CheckIdentitySigValidity(sigValidity); err != nil {
				return cli.Usagef("--identity-sig-validity: %v", err)
			}
			nsNames, nsAddrs, err := parseNS(ns)
			if err != nil {
				return cli.Input(err)
			}
			res, err := zone.Init(dir, zone.InitOptions{Origin: name, Algorithm: a, CSK: csk, NS: nsNames, NSAddrs: nsAddrs, TTL: uint32(ttl), NegativeTTL: uint32(negTTL),
				IdentitySigValidity: sigValidity})
			if errors.Is(err, zone.ErrExists) {
				return cli.WithHint(cli.Input(err), "choose an empty directory; an existing zone is never overwritten")
			}
			if err != nil {
				return cli.Input(err)
			}
			if _, err := admin.LoadOrCreateToken(filepath.Join(dir, admin.TokenFile)); err != nil {
				return cli.Fail(err)
			}
			if asJSON {
				var ds []string
				for _, d := range res.DS {
					ds = append(ds, d.String())
				}
				out := map[string]any{
					"zone":      res.Origin,
					"keys":      "csk",
					"key_tag":   res.Key.Tag(),
					"dnskey":    res.Key.DNSKEY.String(),
					"ds":        ds,
					"anchors":   filepath.Join(dir, zone.AnchorsFile),
					"tsig_key":  filepath.Join(dir, zone.TSIGFile),
					"tsig_name": res.TSIG.Name,
				}
				if res.ZSK != nil {
					out["keys"] = "ksk+zsk"
					out["zsk_tag"] = res.ZSK.Tag()
					out["zsk_dnskey"] = res.ZSK.DNSKEY.String()
				}
				return json.NewEncoder(env.Stdout).Encode(out)
			}
			if res.ZSK != nil {
				fmt.Fprintf(env.Stdout, "zone %s created in %s (KSK tag %d, ZSK tag %d)\n", res.Origin, dir, res.Key.Tag(), res.ZSK.Tag())
			} else {
				fmt.Fprintf(env.Stdout, "zone %s created in %s (CSK tag %d)\n", res.Origin, dir, res.Key.Tag())
			}
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
		adminListen           string
		adminCert, adminKey   string
		adminInsecure         bool
		adminAllow            cli.StringList
		adminAuth             string
		rf                    resolverFlags
		parentDS              parentDSFlags
		tlsListen             string
		tlsCert, tlsKey       string
		xfrTLSOnly            bool
		journalVersions       int
		journalRecords        int
		limitFlags            zoneLimitFlags
		tsigWindow            time.Duration
		sigValidity           time.Duration
		resignRate            int
		metricsListen         string
		xot                   xotFlags
	)
	return &cli.Command{
		Name:    "serve",
		Config:  true,
		Summary: "serve an identity zone over UDP and TCP",
		Usage:   "dance zone serve --dir DIR [--listen ADDR] [--tls-listen ADDR --tls-cert FILE --tls-key FILE] [flags]",
		Description: "Answers queries for the zone in DIR, signing online with compact denial of\n" +
			"existence (RFC 9824), and applies RFC 2136 updates signed with a key from\n" +
			"DIR/tsig.key (identity records only; DIR/update-policy, if present, limits keys:\n" +
			"one line \"KEY-NAME SUBTREE [TYPE ...]\" per key). Prints the bound address once\n" +
			"ready; stops cleanly on SIGINT or SIGTERM, writing DIR/signatures.cache and\n" +
			"DIR/ixfr.journal so that the next start neither signs the zone again nor sends\n" +
			"secondaries the whole zone (both are caches: deleting them loses nothing).\n" +
			"A directory another running server holds is refused (DIR/zone.pid names it).\n\n" +
			"With --admin-allow, the server checks that the zones of the allow-list\n" +
			"validate as Secure with the resolver flags. Without --resolver the\n" +
			"administrators are looked up on this server itself, so --admin-allow must name\n" +
			"names of the zone and --anchors (default DIR/anchors) must hold its own keys;\n" +
			"this is checked before anything serves. With --resolver the check runs once the\n" +
			"DNS listeners serve (the resolver may well ask this server). Settings that\n" +
			"cannot validate the zones stop the server with a hint on what to change; a\n" +
			"resolver that does not answer does not: it is logged as an error, checked\n" +
			"again in the background, and GET /healthz on --metrics-listen answers 503 with\n" +
			"the reason until the zones validate (200 \"ok\" then).\n\n" +
			"SIGHUP reloads, without a restart, the certificates of --admin-tls-cert,\n" +
			"--tls-cert and --xot-cert, the trust anchors of the admin identities (checked\n" +
			"as at start) and of the XoT secondaries (--anchors, default DIR/anchors), the\n" +
			"update keys and policy (DIR/tsig.key, DIR/update-policy) and --transfer-key;\n" +
			"it logs what it reloaded, and a reload that fails keeps all that was in use and\n" +
			"logs why. SIGHUP reads the files the flags name, not --config itself: other\n" +
			"settings take a restart.\n" +
			"--admin-allow is read at start only: the zone refuses updates at the\n" +
			"administrators' names from the moment it opens, and the update keys and policy\n" +
			"are checked against those names before it serves; a new list would need the\n" +
			"zone, the keys' check and the verification core changed at one instant while\n" +
			"updates are applied. Restart to change it (the signature cache makes a restart\n" +
			"quick), after checking that no update key wrote at the new names.\n\n" +
			"The DNS metrics (dance_zone_dns_requests_total{outcome}, the limits' counters)\n" +
			"and the verification cores' dance_verify_* and dance_resolver_*, labelled\n" +
			"core=\"admin\" (--admin-allow) or core=\"xot\" (--xot-allow),\n" +
			"are served on the admin API's /metrics, behind its credentials, and with\n" +
			"--metrics-listen on a listener of their own without credentials (default off),\n" +
			"with the health check at /healthz.\n\n" +
			"A signed request is accepted only within --tsig-window (300 s) of the server's\n" +
			"clock, whatever fudge it carries, and an update only once: a captured update sent\n" +
			"again is refused with BADTIME, so it cannot undo a revocation.\n\n" +
			revocationHelp + "\n" +
			"Here --identity-sig-validity overrides the zone's setting while the server runs.\n\n" +
			zoneLimitsHelp + "\n\n" +
			"The admin API (and its /metrics) " + httpLimitsHelp + " An import or export runs\n" +
			"longer while it makes progress, and an import's body is not limited.\n\n" + adminAuthHelp +
			"\n\n" + parentDSHelp + "\n\n" + xotHelp,
		Examples: []string{
			"dance zone serve --dir ./zone --listen 127.0.0.1:5353",
			"dance zone serve --dir ./zone --xot-listen [::]:853 --xot-cert ns1.crt --xot-key ns1.key --xot-allow ns2.ids.example.com",
			"dance zone serve --dir ./zone --listen [::]:53 --allow-transfer 192.0.2.0/24 --transfer-key xfr.key --notify 192.0.2.7:53",
			"kdig @127.0.0.1 -p 5353 +dnssec sensor1._device.devices.test TLSA",
			"nsupdate -k ./zone/tsig.key   # server 127.0.0.1 5353; update add ... TLSA ...",
			"dance zone serve --dir ./zone --rrl-rate 50 --rrl-ipv6-prefix 64 --signing-rate 5000",
			"dance zone serve --dir ./zone --admin-tls-cert admin.crt --admin-tls-key admin.key --admin-allow '*._device.ops.devices.test'",
			"dance zone serve --dir ./zone --metrics-listen 127.0.0.1:9153",
			"kill -HUP $(cat ./zone/zone.pid)   # reload certificates, anchors and update keys",
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
			fs.StringVar(&tlsListen, "tls-listen", "", "`ADDR`ess for DNS over TLS (RFC 7858) and zone transfers over TLS (RFC 9103)")
			fs.StringVar(&tlsCert, "tls-cert", "", "certificate chain `FILE` (PEM) for --tls-listen")
			fs.StringVar(&tlsKey, "tls-key", "", "private key `FILE` (PEM) for --tls-listen")
			fs.BoolVar(&xfrTLSOnly, "transfer-tls-only", false, "refuse zone transfers that do not come over TLS 1.3")
			fs.IntVar(&journalVersions, "journal-versions", server.DefaultJournalVersions, "IXFR journal: keep at most `N` versions of the zone (RFC 1995; older serials get a full transfer)")
			fs.IntVar(&journalRecords, "journal-records", server.DefaultJournalRecords, "IXFR journal: keep at most `N` changed records in all versions")
			limitFlags.register(fs)
			fs.DurationVar(&sigValidity, "identity-sig-validity", 0, "sign identity records for `DURATION` instead of the zone's setting (default: the setting, 48h unless dance zone init said otherwise)")
			fs.IntVar(&resignRate, "resign-rate", zone.DefaultResignRate, "after a ZSK activation, sign the zone again with the new ZSK in the background at `N` signatures per second (the old ZSK's signatures are served until replaced)")
			fs.DurationVar(&tsigWindow, "tsig-window", server.DefaultTSIGWindow, "accept TSIG-signed requests only within this `DURATION` of the server's clock, whatever fudge they carry (RFC 8945 §5.2.3); updates seen within it are refused as replays")
			fs.StringVar(&adminListen, "admin-listen", "127.0.0.1:8053", "`ADDR`ess of the admin HTTP API (\"off\" disables it)")
			fs.StringVar(&metricsListen, "metrics-listen", "off", "`ADDR`ess serving the Prometheus metrics at /metrics and the health check at /healthz without credentials (\"off\": none; the metrics stay on the admin API)")
			fs.StringVar(&adminCert, "admin-tls-cert", "", "certificate `FILE` for HTTPS on the admin API")
			fs.StringVar(&adminKey, "admin-tls-key", "", "private key `FILE` for HTTPS on the admin API")
			fs.BoolVar(&adminInsecure, "admin-insecure", false, "allow the admin API over plain HTTP on a non-loopback address")
			fs.Var(&adminAllow, "admin-allow", "DANE client identity `PATTERN` allowed to administer: a name, or *.NAME for every name below (repeatable; needs --admin-tls-cert)")
			fs.StringVar(&adminAuth, "admin-auth", "", "admin credentials `MODE`: token, dane, either or both (default: either with --admin-allow, token without)")
			xot.register(fs)
			rf.register(fs)
			parentDS.register(fs)
		},
		NoArgs: true,
		Run: func(env *cli.Env, fs *flag.FlagSet, args []string) error {
			if dir == "" {
				return cli.Usagef("--dir is required")
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return cli.Usagef("--log-level: %v", err)
			}
			if sigValidity != 0 {
				if err := zone.CheckIdentitySigValidity(sigValidity); err != nil {
					return cli.Usagef("--identity-sig-validity: %v", err)
				}
			}
			if resignRate <= 0 {
				return cli.Usagef("--resign-rate: %d is not a positive number of signatures per second", resignRate)
			}
			if (adminCert == "") != (adminKey == "") {
				return cli.Usagef("--admin-tls-cert and --admin-tls-key go together")
			}
			authMode, adminAllowList, err := adminAuthSettings(adminAuth, adminAllow, adminCert != "")
			if err != nil {
				return err
			}
			xotMode, err := xot.mode()
			if err != nil {
				return err
			}
			if !authMode.NeedsDANE() && !(xot.listen != "" && xotMode.NeedsDANE()) {
				var set []string
				fs.Visit(func(f *flag.Flag) {
					switch f.Name {
					case "resolver", "tls", "tls-ca", "tls-name", "anchors", "trust-ad":
						set = append(set, "--"+f.Name)
					}
				})
				if len(set) > 0 {
					return cli.Usagef("%s: the resolver flags are for the DANE identities of --admin-allow and --xot-allow", strings.Join(set, ", "))
				}
			}
			if rf.tls && len(rf.upstreams) == 0 {
				// The default resolver of the admin identities is this
				// server's own listener, which speaks plain DNS.
				return cli.Usagef("--tls needs --resolver: the default resolver of the admin identities is this server's own plain DNS listener")
			}
			cfg := serve.Config{Dir: dir, Listen: listen, TLSListen: tlsListen, TLSCertFile: tlsCert, TLSKeyFile: tlsKey,
				TransferKeyFile: xfrKeyFile, TransferTLSOnly: xfrTLSOnly, Notify: notify, MaxUDPSize: maxUDP,
				JournalVersions: journalVersions, JournalRecords: journalRecords, TSIGWindow: tsigWindow,
				IdentitySigValidity: sigValidity, ResignRate: resignRate, MaxTCPConns: limitFlags.maxTCPConns, HTTPLimits: httpLimits}
			for _, a := range allowXfr {
				p, err := netprefix.Parse(a)
				if err != nil {
					return cli.Usagef("--allow-transfer %q: not an address or prefix", a)
				}
				cfg.TransferFrom = append(cfg.TransferFrom, p)
			}
			for _, n := range notify {
				if _, _, err := net.SplitHostPort(n); err != nil {
					return cli.Usagef("--notify %q: want HOST:PORT", n)
				}
			}
			if tsigWindow < time.Second || tsigWindow > maxTSIGWindow {
				return cli.Usagef("--tsig-window must be between 1s and %v (the largest TSIG fudge)", maxTSIGWindow)
			}
			if journalVersions < 1 || journalRecords < 1 {
				return cli.Usagef("--journal-versions and --journal-records must be at least 1")
			}
			if cfg.RateLimit, cfg.SigningLimit, err = limitFlags.config(); err != nil {
				return err
			}
			if (tlsListen == "") != (tlsCert == "") || (tlsCert == "") != (tlsKey == "") {
				return cli.Usagef("--tls-listen, --tls-cert and --tls-key go together")
			}
			if xfrTLSOnly && tlsListen == "" {
				return cli.Usagef("--transfer-tls-only needs --tls-listen")
			}
			if cfg.XoT, err = xot.config(env, &rf, xotMode, xfrKeyFile); err != nil {
				return err
			}
			if metricsListen != "off" {
				if _, _, err := net.SplitHostPort(metricsListen); err != nil {
					return cli.Usagef("--metrics-listen %q: %v", metricsListen, err)
				}
				cfg.MetricsListen = metricsListen
			}
			if adminListen != "off" {
				if _, _, err := net.SplitHostPort(adminListen); err != nil {
					return cli.Usagef("--admin-listen %q: %v", adminListen, err)
				}
				checkDS, err := parentDS.checker(env)
				if err != nil {
					return err
				}
				cfg.Admin = &serve.AdminConfig{Listen: adminListen, CertFile: adminCert, KeyFile: adminKey, Insecure: adminInsecure,
					Auth: authMode, CheckParentDS: checkDS}
				if authMode.NeedsDANE() {
					cfg.Admin.Allow = adminAllowList.Patterns()
					if cfg.Admin.Resolver, err = rf.config(env); err != nil {
						return err
					}
					if rf.anchors == "-" {
						return cli.Usagef("--anchors -: zone serve reads the anchors again on SIGHUP; give a file")
					}
					cfg.Admin.AnchorsFile = rf.anchors
				}
			}
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
			cfg.Logger = log
			logLimits(log, cfg.RateLimit, cfg.SigningLimit)
			srv, err := serve.New(cfg)
			if err != nil {
				return zoneServeError(err, dir)
			}
			defer srv.Close()
			fmt.Fprintf(env.Stdout, "serving %s on %s (udp, tcp); update keys: %s\n", srv.Zone().Origin(), srv.Addr(), strings.Join(srv.UpdateKeys(), ", "))
			if a := srv.TLSAddr(); a != "" {
				fmt.Fprintf(env.Stdout, "DNS over TLS on %s\n", a)
			}
			if a := srv.XoTAddr(); a != "" {
				fmt.Fprintf(env.Stdout, "zone transfers over TLS (XoT) on %s (%s)\n", a, xot.describe(xotMode))
			}
			if u := srv.AdminURL(); u != "" {
				creds := []string{}
				if authMode.NeedsDANE() {
					creds = append(creds, "DANE identities "+strings.Join(adminAllowList.Patterns(), " "))
				}
				if authMode.NeedsToken() {
					creds = append(creds, "token in "+filepath.Join(dir, admin.TokenFile))
				}
				sep := " or "
				if authMode == admin.AuthBoth {
					sep = " and "
				}
				fmt.Fprintf(env.Stdout, "admin API on %s (%s)\n", u, strings.Join(creds, sep))
			}
			if a := srv.MetricsAddr(); a != "" {
				fmt.Fprintf(env.Stdout, "metrics on http://%s/metrics, health on http://%s/healthz\n", a, a)
			}
			stopReload := reloadOnSignal(srv)
			defer stopReload()
			if err := srv.Run(env.Context()); err != nil {
				var ce *serve.AdminCheckError
				if errors.As(err, &ce) {
					return cli.WithHint(cli.Input(err), adminCheckHint(ce))
				}
				return cli.Fail(err)
			}
			return nil
		},
	}
}

// zoneServeError turns a failure of serve.New into the command's error:
// a usage or input error with a hint where one helps, a runtime failure
// (exit 1) when a listener could not bind.
func zoneServeError(err error, dir string) error {
	var (
		locked   *zone.LockedError
		insecure *serve.InsecureAdminError
		overlap  *zone.AdminOverlapError
		listen   *serve.ListenError
		check    *serve.AdminCheckError
		outside  *serve.AdminOutsideZoneError
		xotOut   *serve.XoTOutsideZoneError
	)
	switch {
	case errors.As(err, &locked):
		return cli.WithHint(cli.Input(err), "stop the other server first, or serve a copy of the directory")
	case errors.As(err, &insecure):
		return cli.WithHint(cli.Usagef("refusing a plain-HTTP admin API on non-loopback address %s", insecure.Listen),
			"give --admin-tls-cert and --admin-tls-key, or --admin-insecure")
	case errors.As(err, &overlap):
		return adminOverlapHint(cli.Input(err), dir)
	case errors.As(err, &check):
		return cli.WithHint(cli.Input(err), adminCheckHint(check))
	case errors.As(err, &outside):
		return cli.WithHint(cli.Input(err), "give --resolver ADDR (a resolver that reaches "+strings.Join(outside.Names, ", ")+") with --anchors or --trust-ad, or keep --admin-allow inside the zone")
	case errors.As(err, &xotOut):
		return cli.WithHint(cli.Input(err), "give --resolver ADDR (a resolver that reaches "+strings.Join(xotOut.Names, ", ")+") with --anchors or --trust-ad, or name the secondaries inside the zone")
	case errors.As(err, &listen):
		return cli.Fail(err)
	case errors.Is(err, serve.ErrOpenZone):
		return cli.WithHint(cli.Input(err), "create the zone first with 'dance zone init'")
	}
	return cli.Input(err)
}

// adminCheckHint says which flags to change when the admin identities'
// resolver cannot validate the zones of --admin-allow.
func adminCheckHint(e *serve.AdminCheckError) string {
	if e.Self {
		return "without --resolver the admin identities are looked up on this server itself: --anchors must hold this zone's own keys (DIR/anchors, the default, does), or give --resolver with anchors for the zone"
	}
	return zoneChecksHint(e.Checks)
}

// reloadOnSignal reloads srv on every SIGHUP until the returned function
// is called; a reload that fails is logged by srv and changes nothing.
func reloadOnSignal(srv *serve.Server) (stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-c:
				srv.Reload()
			}
		}
	}()
	return func() {
		signal.Stop(c)
		close(done)
		<-finished
	}
}

// identitySigValidityUsage describes --identity-sig-validity of zone init.
const identitySigValidityUsage = "sign identity records for `DURATION` (12h to 336h), re-signing at half of it: a removed " +
	"record replayed by an on-path attacker stops validating after at most this long"

// maxTSIGWindow is the largest Fudge a TSIG record can carry (a 16-bit
// count of seconds, RFC 8945 §4.2): a wider window accepts nothing more.
const maxTSIGWindow = 65535 * time.Second

// adminTokenEnv is the environment variable holding the admin API's bearer
// token for the clients, when neither --token-file nor --dir is given.
const adminTokenEnv = "DANCE_ADMIN_TOKEN"

// apiFlags are the flags shared by the admin API clients.
type apiFlags struct {
	api, tokenFile, dir string
	identity, ca        string
}

func (a *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.api, "api", "", "`URL` of the zone's admin API (default: the one 'dance zone serve' recorded in DIR/"+admin.EndpointFile+" with --dir, else "+defaultAdminURL+")")
	fs.StringVar(&a.tokenFile, "token-file", "", "bearer token `FILE` (default DIR/admin.token with --dir, else $DANCE_ADMIN_TOKEN)")
	fs.StringVar(&a.dir, "dir", "", "zone `DIR`ectory: its token file, and the admin API's address and certificate that 'dance zone serve' records there")
	fs.StringVar(&a.identity, "identity", "", "identity `DIR` (cert.pem, key.pem as 'dance id new' writes them) to present as a DANE client certificate")
	fs.StringVar(&a.ca, "ca", "", "PEM `FILE` of the CA (or self-signed certificate) of an https --api (default: the certificate recorded in DIR with --dir, else the system roots)")
}

func (a *apiFlags) client(env *cli.Env) (*admin.Client, error) {
	tf := a.tokenFile
	// The environment's token keeps a secret off the command line (and
	// out of ps); a token file or directory given explicitly wins.
	tok := env.Getenv(adminTokenEnv)
	if tf == "" && a.dir != "" {
		tf = filepath.Join(a.dir, admin.TokenFile)
	}
	if tf == "" && a.identity == "" && tok == "" {
		return nil, cli.Usagef("--identity, --token-file or --dir (or $%s) is required", adminTokenEnv)
	}
	if tf != "" {
		var err error
		if tok, err = admin.ReadToken(tf); err != nil {
			return nil, cli.Input(err)
		}
	}
	api, pin, err := a.endpoint()
	if err != nil {
		return nil, err
	}
	if a.identity != "" && !strings.HasPrefix(strings.ToLower(api), "https://") {
		return nil, cli.Usagef("--identity needs an https --api")
	}
	tc, err := adminTLSConfig(a.ca, a.identity)
	if err != nil {
		return nil, err
	}
	if a.ca == "" && pin != nil {
		tc.RootCAs = pin
	}
	return &admin.Client{BaseURL: api, Token: tok, HTTP: adminHTTPClient(tc, 60*time.Second)}, nil
}

// defaultAdminURL is the admin API's address when nothing says otherwise:
// the default of 'dance zone serve --admin-listen'.
const defaultAdminURL = "http://127.0.0.1:8053"

// endpoint is the admin API's URL: --api, else the one recorded in the
// zone directory (admin.EndpointFile), else defaultAdminURL. With the
// recorded URL comes the server's certificate, to trust when --ca is not
// given (pin is nil for http or another URL).
func (a *apiFlags) endpoint() (url string, pin *x509.CertPool, err error) {
	url = a.api
	if a.dir != "" {
		ep, pool, err := admin.ReadEndpoint(a.dir)
		switch {
		case errors.Is(err, admin.ErrNoEndpoint):
		case err != nil:
			return "", nil, cli.Input(err)
		case url == "" || strings.TrimSuffix(url, "/") == ep.URL:
			url, pin = ep.URL, pool
		}
	}
	if url == "" {
		url = defaultAdminURL
	}
	return url, pin, nil
}

func apiErr(err error) error {
	var se *admin.StatusError
	if errors.As(err, &se) && se.Code >= 400 && se.Code < 500 && se.Code != http.StatusUnauthorized {
		return cli.Input(err)
	}
	if errors.As(err, &se) && se.Code == http.StatusUnauthorized {
		return cli.WithHint(cli.Fail(err), "check --token-file (the server's DIR/admin.token) or --identity (a name on the server's --admin-allow, its TLSA record published)")
	}
	if strings.Contains(err.Error(), "remote error: tls:") {
		// The server ended the handshake with an alert: it refused the
		// client certificate (bad_certificate) or wanted one
		// (certificate_required). crypto/tls exports no type for it.
		return cli.WithHint(cli.Fail(err), "the server refused the handshake: is the --identity name on its --admin-allow, with its TLSA record published? Without --identity: does it require a client certificate (--admin-auth dane or both)?")
	}
	return cli.WithHint(cli.Fail(err), "is 'dance zone serve' running with its admin API at --api?")
}

var apiExitCodes = []string{"0  success", "1  the API is unreachable or failed", "2  bad usage, or the API refused the input"}

func zoneAddCommand() *cli.Command {
	var (
		af      apiFlags
		ttl     uint
		replace bool
		from    string
	)
	return &cli.Command{
		Name:    "add",
		Summary: "publish identity records through the admin API",
		Usage: "dance zone add NAME TYPE DATA [TYPE DATA ...] [--replace] [--ttl SECONDS] (--dir DIR | --token-file FILE | --identity DIR [--ca FILE]) [--api URL]\n" +
			"  dance zone add [NAME] --from FILE|- [--replace] [--ttl SECONDS] (--dir DIR | ...)\n" +
			"  dance id new --name NAME --out DIR | dance zone add --dir ZDIR --from -",
		Description: "Adds records at NAME (TYPE: TLSA, SMIMEA, OPENPGPKEY, SSHFP; DATA in zone-file\n" +
			"syntax, quoted as one argument). With --replace the records replace every identity\n" +
			"record at NAME at once. At a revoked name (dance zone revoke) records are added only\n" +
			"with --replace, which lifts the revocation.\n\n" +
			"--from reads TLSA records as zone-file lines instead, as 'dance id new' and 'dance ca\n" +
			"new' print them (\"OWNER [TTL] [IN] TLSA u s m hex\"; a line that starts with blank\n" +
			"space has the owner of the line before, bare RDATA \"u s m hex\" has NAME). Records\n" +
			"may be at several names; each name's are published in one change, in the order of\n" +
			"the file. A line's TTL wins over --ttl. Every line is checked before anything is\n" +
			"published. With NAME, every record must be at NAME.\n\n" +
			"--replace is no way to change a key: verifiers that cached the old record set refuse\n" +
			"the new key, and accept the old one, until its TTL has passed. Change a key with\n" +
			"'dance id rotate', which publishes the new key beside the old, waits out the TTL,\n" +
			"then retires the old record: no verifier refuses the identity at any point.\n\n" +
			"Prints one line per name: \"NAME: N record(s) published, serial S\".",
		Examples: []string{
			`dance zone add --dir ./zone sensor1._device.devices.test TLSA "3 1 1 8f1c...e2"`,
			`dance zone add --dir ./zone --replace sensor1._device.devices.test TLSA "3 1 1 aa..." TLSA "3 1 1 bb..."`,
			"dance id new --name sensor1._device.devices.test --out ./sensor1 | dance zone add --dir ./zone --from -",
			"dance ca new --name devices.test --out ./ca | dance zone add --dir ./zone --from -",
			"dance id rotate --out ./sensor1 --zone-dir ./zone   # a new key for sensor1, without refusals",
		},
		ExitCodes: apiExitCodes,
		Flags: func(fs *flag.FlagSet) {
			af.register(fs)
			fs.UintVar(&ttl, "ttl", 0, "TTL in `SECONDS` (default: the zone's)")
			fs.BoolVar(&replace, "replace", false, "replace the identity's records instead of adding")
			fs.StringVar(&from, "from", "", "read TLSA records as zone-file lines from `FILE` (- for stdin)")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			var batches []zoneAddBatch
			if from != "" {
				if len(args) > 1 {
					return cli.Usagef("--from takes at most NAME, no TYPE DATA arguments")
				}
				name := ""
				if len(args) == 1 {
					name = args[0]
				}
				var err error
				if batches, err = zoneAddFrom(env, from, name, uint32(ttl)); err != nil {
					return err
				}
			} else {
				if len(args) < 3 || len(args)%2 != 1 {
					return cli.Usagef("want NAME TYPE DATA [TYPE DATA ...], or --from FILE")
				}
				b := zoneAddBatch{name: strings.TrimSuffix(args[0], ".")}
				for i := 1; i < len(args); i += 2 {
					b.recs = append(b.recs, admin.Record{Type: args[i], Data: args[i+1], TTL: uint32(ttl)})
				}
				batches = append(batches, b)
			}
			c, err := af.client(env)
			if err != nil {
				return err
			}
			mode := change.Add
			if replace {
				mode = change.Replace
			}
			for _, b := range batches {
				res, err := c.Publish(env.Context(), b.name, b.recs, mode)
				if se, ok := errors.AsType[*admin.StatusError](err); ok && se.Code == http.StatusConflict && !replace {
					return cli.WithHint(cli.Input(fmt.Errorf("%s: %w", b.name, err)), "the name is revoked (dance zone revoke): --replace publishes these records instead of the revocation marker, lifting the revocation")
				}
				if err != nil {
					if len(batches) > 1 {
						err = fmt.Errorf("%s: %w", b.name, err)
					}
					return apiErr(err)
				}
				fmt.Fprintf(env.Stdout, "%s: %d record(s) published, serial %d\n", b.name, len(b.recs), res.Serial)
				if res.RevocationLifted {
					fmt.Fprintf(env.Stdout, "%s: revocation lifted: the new records replace the revocation marker\n", b.name)
				}
			}
			return nil
		},
	}
}

// zoneAddBatch is the records 'zone add' publishes at one name.
type zoneAddBatch struct {
	name string // without the trailing dot
	recs []admin.Record
}

// zoneAddFrom reads the TLSA zone-file lines of file ("-": stdin) and
// groups them by owner name, in the order of the file. Lines without an
// owner are at name; with name, every line must be at it. A line's TTL
// wins over ttl.
func zoneAddFrom(env *cli.Env, file, name string, ttl uint32) ([]zoneAddBatch, error) {
	data, err := cli.ReadInput(env, file)
	if err != nil {
		return nil, cli.Input(err)
	}
	rrs, err := tlsa.ParseFile(cli.InputName(file), strings.NewReader(string(data)))
	if err != nil {
		return nil, cli.Input(err)
	}
	if len(rrs) == 0 {
		return nil, cli.Input(fmt.Errorf("%s: no TLSA records", cli.InputName(file)))
	}
	want := strings.ToLower(strings.TrimSuffix(name, "."))
	var out []zoneAddBatch
	index := map[string]int{}
	for _, rr := range rrs {
		owner := strings.ToLower(strings.TrimSuffix(rr.Owner, "."))
		switch {
		case owner == "" && want == "":
			return nil, cli.Usagef("%s: a record without an owner name (%s): give NAME", cli.InputName(file), rr.Record)
		case owner == "":
			owner = want
		case want != "" && owner != want:
			return nil, cli.Input(fmt.Errorf("%s: a record at %s, not at %s", cli.InputName(file), owner, want))
		}
		rec := admin.Record{Type: "TLSA", Data: rr.Record.String(), TTL: ttl}
		if rr.HasTTL {
			rec.TTL = rr.TTL
		}
		i, ok := index[owner]
		if !ok {
			i = len(out)
			index[owner] = i
			out = append(out, zoneAddBatch{name: owner})
		}
		out[i].recs = append(out[i].recs, rec)
	}
	return out, nil
}

func zoneRemoveCommand() *cli.Command {
	var af apiFlags
	return &cli.Command{
		Name:    "remove",
		Summary: "remove an identity's records through the admin API (see revoke)",
		Usage:   "dance zone remove NAME [NAME ...] (--dir DIR | --token-file FILE | --identity DIR [--ca FILE]) [--api URL]",
		Description: "Removes every identity record at each NAME (a revocation marker too). Caches drop it\n" +
			"within the record TTL. When a wildcard covers NAME it then answers for NAME and still\n" +
			"authenticates whoever it matches (the devices of a CA published at *._device.ZONE):\n" +
			"remove warns, and 'dance zone revoke' is the revocation that holds.",
		Examples:  []string{"dance zone remove --dir ./zone sensor1._device.devices.test"},
		ExitCodes: apiExitCodes,
		Flags:     af.register,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return cli.Usagef("want at least one NAME")
			}
			c, err := af.client(env)
			if err != nil {
				return err
			}
			for _, n := range args {
				res, err := c.Publish(env.Context(), n, nil, change.Remove)
				if err != nil {
					return apiErr(err)
				}
				fmt.Fprintf(env.Stdout, "%s: removed, serial %d\n", n, res.Serial)
				if res.RevocationLifted {
					fmt.Fprintf(env.Stderr, "dance: warning: %s was revoked; removing the revocation marker lifted the revocation\n", n)
				}
				if res.Wildcard != "" {
					fmt.Fprintf(env.Stderr, "dance: warning: the wildcard %s still covers %s and answers for it: whoever its records match (the devices its CA issued) is still authenticated; 'dance zone revoke %s' revokes the name\n",
						strings.TrimSuffix(res.Wildcard, "."), n, n)
				}
			}
			return nil
		},
	}
}

func zoneRevokeCommand() *cli.Command {
	var af apiFlags
	return &cli.Command{
		Name:    "revoke",
		Summary: "revoke an identity, whatever wildcard covers it, through the admin API",
		Usage:   "dance zone revoke NAME [NAME ...] (--dir DIR | --token-file FILE | --identity DIR [--ca FILE]) [--api URL]",
		Description: "Removes every identity record at each NAME and publishes there one TLSA record,\n" +
			"the revocation marker (TLSA " + tlsa.RevocationMarker[:5] + " with a digest of 32 zero octets, which no\n" +
			"key has). A name that owns records is never answered from a wildcard (RFC 4592), so\n" +
			"a device issued by a CA published at *._device.ZONE is refused too, which 'zone\n" +
			"remove' alone does not do; and the marker matches nothing, so every DANE verifier\n" +
			"refuses the name. dance verify and the verification core's logs say \"revoked\".\n" +
			"NAME need not have records: a device known only through its CA's wildcard is revoked\n" +
			"the same way. The marker is published with or without a wildcard, so one added later\n" +
			"does not bring the identity back.\n\n" +
			"A revoked name keeps the marker: 'zone add' refuses to add beside it, RFC 2136 update\n" +
			"keys cannot change the name, and only 'zone add --replace' (new records instead of the\n" +
			"marker) or 'zone remove' lifts the revocation. Resolvers see it once the record TTL\n" +
			"has passed (300 s by default).",
		Examples:  []string{"dance zone revoke --dir ./zone sensor1._device.devices.test"},
		ExitCodes: apiExitCodes,
		Flags:     af.register,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return cli.Usagef("want at least one NAME")
			}
			c, err := af.client(env)
			if err != nil {
				return err
			}
			for _, n := range args {
				res, err := c.Revoke(env.Context(), n)
				if err != nil {
					return apiErr(err)
				}
				if res.Wildcard != "" {
					fmt.Fprintf(env.Stdout, "%s: revoked, serial %d; it shadows the wildcard %s\n", n, res.Serial, strings.TrimSuffix(res.Wildcard, "."))
				} else {
					fmt.Fprintf(env.Stdout, "%s: revoked, serial %d, no wildcard covers it\n", n, res.Serial)
				}
			}
			return nil
		},
	}
}

func zoneListCommand() *cli.Command {
	var (
		af     apiFlags
		under  string
		limit  int
		asJSON bool
	)
	return &cli.Command{
		Name:    "list",
		Summary: "list identities through the admin API",
		Usage:   "dance zone list [--under NAME] [--limit N] [--json] (--dir DIR | --token-file FILE | --identity DIR [--ca FILE]) [--api URL]",
		Description: "Prints each identity's records as zone-file lines, or with --json one object per\n" +
			"identity. A revoked name's record, the revocation marker, is printed as \"revoked\"\n" +
			"instead of its data (--json: \"revoked\": true beside the records).",
		Examples:  []string{"dance zone list --dir ./zone --under _device.devices.test", "dance zone list --dir ./zone --json"},
		ExitCodes: apiExitCodes,
		Flags: func(fs *flag.FlagSet) {
			af.register(fs)
			fs.StringVar(&under, "under", "", "list only names at or below `NAME`")
			fs.IntVar(&limit, "limit", 0, "list at most `N` identities (default: all)")
			fs.BoolVar(&asJSON, "json", false, "print JSON lines, one identity per line")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			c, err := af.client(env)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(env.Stdout)
			defer w.Flush()
			enc := json.NewEncoder(w)
			after, n := "", 0
			for {
				page := 1000
				if limit > 0 && limit-n < page {
					page = limit - n
				}
				ids, err := c.List(env.Context(), under, after, page)
				if err != nil {
					return apiErr(err)
				}
				for _, id := range ids {
					revoked := false
					for _, r := range id.Records {
						revoked = revoked || isRevocationMarker(r.Type, r.Data)
					}
					if asJSON {
						enc.Encode(struct {
							admin.Identity
							Revoked bool `json:"revoked,omitempty"`
						}{id, revoked})
					} else {
						for _, r := range id.Records {
							data := r.Data
							if isRevocationMarker(r.Type, r.Data) {
								data = revokedLabel
							}
							fmt.Fprintf(w, "%s\t%d\tIN\t%s\t%s\n", id.Name, r.TTL, r.Type, data)
						}
					}
					after = id.Name
				}
				n += len(ids)
				if len(ids) < page || (limit > 0 && n >= limit) {
					return nil
				}
			}
		},
	}
}

func zoneImportCommand() *cli.Command {
	var (
		af      apiFlags
		format  string
		replace bool
		quiet   bool
	)
	return &cli.Command{
		Name:    "import",
		Summary: "bulk-import identity records through the admin API",
		Usage:   "dance zone import FILE|- [--format jsonl|csv] [--replace] (--dir DIR | --token-file FILE | --identity DIR [--ca FILE]) [--api URL]",
		Description: "Reads records as JSON lines ({\"name\":...,\"type\":\"TLSA\",\"data\":\"3 1 1 ...\",\"ttl\":300})\n" +
			"or CSV (name,type,data[,ttl]) and applies them in batches of " + fmt.Sprint(admin.ImportBatch) + " records, each batch\n" +
			"all or nothing. Progress goes to stderr. On an error the import stops; batches\n" +
			"before it stay applied and the summary says how many records were.",
		Examples: []string{
			"dance zone import --dir ./zone fleet.csv",
			"cat fleet.jsonl | dance zone import --dir ./zone -",
		},
		ExitCodes: apiExitCodes,
		Flags: func(fs *flag.FlagSet) {
			af.register(fs)
			fs.StringVar(&format, "format", "", "input `FORMAT`: jsonl or csv (default: by file extension, jsonl for -)")
			fs.BoolVar(&replace, "replace", false, "records replace each name's identity instead of adding to it")
			fs.BoolVar(&quiet, "quiet", false, "no progress lines")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("want one FILE or -")
			}
			switch format {
			case "":
				format = "jsonl"
				if strings.HasSuffix(strings.ToLower(args[0]), ".csv") {
					format = "csv"
				}
			case "jsonl", "csv":
			default:
				return cli.Usagef("--format must be jsonl or csv")
			}
			c, err := af.client(env)
			if err != nil {
				return err
			}
			// An import runs as long as the input lasts; progress lines
			// show it is alive, so no overall deadline.
			c.HTTP = adminHTTPClient(c.HTTP.Transport.(*http.Transport).TLSClientConfig, 0)
			in := env.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return cli.Input(err)
				}
				defer f.Close()
				in = f
			}
			start := time.Now()
			opts := admin.ImportOptions{Mode: change.Add, Progress: func(p admin.Progress) {
				if !quiet && !p.Done {
					fmt.Fprintf(env.Stderr, "dance: imported %d records (%d lines, serial %d)\n", p.Applied, p.Lines, p.Serial)
				}
			}}
			if format == "csv" {
				opts.Format = admin.CSV
			}
			if replace {
				opts.Mode = change.Replace
			}
			last, err := c.Import(env.Context(), in, opts)
			if err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(env.Stdout, "%d records imported from %d lines in %s, serial %d\n", last.Applied, last.Lines, time.Since(start).Round(time.Millisecond), last.Serial)
			if last.Error != "" {
				return cli.Input(fmt.Errorf("import stopped: %s", last.Error))
			}
			return nil
		},
	}
}

func zoneRolloverCommand() *cli.Command {
	var (
		af     apiFlags
		asJSON bool
		key    string
		force  bool
	)
	return &cli.Command{
		Name:    "rollover",
		Summary: "roll the zone's signing key, one step at a time, through the admin API",
		Usage:   "dance zone rollover [prepublish|activate|retire] [--key ksk|zsk|csk] [--force] (--dir DIR | --token-file FILE | --identity DIR [--ca FILE]) [--api URL] [--json]",
		Description: "Without a step, lists the keys. A rollover is three steps, taken one at a time, with\n" +
			"a wait between them (RFC 7583); one rollover runs at a time. --key says which key to\n" +
			"roll; without it, the key of the rollover under way, else the ZSK (or the CSK of a zone\n" +
			"made with --csk).\n\n" +
			"ZSK (pre-publication, RFC 7583 §3.2.1; the parent is not involved):\n" +
			"  prepublish  publishes a new ZSK, which signs nothing yet\n" +
			"              wait the DNSKEY TTL plus the propagation delay (1 + 1 hours by default),\n" +
			"              so caches hold the new key\n" +
			"  activate    signs with the new ZSK; the old one stays published\n" +
			"              wait the largest TTL in the zone (1 hour by default: the apex records)\n" +
			"              plus the propagation delay, so signatures by the old key leave caches\n" +
			"  retire      removes the old ZSK\n\n" +
			"KSK (double-KSK, RFC 7583 §3.3.1) and CSK (double signature):\n" +
			"  prepublish  publishes a new key that signs next to the old one (the KSKs sign the\n" +
			"              DNSKEY, CDS and CDNSKEY RRsets; the CSKs sign everything)\n" +
			"              wait the DNSKEY TTL plus the propagation delay; reload validators that\n" +
			"              use a static copy of DIR/anchors (it lists both keys)\n" +
			"  activate    moves CDS/CDNSKEY to the new key: replace the DS at the parent\n" +
			"              wait until the parent serves the new DS, plus the DS TTL and 1 hour\n" +
			"  retire      removes the old key: reload validators that use a static copy of\n" +
			"              DIR/anchors now\n\n" +
			"Each wait also covers the propagation delay (Dprp in RFC 7583): the time secondaries take\n" +
			"to transfer the change (at once with NOTIFY; the SOA refresh, 1 hour, if it is lost).\n" +
			"DIR/anchors follows the published KSKs or CSKs.\n\n" +
			"The server records when each step was taken and refuses the next one until its wait\n" +
			"has passed, saying when it becomes allowed. Before a KSK or CSK retire it checks through\n" +
			"a validating resolver that the parent's DS names the new key (zone serve\n" +
			"--parent-resolver); the first retire that sees it there records the time and is\n" +
			"refused until the DS TTL (plus 1 hour for the parent's servers) has passed. Each step\n" +
			"prints what to do next: publish the DS at the parent, reload validators that use a\n" +
			"static copy of DIR/anchors (validators with RFC 5011 automatic anchors accept a new KSK\n" +
			"only after it has been published for their hold-down time, 30 days).\n\n" +
			"--force is DANGEROUS: it takes a step before its wait or without the parent's DS,\n" +
			"and validators that still cache the state it undoes fail (SERVFAIL) for every name in\n" +
			"the zone until their caches expire.",
		Examples: []string{
			"dance zone rollover --dir ./zone prepublish             # the ZSK",
			"dance zone rollover --dir ./zone activate               # after the DNSKEY TTL",
			"dance zone rollover --dir ./zone retire                 # after the largest TTL",
			"dance zone rollover --dir ./zone --key ksk prepublish",
			"dance zone rollover --dir ./zone --key ksk activate     # then update the DS at the parent",
			"dance zone rollover --dir ./zone --key ksk retire       # once the parent serves the new DS, plus its TTL",
			"dance zone rollover --dir ./zone                        # list keys",
		},
		ExitCodes: apiExitCodes,
		Flags: func(fs *flag.FlagSet) {
			af.register(fs)
			fs.BoolVar(&asJSON, "json", false, "print the keys as JSON (with a step: the keys, the serial and what to do next)")
			fs.StringVar(&key, "key", "", "the `ROLE` of the key to roll: ksk, zsk or csk (default: the rollover under way, else the zsk or csk)")
			fs.BoolVar(&force, "force", false, "DANGEROUS: take the step before the TTLs it depends on have passed, or retire a KSK or CSK without the parent's DS; validators still caching the old state fail (SERVFAIL) until their caches expire")
		},
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if len(args) > 1 {
				return cli.Usagef("want at most one step")
			}
			var role zone.KeyRole
			if key != "" {
				r, err := zone.ParseKeyRole(key)
				if err != nil {
					return cli.Usagef("--key: %v", err)
				}
				if len(args) == 0 {
					return cli.Usagef("--key needs a step (prepublish, activate or retire)")
				}
				role = r
			}
			c, err := af.client(env)
			if err != nil {
				return err
			}
			if force && len(args) == 0 {
				return cli.Usagef("--force needs a step (prepublish, activate or retire)")
			}
			var (
				ks  []admin.Key
				res admin.RolloverResponse
			)
			if len(args) == 0 {
				ks, err = c.Keys(env.Context())
			} else {
				step := zone.RolloverStep(args[0])
				switch step {
				case zone.Prepublish, zone.Activate, zone.Retire:
				default:
					return cli.Usagef("unknown step %q (want prepublish, activate or retire)", args[0])
				}
				res, err = c.Rollover(env.Context(), role, step, admin.RolloverOptions{Force: force})
				ks = res.Keys
			}
			if err != nil {
				var se *admin.StatusError
				if errors.As(err, &se) && se.Code == http.StatusConflict && !force {
					return cli.WithHint(apiErr(err), "wait, or take the step with --force (dangerous: validators still caching the old state fail)")
				}
				return apiErr(err)
			}
			if asJSON {
				if len(args) == 0 {
					return json.NewEncoder(env.Stdout).Encode(ks)
				}
				return json.NewEncoder(env.Stdout).Encode(res)
			}
			for _, k := range ks {
				fmt.Fprintf(env.Stdout, "%-8s %s tag %-5d algorithm %d  %s\n", k.State, k.Role, k.Tag, k.Algorithm, k.DS)
			}
			if res.Forced {
				fmt.Fprintln(env.Stderr, "dance: WARNING: step forced before its checks allowed it; validators still caching the old state may fail until their caches expire")
			}
			if res.Next != "" {
				fmt.Fprintf(env.Stdout, "next: %s\n", res.Next)
			}
			return nil
		},
	}
}
