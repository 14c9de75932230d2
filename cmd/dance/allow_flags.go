package main

import (
	"bytes"
	"fmt"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/verify"
)

// allowPatterns is the allow-list of a server command: the --allow
// patterns, then those of --allow-file (read again on each call, for
// SIGHUP) when it is given.
func allowPatterns(env *cli.Env, allow []string, allowFile string) ([]string, error) {
	patterns := append([]string(nil), allow...)
	if allowFile == "" {
		return patterns, nil
	}
	data, err := cli.ReadInput(env, allowFile)
	if err != nil {
		return nil, err
	}
	a, err := verify.ReadAllowList(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", allowFile, err)
	}
	return append(patterns, a.Patterns()...), nil
}
