// Command latprobe measures a DNS server's latency percentiles while
// another client (dnsperf in zone/bench/run.sh) loads it.
//
// dnsperf reports only the average and the maximum latency, and its -v
// mode prints a line per answer, which at 100,000 answers a second loads
// the same cores as the server and sets the tail it is meant to measure.
// latprobe instead sends a small, steady stream of queries of its own
// (1,000 a second by default, about 1% of the load) from its own UDP
// socket, times each from send to receipt and prints one line.
//
// The schedule is open loop: query i goes out at start + i/rate, read from
// the clock, whatever the answers do, so a slow answer delays no later
// query and is counted at its full latency (no coordinated omission).
//
//	latprobe -server 127.0.0.1:5353 -queries q.txt -rate 1000 -duration 15s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dnsbound/dance/internal/cli"
)

// command is latprobe's command line, in the form (help, errors, exit
// codes) of the project's other commands (internal/cli).
func command() *cli.Command {
	var (
		server, queries, label string
		rate                   int
		duration, timeout      time.Duration
		do                     bool
		bufsize                uint
	)
	return &cli.Command{
		Name:  "latprobe",
		Usage: "latprobe -server ADDR:PORT -queries FILE [flags]",
		Description: `Sends -rate queries a second to -server for -duration, on an open-loop
schedule (query i leaves at start + i/rate, whatever the answers do), from
its own UDP socket, and times each from send to receipt on the monotonic
clock. Then it waits for the last answers (at most -timeout) and prints
one line:

  probe sent N answered N lost N mismatched N p50_ms X p99_ms X p999_ms X max_ms X not_noerror N lag_max_ms X

  sent         queries sent
  answered     queries answered within -timeout (any response code)
  lost         queries with no answer within -timeout; sent = answered + lost.
               They are counted here and left out of the percentiles.
  mismatched   responses that answer no waiting query (a wrong message ID
               or question, or a second response to one query); not timed
  p50_ms ...   the 50th, 99th and 99.9th percentiles and the maximum of the
               answered queries' latencies, in milliseconds, by nearest
               rank: the smallest latency that at least that share of the
               answered queries do not exceed. "-" when nothing was answered.
  not_noerror  answered queries whose response code was not NOERROR
               (counted among answered and timed)
  lag_max_ms   the longest any query left after its scheduled time: large
               values mean the probe itself was short of CPU and sent late

The query file is dnsperf's: one "name type" a line (class IN), blank
lines and lines starting with ';' skipped; the probe asks its lines in
order, starting again at the top when it runs out, and reads no more of
them than the run sends. Queries look like
dnsperf -D's: RD set, EDNS0 with -bufsize and the DO bit (-do).

-label replaces the word "probe" at the start of the line.`,
		Examples:  []string{"latprobe -server 127.0.0.1:5353 -queries q.txt -rate 2000 -duration 14s -label lat_before"},
		ExitCodes: []string{"0  the line was printed", "1  the probe could not run (no socket)", "2  bad usage or bad input (an unreadable query file)"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&server, "server", "", "`address:port` of the DNS server (UDP)")
			fs.StringVar(&queries, "queries", "", "query `file` in dnsperf's format")
			fs.IntVar(&rate, "rate", 1000, "queries a second")
			fs.DurationVar(&duration, "duration", 10*time.Second, "how long to send queries")
			fs.DurationVar(&timeout, "timeout", 2*time.Second, "an answer later than this is counted lost")
			fs.BoolVar(&do, "do", true, "set the DNSSEC OK bit (-do=false: clear)")
			fs.UintVar(&bufsize, "bufsize", 4096, "EDNS0 UDP payload size (dnsperf sends 4096)")
			fs.StringVar(&label, "label", "probe", "first word of the output line")
		},
		NoArgs: true,
		Run: func(env *cli.Env, _ *flag.FlagSet, _ []string) error {
			if server == "" || queries == "" {
				return cli.Usagef("-server and -queries are required")
			}
			if bufsize < 512 || bufsize > 65535 {
				return cli.Usagef("-bufsize: want 512 to 65535")
			}
			cfg := config{server: server, rate: rate, duration: duration, timeout: timeout, do: do, bufsize: uint16(bufsize)}
			if err := cfg.check(); err != nil {
				return cli.Usagef("%v", err)
			}
			qs, err := readQueries(queries, cfg.total())
			if err != nil {
				return cli.Input(err)
			}
			cfg.queries = qs
			res, err := run(cfg)
			if err != nil {
				return cli.Fail(err)
			}
			fmt.Fprintln(env.Stdout, res.line(label))
			return nil
		},
	}
}

func main() {
	os.Exit(cliMain(os.Args[1:], os.Stdout, os.Stderr))
}

// cliMain runs the command line args and returns the exit code.
func cliMain(args []string, stdout, stderr io.Writer) int {
	return cli.Main(command(), args, &cli.Env{Ctx: context.Background(), Stdout: stdout, Stderr: stderr, Program: "latprobe"})
}
