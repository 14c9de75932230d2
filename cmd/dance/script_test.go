package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/dnsbound/dance/internal/testwait"
)

// TestMain lets the test binary run as the dance command: the scripts of
// testdata/script call "dance", and testscript runs this binary as it,
// with main, in a process of its own.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"dance": main})
}

// TestScripts runs the multi-step CLI flows of testdata/script, each in a
// fresh working directory, against the real command.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"waitfile": cmdWaitFile,
		},
	})
}

// cmdWaitFile is the script command "waitfile FILE": it waits until FILE
// exists, as a background command's readiness (testwait.Timeout at most).
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	path := ts.MkAbs(args[0])
	if !testwait.Until(testwait.Timeout, func() bool {
		_, err := os.Stat(path)
		return err == nil
	}) {
		ts.Fatalf("%s did not appear within %v", args[0], testwait.Timeout)
	}
}
