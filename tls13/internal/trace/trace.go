// Package trace reads TLS 1.3 handshake traces in the layout of RFC 8448:
// steps headed "{client}  ..." or "{server}  ...", each followed by labelled
// values "label (N octets):  hex ..." that may wrap onto indented lines. It
// exists for tests: the vectors stay as the RFC prints them, in testdata, and
// the tests look values up by step and label.
package trace

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Step is one "{who}  action" block of a trace.
type Step struct {
	Who    string // "client" or "server"
	Action string // the heading after the role, without a trailing colon
	Values map[string][]byte
	Order  []string // labels in the order they appear
}

// Trace is a parsed trace file.
type Trace struct {
	Steps []*Step
}

var (
	headRE  = regexp.MustCompile(`^   \{(client|server)\}\s+(.*)$`)
	valueRE = regexp.MustCompile(`^      ([A-Za-z][A-Za-z0-9 _-]*?) \((\d+) octets\):\s*(.*)$`)
)

// Load parses the trace file at path.
func Load(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads a trace. Every value's length is checked against the octet
// count the trace states, so a transcription slip is an error, not a wrong
// vector.
func Parse(r io.Reader) (*Trace, error) {
	t := &Trace{}
	var cur *Step
	var label string
	var want int
	var hexbuf strings.Builder
	flush := func() error {
		if label == "" {
			return nil
		}
		s := strings.ReplaceAll(hexbuf.String(), " ", "")
		if s == "(empty)" {
			s = ""
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return fmt.Errorf("trace: %q in %q: %v", label, cur.Action, err)
		}
		if len(b) != want {
			return fmt.Errorf("trace: %q in %q: %d octets, trace says %d", label, cur.Action, len(b), want)
		}
		if _, dup := cur.Values[label]; dup {
			return fmt.Errorf("trace: %q twice in %q", label, cur.Action)
		}
		cur.Values[label] = b
		cur.Order = append(cur.Order, label)
		label = ""
		hexbuf.Reset()
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	continuing := false // heading wraps onto the next line
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t")
		if m := headRE.FindStringSubmatch(line); m != nil {
			if err := flush(); err != nil {
				return nil, err
			}
			cur = &Step{Who: m[1], Action: strings.TrimSuffix(m[2], ":"), Values: map[string][]byte{}}
			t.Steps = append(t.Steps, cur)
			continuing = !strings.HasSuffix(m[2], ":") && strings.Contains(m[2], "(") && !strings.Contains(m[2], ")")
			continue
		}
		if cur == nil || line == "" || strings.HasPrefix(line, "#") {
			// Blank lines separate values and also fall where a page break
			// was removed inside one, so they end nothing by themselves.
			continue
		}
		if continuing {
			cur.Action += " " + strings.TrimSuffix(strings.TrimSpace(line), ":")
			continuing = false
			continue
		}
		if m := valueRE.FindStringSubmatch(line); m != nil {
			if err := flush(); err != nil {
				return nil, err
			}
			label = m[1]
			want, _ = strconv.Atoi(m[2])
			hexbuf.WriteString(m[3])
			continue
		}
		if label != "" && strings.HasPrefix(line, "         ") {
			hexbuf.WriteString(" " + strings.TrimSpace(line))
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return t, nil
}

// Find returns the n-th (from 0) step of who whose action starts with prefix.
func (t *Trace) Find(who, prefix string, n int) (*Step, bool) {
	for _, s := range t.Steps {
		if s.Who == who && strings.HasPrefix(s.Action, prefix) {
			if n == 0 {
				return s, true
			}
			n--
		}
	}
	return nil, false
}

// Value returns the value labelled label in the n-th step of who whose
// action starts with prefix, or an error naming what is missing.
func (t *Trace) Value(who, prefix string, n int, label string) ([]byte, error) {
	s, ok := t.Find(who, prefix, n)
	if !ok {
		return nil, fmt.Errorf("trace: no step %d {%s} %q", n, who, prefix)
	}
	v, ok := s.Values[label]
	if !ok {
		return nil, fmt.Errorf("trace: step {%s} %q has no %q", who, s.Action, label)
	}
	return v, nil
}
