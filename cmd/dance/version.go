package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/dnsbound/dance/internal/cli"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:    "version",
		Summary: "print the version of this binary",
		Usage:   "dance version (or dance --version)",
		Description: `Prints the module version, the version control revision the binary was
built from ("+dirty" when the working tree had changes), its commit time, and
the Go version that built it, as recorded in the binary (go version -m shows
the same). A binary built outside a repository has no revision line.`,
		Examples:  []string{"dance version", "dance --version"},
		ExitCodes: []string{"0  always"},
		NoArgs:    true,
		Run: func(env *cli.Env, _ *flag.FlagSet, _ []string) error {
			bi, ok := debug.ReadBuildInfo()
			writeVersion(env.Stdout, bi, ok)
			return nil
		},
	}
}

// writeVersion prints what bi records: module version, VCS revision and
// time, Go version.
func writeVersion(w io.Writer, bi *debug.BuildInfo, ok bool) {
	if !ok || bi == nil {
		fmt.Fprintln(w, "dance (devel)")
		fmt.Fprintln(w, "no build information in this binary")
		return
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	fmt.Fprintf(w, "dance %s\n", v)
	var rev, when string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		if dirty {
			rev += "+dirty"
		}
		fmt.Fprintf(w, "revision: %s\n", rev)
	}
	if when != "" {
		fmt.Fprintf(w, "time: %s\n", when)
	}
	if bi.GoVersion != "" {
		fmt.Fprintf(w, "go: %s\n", bi.GoVersion)
	}
}
