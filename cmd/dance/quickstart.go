package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/internal/quickstart"
)

func quickstartCommand() *cli.Command {
	var (
		dir, zoneName   string
		keep, quiet, vb bool
		ttl             uint
	)
	return &cli.Command{
		Name:    "quickstart",
		Summary: "run the whole system on this machine in one command, and show how to do each step by hand",
		Usage:   "dance quickstart [--dir DIR | --keep] [--zone NAME] [--ttl SECONDS] [--quiet] [--verbose]",
		Description: `Starts an identity zone (DNSSEC-signed, with its admin API) and a resolver that
validates against the zone's key; provisions two devices and a user and
publishes their TLSA records; runs the proxy (http mode) in front of a small
backend; connects through it with each identity and with one never published;
revokes a device and waits out the TTL until it is refused; connects a
raw-key device (RFC 7250: a key, no certificate) that claims its name in the
dane_clientid extension, through a second proxy running dance's own TLS 1.3
engine (--engine dance); runs the sensor → gateway → cloud flow of signed
readings (JWS and COSE, countersigned by a gateway) in-process, with the
mosquitto commands that run it between processes. Everything listens
on 127.0.0.1 on ports it picks, needs no root and no configuration, and is
stopped at the end (also on Ctrl-C).

Each step prints the dance commands (and curl and openssl lines) that do the
same by hand, with this run's paths and ports. The files (zone, keys,
certificates) go to a temporary directory removed at the end, unless --keep,
or to --dir DIR, which is kept.`,
		Examples: []string{
			"dance quickstart",
			"dance quickstart --dir ./qs --ttl 2",
			"dance quickstart --quiet --zone ids.example.test",
		},
		ExitCodes: []string{
			"0  every step behaved as expected",
			"1  a step did not (the error names it), or the run was interrupted",
			"2  bad usage or bad input (--zone, --ttl, a --dir that is not empty)",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&dir, "dir", "", "write the zone, keys and certificates to `DIR` (new or empty) and keep them")
			fs.BoolVar(&keep, "keep", false, "keep the temporary directory")
			fs.StringVar(&zoneName, "zone", quickstart.DefaultZone, "the identity zone's `NAME`")
			fs.UintVar(&ttl, "ttl", uint(quickstart.DefaultTTL/time.Second), "TTL of the identity records in `SECONDS`: how long a revoked identity may stay cached")
			fs.BoolVar(&quiet, "quiet", false, "print only each step's title and verdict, not the details and commands")
			fs.BoolVar(&vb, "verbose", false, "also print the logs of the zone server, the admin API, the proxy and the verifier (stderr)")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, args []string) error {
			if dir != "" && keep {
				return cli.Usagef("--dir is always kept; --keep is for the temporary directory")
			}
			max := uint(quickstart.MaxTTL / time.Second)
			if ttl == 0 || ttl > max {
				return cli.Usagef("--ttl must be between 1 and %d seconds", max)
			}
			// A reader that stops reading ("dance quickstart | head")
			// must not kill the run before it has stopped its servers
			// and removed its files: with SIGPIPE caught, writes to the
			// closed pipe fail instead, and the run goes on unseen.
			pipe := make(chan os.Signal, 1)
			signal.Notify(pipe, syscall.SIGPIPE)
			defer signal.Stop(pipe)
			var logw io.Writer
			if vb {
				logw = env.Stderr
			}
			cfg := quickstart.Config{Dir: dir, Keep: keep, Zone: zoneName, TTL: time.Duration(ttl) * time.Second,
				Out: env.Stdout, Quiet: quiet, Log: logw, Program: "dance"}
			_, err := quickstart.Run(env.Context(), cfg)
			var ce *quickstart.ConfigError
			if errors.As(err, &ce) {
				return cli.Input(ce.Err)
			}
			var se *quickstart.StepError
			if errors.As(err, &se) {
				hint := "run again with --verbose for the components' logs"
				if errors.Is(err, quickstart.ErrInterrupted) {
					hint = ""
				}
				e := cli.Fail(se)
				if hint != "" {
					e = cli.WithHint(e, hint)
				}
				return e
			}
			if err != nil {
				return cli.Fail(err)
			}
			return nil
		},
	}
}
