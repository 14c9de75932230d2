package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone/secondary"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// xotPort is the port of DNS over TLS and XoT (RFC 7858 §3.1, RFC 9103).
const xotPort = "853"

func zoneSecondaryCommand() *cli.Command {
	var (
		zoneName, primary, connect string
		idDir, out, tsigFile       string
		notifyListen, logLevel     string
		metricsAddr, onExpire      string
		once                       bool
		timeout                    time.Duration
		rf                         resolverFlags
	)
	return &cli.Command{
		Name:    "secondary",
		Summary: "keep a copy of a zone, transferred over TLS with both ends authenticated by DANE",
		Usage:   "dance zone secondary --zone ZONE --primary HOST[:PORT] --identity DIR --out FILE [--connect ADDR] [--tsig FILE] [--notify-listen ADDR] [--on-expire keep|remove] [--metrics ADDR] [--once] [resolver flags]",
		Description: "Transfers ZONE from its primary over XoT (zone transfers over TLS 1.3, RFC 9103)\n" +
			"and keeps it in FILE, in zone-file format. Both ends are authenticated by DNS:\n\n" +
			"  - this secondary presents its identity (--identity DIR: DIR/cert.pem and\n" +
			"    DIR/key.pem, as 'dance id new' writes them); the primary looks up the TLSA\n" +
			"    record at the certificate's name and admits it if the name is on its\n" +
			"    --xot-allow ('dance zone serve --xot-listen');\n" +
			"  - the primary is authenticated by the DNSSEC-validated TLSA records at\n" +
			"    _PORT._tcp.HOST of --primary HOST:PORT (port 853 unless given), which must\n" +
			"    match the certificate it presents. HOST is also sent as SNI. --connect\n" +
			"    gives the address to connect to when HOST does not resolve to it.\n\n" +
			"There is no fallback: a primary whose records are missing, insecure, bogus or\n" +
			"do not match is refused, and nothing is written. --tsig FILE signs the\n" +
			"requests with the first key of FILE (BIND syntax), for a primary that wants a\n" +
			"transfer key too (--xot-auth both) or instead (--xot-auth tsig).\n\n" +
			"The first transfer is an AXFR (or an IXFR from the serial of the copy already\n" +
			"in FILE); later ones ask for the differences since the serial held (IXFR, RFC\n" +
			"1995), which the primary may answer with the whole zone. FILE is replaced\n" +
			"atomically, only after a whole transfer has been received and applied: a\n" +
			"reader sees the old zone or the new one, never a mix, and a failure keeps the\n" +
			"copy. A FILE that is not a zone file of ZONE is refused, never overwritten.\n\n" +
			"Without --once the command runs until SIGINT or SIGTERM: it refreshes when the\n" +
			"SOA refresh timer runs out (the retry timer after a failure; both clamped to\n" +
			"10 s .. 24 h) and, with --notify-listen, when a NOTIFY for ZONE arrives\n" +
			"(RFC 1996; at most once every 2 s; a NOTIFY only makes the secondary ask its\n" +
			"authenticated primary). Failures are logged and retried. The zone's DNSSEC\n" +
			"signatures are not checked: check FILE with kzonecheck or ldns-verify-zone,\n" +
			"and serve it with any authoritative server (NSD, Knot, BIND).\n\n" +
			"Expiry (RFC 1035 §3.3.13, RFC 1034 §4.3.5): when the SOA expire time passes without a\n" +
			"successful refresh (a transfer, or a check that found the serial current;\n" +
			"counted from the command's start for a copy already in FILE), the copy is\n" +
			"expired: an error is logged once, with the last success and the last error,\n" +
			"/healthz on --metrics answers 503 with the reason, and dance_secondary_expired\n" +
			"is 1. --on-expire says what happens to FILE:\n\n" +
			"  keep    (default) FILE stays: the server loading it goes on answering with\n" +
			"          data its primary may have changed or withdrawn (a revoked TLSA\n" +
			"          record still served), but the zone stays up while the primary is\n" +
			"          away longer than the expire time.\n" +
			"  remove  FILE is deleted (one unlink: a reader sees the file or no file), so\n" +
			"          the server loading it has no stale data to load: the zone stops\n" +
			"          answering until the primary is back, provided the server drops a\n" +
			"          zone whose file is gone rather than keeping it in memory (check\n" +
			"          yours; docs/xot.md).\n\n" +
			"The next successful refresh clears the state and writes FILE again.\n\n" +
			"Metrics on --metrics (http://ADDR/metrics, off by default):\n" +
			"dance_secondary_expired{zone}, dance_secondary_last_success_timestamp_seconds{zone},\n" +
			"and the verification core's dance_verify_* metrics; GET /healthz answers 200\n" +
			"\"ok\", or 503 with the reason while the copy is expired.\n\n" +
			resolverFlagsHelp,
		Examples: []string{
			"dance zone secondary --zone ids.example.com --primary ns1.example.com --identity ./ns2 --out /var/lib/nsd/ids.example.com.zone --notify-listen 127.0.0.1:5300",
			"dance zone secondary --zone devices.test --primary ns1.devices.test:8853 --connect 127.0.0.1:8853 --identity ./ns2 --out ./devices.test.zone --resolver 127.0.0.1:5353 --anchors ./zone/anchors --once",
		},
		ExitCodes: []string{"0  transferred (--once), or stopped by a signal", "1  the transfer failed (--once): handshake refused, primary not authenticated, transfer refused", "2  bad usage, unreadable identity or key, or a FILE that is not a copy of ZONE"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&zoneName, "zone", "", "the `ZONE` to transfer (required)")
			fs.StringVar(&primary, "primary", "", "the primary's `HOST[:PORT]` (required; port 853 unless given): its TLSA records are at _PORT._tcp.HOST")
			fs.StringVar(&connect, "connect", "", "connect to `ADDR` (host:port) instead of --primary; the primary is still authenticated for --primary")
			fs.StringVar(&idDir, "identity", "", "identity `DIR` holding cert.pem and key.pem, presented to the primary (required)")
			fs.StringVar(&out, "out", "", "zone `FILE` to keep the copy in (required)")
			fs.StringVar(&tsigFile, "tsig", "", "TSIG key `FILE` (BIND syntax) to sign the requests with")
			fs.StringVar(&notifyListen, "notify-listen", "", "UDP `ADDR`ess where NOTIFY messages for the zone trigger a refresh")
			fs.BoolVar(&once, "once", false, "transfer once and exit")
			fs.DurationVar(&timeout, "timeout", secondary.DefaultTimeout, "give up a transfer after `DURATION`")
			fs.StringVar(&onExpire, "on-expire", string(secondary.ExpireKeep), "what to do with FILE when the SOA expire time passes without a successful refresh: keep (serve stale data) or remove (stop serving it)")
			fs.StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics and the health check on /healthz (off by default)")
			fs.StringVar(&logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn, error")
			rf.register(fs)
		},
		NoArgs: true,
		Run: func(env *cli.Env, fs *flag.FlagSet, args []string) error {
			if zoneName == "" || primary == "" || idDir == "" || out == "" {
				return cli.Usagef("--zone, --primary, --identity and --out are required")
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return cli.Usagef("--log-level: %v", err)
			}
			if timeout <= 0 {
				return cli.Usagef("--timeout must be positive")
			}
			if once && notifyListen != "" {
				return cli.Usagef("--notify-listen has no use with --once")
			}
			if once && metricsAddr != "" {
				return cli.Usagef("--metrics has no use with --once")
			}
			policy, err := secondary.ParseExpirePolicy(onExpire)
			if err != nil {
				return cli.Usagef("--on-expire %q: want keep or remove", onExpire)
			}
			host, port, err := net.SplitHostPort(primary)
			if err != nil {
				host, port = primary, xotPort
			}
			if _, err := netip.ParseAddr(host); err == nil {
				return cli.Usagef("--primary %s is an address: give the primary's name, whose TLSA records authenticate it, and the address with --connect", host)
			}
			primary = net.JoinHostPort(host, port)
			if connect != "" {
				if _, _, err := net.SplitHostPort(connect); err != nil {
					return cli.Usagef("--connect %q: want HOST:PORT", connect)
				}
			}
			if notifyListen != "" {
				if _, _, err := net.SplitHostPort(notifyListen); err != nil {
					return cli.Usagef("--notify-listen %q: want HOST:PORT", notifyListen)
				}
			}
			cert, err := danetls.LoadIdentity(idDir)
			if err != nil {
				return cli.Input(err)
			}
			var key *tsigkey.Key
			if tsigFile != "" {
				keys, err := tsigkey.ReadFile(tsigFile)
				if err != nil {
					return cli.Input(err)
				}
				key = keys[0]
			}
			r, err := rf.newResolver(env)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			core, err := verify.New(verify.Config{Resolver: r, Registerer: reg})
			if err != nil {
				return cli.Fail(err)
			}
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
			sec, err := secondary.New(secondary.Config{Zone: zoneName, Primary: primary, Addr: connect, Identity: cert,
				Verifier: core, TSIG: key, File: out, NotifyListen: notifyListen, Timeout: timeout, Logger: log,
				OnExpire: policy, Registerer: reg})
			if err != nil {
				var fe *secondary.FileError
				if errors.As(err, &fe) {
					return cli.Input(err)
				}
				return cli.Usagef("%v", err)
			}
			if once {
				res, err := sec.Refresh(env.Context())
				if err != nil {
					return secondaryError(err, primary)
				}
				if res.Kind == secondary.KindCurrent {
					fmt.Fprintf(env.Stdout, "%s: serial %d, current (%s)\n", zoneName, res.Serial, out)
				} else {
					fmt.Fprintf(env.Stdout, "%s: serial %d transferred from %s (%s), %d records written to %s\n", zoneName, res.Serial, primary, res.Kind, res.Records, out)
				}
				return nil
			}
			if metricsAddr != "" {
				metricsSrv, err := serveMetrics(env, metricsAddr, reg, sec.Health(), log)
				if err != nil {
					return cli.Fail(err)
				}
				defer metricsSrv.Close()
			}
			fmt.Fprintf(env.Stdout, "secondary for %s from %s, kept in %s (on expire: %s)\n", zoneName, primary, out, policy)
			if err := sec.Run(env.Context()); err != nil {
				return cli.Fail(err)
			}
			return nil
		},
	}
}

// secondaryError turns a failed transfer into the command's error, with a
// hint on what to check.
func secondaryError(err error, primary string) error {
	var he *secondary.HandshakeError
	var re *secondary.RefusedError
	switch {
	case errors.As(err, &he) && verify.ReasonOf(err) != 0:
		host, port, _ := net.SplitHostPort(primary)
		return cli.WithHint(cli.Fail(err), fmt.Sprintf("DANE did not authenticate the primary (%s): are its TLSA records published at _%s._tcp.%s, signed, and do they match its --xot-cert? ('dance lookup _%s._tcp.%s' shows them)", verify.ReasonOf(err), port, host, port, host))
	case errors.As(err, &he):
		return cli.WithHint(cli.Fail(err), "the primary refused this secondary in the TLS handshake: is the --identity name on its --xot-allow, with its TLSA record published and signed? (the primary's log says why)")
	case errors.As(err, &re):
		return cli.WithHint(cli.Fail(err), "the primary authenticated this secondary but refused the transfer: does it want a transfer key (--tsig, for --xot-auth tsig or both)?")
	}
	return cli.Fail(err)
}
