package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// cliCase is one invocation of the binary and what it must print.
type cliCase struct {
	name   string
	args   []string
	code   int
	stdout string // regexp that stdout must match
	stderr string // substring that stderr must contain
}

// runCases runs each case in-process as a subtest and checks exit code,
// stdout and stderr.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, nil, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errb.String())
			}
			if !regexp.MustCompile(tt.stdout).MatchString(out.String()) {
				t.Errorf("stdout %q does not match %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tt.stderr)
			}
		})
	}
}
