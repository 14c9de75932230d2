package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestWriteVersion(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"clean checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			true, "dance v1.2.3\nrevision: " + rev + "\ntime: 2026-12-01T10:00:00Z\ngo: go1.26.8\n"},
		{"modified tree", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}},
			true, "dance (devel)\nrevision: " + rev + "+dirty\ngo: go1.26.8\n"},
		{"no vcs stamp", &debug.BuildInfo{GoVersion: "go1.26.8"}, true, "dance (devel)\ngo: go1.26.8\n"},
		{"no build info", nil, false, "dance (devel)\nno build information in this binary\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeVersion(&b, tt.bi, tt.ok)
			if b.String() != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestVersionCommand: "dance version" and "dance --version" print the same
// lines, with the Go version this binary was built with.
func TestVersionCommand(t *testing.T) {
	var outs []string
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		outs = append(outs, out.String())
	}
	if outs[0] != outs[1] {
		t.Errorf("version %q and --version %q differ", outs[0], outs[1])
	}
	if !strings.HasPrefix(outs[0], "dance ") || !strings.Contains(outs[0], "\ngo: "+runtime.Version()+"\n") {
		t.Errorf("version output %q lacks the module line or go: %s", outs[0], runtime.Version())
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version", "extra"}, nil, &out, &errb); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}
