package main

import (
	"context"
	"io"

	"github.com/dnsbound/dance/internal/cli"
)

// run executes one invocation of the binary; tests call it in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &cli.Env{Ctx: ctx, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	return cli.Main(root(), args, env)
}
