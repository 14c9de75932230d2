package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/zone/server"
)

const zoneLimitsHelp = `Answers that need a signature made for them alone (a DO query for a name or
type the zone does not hold, a wildcard expansion: one signature per name)
are limited, so that a flood of random names cannot take the CPU from the
identities the zone serves. Response rate limiting (--rrl-*) allows, per
client prefix (/24, /56) and kind of answer (nxdomain, nodata, wildcard),
--rrl-rate such UDP answers a second; above it every --rrl-slip-th answer goes
out empty with TC set (the client retries over TCP, which is not limited) and
the others are dropped. --signing-rate caps those signatures for the whole
server; above it such answers are REFUSED at once. Positive answers, cached
answers and queries without DO are never limited. Both limits are on by
default; "off" turns one off. Metrics: dance_zone_rrl_*_total,
dance_zone_signing_*_total.

Each of the TCP and TLS listeners serves at most --max-tcp-conns connections
at once (256); one over the cap is closed as soon as it is accepted, counted
in dance_zone_tcp_refused_total and logged at most once per 10 s. A client
that sends no whole first query within 5 s, or no next one within 10 s, is
cut, so slow clients cannot hold the slots for long.`

// rateFlag is a rate that may be turned off: a positive number or "off".
type rateFlag struct {
	n   int
	off bool
}

func (r *rateFlag) String() string {
	if r.off {
		return "off"
	}
	return strconv.Itoa(r.n)
}

func (r *rateFlag) Set(s string) error {
	if s == "off" {
		r.off = true
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a positive number, or off")
	}
	r.n, r.off = n, false
	return nil
}

// zoneLimitFlags are the flags of zone serve's limits on online signing.
type zoneLimitFlags struct {
	rrlRate, signRate   rateFlag
	rrlBurst, signBurst int
	rrlSlip             int
	rrlV4, rrlV6        int
	rrlTable            int
	maxTCPConns         int
}

func (f *zoneLimitFlags) register(fs *flag.FlagSet) {
	f.rrlRate.n, f.signRate.n = server.DefaultRRLRate, server.DefaultSigningRate
	fs.Var(&f.rrlRate, "rrl-rate", "response rate limit: UDP answers needing their own signature allowed per client prefix and kind of answer, `N` a second, or off")
	fs.IntVar(&f.rrlBurst, "rrl-burst", 0, "response rate limit: `N` such answers at once after a quiet time (default: --rrl-rate)")
	fs.IntVar(&f.rrlSlip, "rrl-slip", server.DefaultRRLSlip, "response rate limit: every `N`th limited answer is sent empty with TC set, the others dropped (1: all truncated, 0: all dropped)")
	fs.IntVar(&f.rrlV4, "rrl-ipv4-prefix", server.DefaultRRLIPv4Prefix, "response rate limit: IPv4 clients grouped by this prefix `LENGTH`")
	fs.IntVar(&f.rrlV6, "rrl-ipv6-prefix", server.DefaultRRLIPv6Prefix, "response rate limit: IPv6 clients grouped by this prefix `LENGTH`")
	fs.IntVar(&f.rrlTable, "rrl-table-size", server.DefaultRRLTableSize, "response rate limit: `N` (prefix, kind) buckets, a fixed table")
	fs.Var(&f.signRate, "signing-rate", "ceiling on signatures made for single answers, `N` a second for the whole server (above it: REFUSED), or off")
	fs.IntVar(&f.signBurst, "signing-burst", 0, "`N` such signatures at once after a quiet time (default: --signing-rate)")
	fs.IntVar(&f.maxTCPConns, "max-tcp-conns", server.DefaultMaxTCPConns, "`N` connections open at once on each of the TCP and TLS listeners; more are closed at accept")
}

// config checks the flags and turns them into the server's settings.
func (f *zoneLimitFlags) config() (server.RateLimit, server.SigningLimit, error) {
	rl := server.RateLimit{Off: f.rrlRate.off, Rate: f.rrlRate.n, Burst: f.rrlBurst, Slip: f.rrlSlip,
		IPv4Prefix: f.rrlV4, IPv6Prefix: f.rrlV6, TableSize: f.rrlTable}
	sl := server.SigningLimit{Off: f.signRate.off, Rate: f.signRate.n, Burst: f.signBurst}
	switch {
	case f.rrlBurst < 0:
		return rl, sl, cli.Usagef("--rrl-burst must not be negative")
	case f.rrlSlip < 0:
		return rl, sl, cli.Usagef("--rrl-slip must not be negative")
	case f.rrlV4 < 1 || f.rrlV4 > 32:
		return rl, sl, cli.Usagef("--rrl-ipv4-prefix must be from 1 to 32")
	case f.rrlV6 < 1 || f.rrlV6 > 128:
		return rl, sl, cli.Usagef("--rrl-ipv6-prefix must be from 1 to 128")
	case f.rrlTable < 1:
		return rl, sl, cli.Usagef("--rrl-table-size must be at least 1")
	case f.signBurst < 0:
		return rl, sl, cli.Usagef("--signing-burst must not be negative")
	case f.maxTCPConns < 1:
		return rl, sl, cli.Usagef("--max-tcp-conns must be at least 1")
	}
	if f.rrlSlip == 0 {
		rl.Slip = server.SlipNever
	}
	return rl, sl, nil
}

// logLimits tells the operator which limits are in force.
func logLimits(log *slog.Logger, rl server.RateLimit, sl server.SigningLimit) {
	if rl.Off {
		log.Warn("response rate limiting is off (--rrl-rate off): a flood of random names over UDP is bounded by --signing-rate only")
	} else {
		log.Info("response rate limiting", "rate_per_second", rl.Rate, "burst", max(rl.Burst, rl.Rate), "slip", max(rl.Slip, 0),
			"ipv4_prefix", rl.IPv4Prefix, "ipv6_prefix", rl.IPv6Prefix, "table_size", rl.TableSize)
	}
	if sl.Off {
		log.Warn("online signing ceiling is off (--signing-rate off): a flood of random names is bounded by signing speed only")
	} else {
		log.Info("online signing ceiling", "signatures_per_second", sl.Rate, "burst", max(sl.Burst, sl.Rate))
	}
}
