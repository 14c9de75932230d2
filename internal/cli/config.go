package cli

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// ConfigFlag is the flag that Command.Config adds: --config FILE.
const ConfigFlag = "config"

// ConfigHelp describes the configuration file; PrintHelp shows it for
// commands with Command.Config.
const ConfigHelp = `--config FILE reads flags from FILE, one "key = value" a line, each key a
flag name without its dashes ("listen = 127.0.0.1:8443"). A repeatable flag
takes one line per value; a boolean takes true or false. Blank lines and lines
starting with "#" are ignored. A value may be double-quoted (Go syntax) to keep
spaces or a "#"; a value ${NAME} is the environment variable NAME, which must
be set (keep secrets out of the file). Flags on the command line override the
file: a repeatable flag given there replaces all of the file's values. An
unknown key, a line without "=" or a bad value is an error naming its line.
The file is read at start only: SIGHUP reloads the files its keys name, not
the file itself.`

// envRef is a value that names an environment variable.
var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// ConfigError is a bad line of a configuration file.
type ConfigError struct {
	File string
	Line int
	Key  string // empty when the line has none
	Err  error
}

func (e *ConfigError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Key, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// ConfigEntry is one "key = value" line of a configuration file.
type ConfigEntry struct {
	Line       int
	Key, Value string
}

// ParseConfig reads "key = value" lines (see ConfigHelp); file names the
// input in errors and lookup resolves ${NAME} values (nil: os.LookupEnv).
// It checks the syntax only; ApplyConfig checks the keys.
func ParseConfig(file string, data []byte, lookup func(string) (string, bool)) ([]ConfigEntry, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var out []ConfigEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, &ConfigError{File: file, Line: n, Err: fmt.Errorf("want key = value, got %q", trimForError(line))}
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" || strings.HasPrefix(k, "-") || strings.ContainsAny(k, " \t") {
			return nil, &ConfigError{File: file, Line: n, Err: fmt.Errorf("bad key %q (a flag name without dashes)", trimForError(k))}
		}
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				return nil, &ConfigError{File: file, Line: n, Key: k, Err: fmt.Errorf("bad quoted value: %v", err)}
			}
			v = u
		} else if m := envRef.FindStringSubmatch(v); m != nil {
			ev, ok := lookup(m[1])
			if !ok {
				return nil, &ConfigError{File: file, Line: n, Key: k, Err: fmt.Errorf("environment variable %s is not set", m[1])}
			}
			v = ev
		}
		out = append(out, ConfigEntry{Line: n, Key: k, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

func trimForError(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// ApplyConfig sets the flags of fs from the entries of a configuration
// file, except the flags set on the command line (fs already parsed),
// which override the file. Keys must be flags of fs; "config" itself and
// "help" are refused.
func ApplyConfig(fs *flag.FlagSet, file string, entries []ConfigEntry) error {
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	for _, e := range entries {
		f := fs.Lookup(e.Key)
		if f == nil || e.Key == ConfigFlag {
			return &ConfigError{File: file, Line: e.Line, Key: e.Key, Err: fmt.Errorf("unknown key (not a flag of %s)", fs.Name())}
		}
		if onCommandLine[e.Key] {
			continue
		}
		if err := fs.Set(e.Key, e.Value); err != nil {
			return &ConfigError{File: file, Line: e.Line, Key: e.Key, Err: err}
		}
	}
	return nil
}

// loadConfig applies the file named by the --config flag of fs, if any.
func loadConfig(env *Env, fs *flag.FlagSet) error {
	f := fs.Lookup(ConfigFlag)
	if f == nil || f.Value.String() == "" {
		return nil
	}
	file := f.Value.String()
	data, err := ReadInput(env, file)
	if err != nil {
		return Input(fmt.Errorf("--config: %w", err))
	}
	entries, err := ParseConfig(file, data, env.LookupEnv)
	if err != nil {
		return Input(err)
	}
	return Input(ApplyConfig(fs, file, entries))
}
