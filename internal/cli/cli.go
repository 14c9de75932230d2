// Package cli is the small command-line framework behind the dance binary:
// a tree of commands (`dance NOUN VERB`), flags that may follow positional
// arguments, help texts with EXAMPLES and EXIT CODES, and one convention for
// errors and exit codes.
//
// A command's Run returns nil for success, or an error. Errors are printed as
// "dance: error: ..." (plus "dance: hint: ..." when the error carries a hint)
// and mapped to an exit code:
//
//   - ExitOK (0): success;
//   - ExitFail (1): the operation ran but the answer is negative (not
//     authenticated, not secure) or a runtime failure occurred;
//   - ExitUsage (2): bad usage or bad input (unknown flag, unreadable file,
//     malformed record).
//
// Start with Main, Command and Parse.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes shared by every command.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// Env is what a command may touch of the outside world. Tests build one with
// buffers; main builds one from the process.
type Env struct {
	Ctx    context.Context
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Program is the name used in messages, "dance" by default.
	Program string
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Getenv returns the environment variable name, or "".
func (e *Env) Getenv(name string) string {
	lookup := e.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, _ := lookup(name)
	return v
}

func (e *Env) program() string {
	if e.Program == "" {
		return "dance"
	}
	return e.Program
}

// Context returns the command's context, never nil.
func (e *Env) Context() context.Context {
	if e.Ctx == nil {
		return context.Background()
	}
	return e.Ctx
}

// Command is a node in the command tree. A node has either Run or Sub.
type Command struct {
	// Name is the word that selects the command ("new" in "dance id new").
	Name string
	// Summary is one line shown in the parent's command list.
	Summary string
	// Usage is the synopsis line, e.g. "dance id new --name NAME [flags]".
	Usage string
	// Description is free text printed after the synopsis.
	Description string
	// Examples are printed under EXAMPLES, one per line.
	Examples []string
	// ExitCodes are printed under EXIT CODES; nil means the default trio.
	ExitCodes []string
	// Flags declares the command's flags on fs. It is called once per run.
	Flags func(fs *flag.FlagSet)
	// NoArgs makes a positional argument a usage error, reported before
	// Run is called.
	NoArgs bool
	// Config adds a --config FILE flag: flags read from a file of
	// "key = value" lines (ConfigHelp), overridden by the command line.
	// For long-running commands.
	Config bool
	// Run executes the command with the positional arguments left after
	// flag parsing.
	Run func(env *Env, fs *flag.FlagSet, args []string) error
	// Sub holds the subcommands of a noun.
	Sub []*Command
}

// Error is an error with an exit code and an optional hint for the user.
type Error struct {
	Code int
	Err  error
	Hint string
	// Quiet suppresses the "error:" line; the command already printed its
	// result (for example a negative verdict) and only the code matters.
	Quiet bool
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usagef returns a usage error (exit 2).
func Usagef(format string, a ...any) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// Input marks err as caused by bad input (exit 2).
func Input(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: ExitUsage, Err: err}
}

// Fail marks err as a negative outcome or runtime failure (exit 1).
func Fail(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: ExitFail, Err: err}
}

// Negative returns a quiet exit-1 error: the command has printed its verdict.
func Negative() error {
	return &Error{Code: ExitFail, Err: errors.New("negative result"), Quiet: true}
}

// WithHint attaches a hint line to err, keeping its exit code.
func WithHint(err error, hint string) error {
	var ce *Error
	if errors.As(err, &ce) {
		c := *ce
		c.Hint = hint
		return &c
	}
	return &Error{Code: ExitFail, Err: err, Hint: hint}
}

// errHelp is returned by Parse when -h or --help was given.
var errHelp = errors.New("help requested")

// Main runs the command tree with args (without the program name) and
// returns the process exit code.
func Main(root *Command, args []string, env *Env) int {
	cmd, path, rest := resolve(root, args)
	if cmd.Run == nil {
		// A noun without a verb, or an unknown verb.
		if len(rest) > 0 && rest[0] != "-h" && rest[0] != "--help" && rest[0] != "help" {
			fmt.Fprintf(env.Stderr, "%s: error: unknown command %q\n", env.program(), strings.Join(append(path, rest[0]), " "))
			fmt.Fprintf(env.Stderr, "%s: hint: run '%s --help' for the list of commands\n", env.program(), strings.Join(path, " "))
			return ExitUsage
		}
		w, code := env.Stdout, ExitOK
		if len(rest) == 0 {
			// A noun alone ("dance id") is a usage error: help goes to stderr.
			w, code = env.Stderr, ExitUsage
		}
		printNounHelp(w, cmd, path)
		return code
	}
	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	if cmd.Config {
		fs.String(ConfigFlag, "", "read flags from `FILE` of \"key = value\" lines (see CONFIGURATION FILE); the command line overrides it")
	}
	pos, err := Parse(fs, rest)
	if errors.Is(err, errHelp) {
		PrintHelp(env.Stdout, cmd, fs, path)
		return ExitOK
	}
	if err == nil && cmd.Config {
		err = loadConfig(env, fs)
	}
	if err == nil && cmd.NoArgs && len(pos) > 0 {
		err = Usagef("unexpected argument %q", pos[0])
	}
	if err == nil {
		err = cmd.Run(env, fs, pos)
	}
	return Report(env, err, path)
}

// Report prints err in the project's format and returns the exit code.
func Report(env *Env, err error, path []string) int {
	if err == nil {
		return ExitOK
	}
	code := ExitFail
	var ce *Error
	if errors.As(err, &ce) {
		code = ce.Code
		if ce.Quiet {
			return code
		}
	}
	fmt.Fprintf(env.Stderr, "%s: error: %s\n", env.program(), oneLine(err.Error()))
	if ce != nil && ce.Hint != "" {
		fmt.Fprintf(env.Stderr, "%s: hint: %s\n", env.program(), ce.Hint)
	} else if code == ExitUsage && ce != nil && isFlagError(ce) && len(path) > 0 {
		fmt.Fprintf(env.Stderr, "%s: hint: run '%s --help'\n", env.program(), strings.Join(path, " "))
	}
	return code
}

func isFlagError(e *Error) bool {
	var fe *flagError
	return errors.As(e.Err, &fe)
}

type flagError struct{ msg string }

func (f *flagError) Error() string { return f.msg }

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func resolve(root *Command, args []string) (*Command, []string, []string) {
	cmd := root
	path := []string{root.Name}
	if len(args) > 0 && args[0] == "--version" && root.find("version") != nil {
		// "prog --version" is "prog version", as most tools accept.
		args = append([]string{"version"}, args[1:]...)
	}
	for len(args) > 0 && cmd.Run == nil {
		next := cmd.find(args[0])
		if next == nil {
			break
		}
		cmd = next
		path = append(path, next.Name)
		args = args[1:]
	}
	return cmd, path, args
}

// find returns the subcommand called name, or nil.
func (c *Command) find(name string) *Command {
	for _, s := range c.Sub {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Parse parses flags that may appear before, between or after positional
// arguments; "--" ends flag parsing. It returns the positional arguments.
// A lone "-" is a positional argument (stdin or stdout).
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		for _, a := range args {
			if a == "--" {
				break
			}
			if a == "-h" || a == "--help" || a == "-help" {
				return nil, errHelp
			}
		}
		if err := fs.Parse(args); err != nil {
			return nil, &Error{Code: ExitUsage, Err: &flagError{cleanFlagErr(err)}}
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			// fs.Parse consumed "--": everything after it is positional.
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func cleanFlagErr(err error) string {
	s := err.Error()
	s = strings.Replace(s, "flag provided but not defined: -", "unknown flag --", 1)
	return s
}

// PrintHelp writes a leaf command's help: synopsis, description, flags,
// examples and exit codes.
func PrintHelp(w io.Writer, cmd *Command, fs *flag.FlagSet, path []string) {
	usage := cmd.Usage
	if usage == "" {
		usage = strings.Join(path, " ") + " [flags]"
	}
	fmt.Fprintf(w, "USAGE\n  %s\n", usage)
	if cmd.Summary != "" || cmd.Description != "" {
		fmt.Fprintf(w, "\nDESCRIPTION\n")
		if cmd.Summary != "" {
			fmt.Fprintf(w, "  %s\n", cmd.Summary)
		}
		if cmd.Description != "" {
			if cmd.Summary != "" {
				fmt.Fprintln(w)
			}
			for _, l := range strings.Split(strings.TrimRight(cmd.Description, "\n"), "\n") {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
	}
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) > 0 {
		fmt.Fprintf(w, "\nFLAGS\n")
		sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
		for _, f := range flags {
			name, usage := flag.UnquoteUsage(f)
			head := "--" + f.Name
			if name != "" {
				head += " " + name
			}
			fmt.Fprintf(w, "  %s\n", head)
			line := usage
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
				line += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
	if cmd.Config {
		fmt.Fprintf(w, "\nCONFIGURATION FILE\n")
		for _, l := range strings.Split(ConfigHelp, "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if len(cmd.Examples) > 0 {
		fmt.Fprintf(w, "\nEXAMPLES\n")
		for _, e := range cmd.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	codes := cmd.ExitCodes
	if codes == nil {
		codes = []string{"0  success", "1  failure", "2  bad usage or bad input"}
	}
	fmt.Fprintf(w, "\nEXIT CODES\n")
	for _, c := range codes {
		fmt.Fprintf(w, "  %s\n", c)
	}
}

func printNounHelp(w io.Writer, cmd *Command, path []string) {
	fmt.Fprintf(w, "USAGE\n  %s COMMAND [flags]\n", strings.Join(path, " "))
	if cmd.Description != "" {
		fmt.Fprintf(w, "\n")
		for _, l := range strings.Split(strings.TrimRight(cmd.Description, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	fmt.Fprintf(w, "\nCOMMANDS\n")
	width := 0
	for _, s := range cmd.Sub {
		if len(s.Name) > width {
			width = len(s.Name)
		}
	}
	for _, s := range cmd.Sub {
		fmt.Fprintf(w, "  %-*s  %s\n", width, s.Name, s.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags, examples and exit codes.\n", strings.Join(path, " "))
}

// StringList is a repeatable string flag (--resolver A --resolver B).
type StringList []string

func (s *StringList) String() string { return strings.Join(*s, ",") }

// Set appends v.
func (s *StringList) Set(v string) error { *s = append(*s, v); return nil }

// InputName is how messages name an input file: "stdin" for "-".
func InputName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}

// ReadInput reads a whole file, or stdin for "-". The error names the file
// (InputName).
func ReadInput(env *Env, name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", InputName(name), err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w", name, pe.Err)
		}
		return nil, err
	}
	return b, nil
}
