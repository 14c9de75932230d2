package main

import (
	"flag"
	"fmt"
	"runtime/debug"

	"github.com/dnsbound/dance/internal/cli"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Summary:   "print the version of this binary",
		Usage:     "dance version",
		ExitCodes: []string{"0  always"},
		Run: func(env *cli.Env, _ *flag.FlagSet, _ []string) error {
			v := "(devel)"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				v = bi.Main.Version
			}
			fmt.Fprintf(env.Stdout, "dance %s\n", v)
			return nil
		},
	}
}
