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
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

const usage = `usage: latprobe -server ADDR:PORT -queries FILE [flags]

Sends -rate queries a second to -server for -duration, on an open-loop
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

-label replaces the word "probe" at the start of the line.

Exit status: 0 when the line was printed, 1 when the probe could not run
(an unreadable query file, no socket), 2 for usage errors.

Flags:
`

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the command with args and returns its exit status.
func cli(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("latprobe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	server := fs.String("server", "", "`address:port` of the DNS server (UDP)")
	queries := fs.String("queries", "", "query `file` in dnsperf's format")
	rate := fs.Int("rate", 1000, "queries a second")
	duration := fs.Duration("duration", 10*time.Second, "how long to send queries")
	timeout := fs.Duration("timeout", 2*time.Second, "an answer later than this is counted lost")
	do := fs.Bool("do", true, "set the DNSSEC OK bit (-do=false: clear)")
	bufsize := fs.Uint("bufsize", 4096, "EDNS0 UDP payload size (dnsperf sends 4096)")
	label := fs.String("label", "probe", "first word of the output line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(msg string) int {
		fmt.Fprintln(stderr, "latprobe: error:", msg)
		fmt.Fprintln(stderr, "latprobe: hint: latprobe --help")
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if *server == "" || *queries == "" {
		return usageErr("-server and -queries are required")
	}
	if *bufsize < 512 || *bufsize > 65535 {
		return usageErr("-bufsize: want 512 to 65535")
	}
	cfg := config{
		server:   *server,
		rate:     *rate,
		duration: *duration,
		timeout:  *timeout,
		do:       *do,
		bufsize:  uint16(*bufsize),
	}
	if err := cfg.check(); err != nil {
		return usageErr(err.Error())
	}
	qs, err := readQueries(*queries, cfg.total())
	if err != nil {
		fmt.Fprintln(stderr, "latprobe: error:", err)
		return 1
	}
	cfg.queries = qs
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "latprobe: error:", err)
		return 1
	}
	fmt.Fprintln(stdout, res.line(*label))
	return 0
}
