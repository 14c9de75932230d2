package quickstart

import (
	"fmt"
	"io"
	"strings"
)

// printer writes the step-by-step report. Details and by-hand commands are
// left out when quiet.
type printer struct {
	w       io.Writer
	quiet   bool
	program string
}

// step starts step n.
func (p *printer) step(n int, title string) {
	fmt.Fprintf(p.w, "\n%d. %s\n", n, title)
}

// line prints one detail line under the current step.
func (p *printer) line(format string, a ...any) {
	if p.quiet {
		return
	}
	fmt.Fprintf(p.w, "   "+format+"\n", a...)
}

// verdict prints a line that says whether something behaved as expected;
// it is printed even when quiet.
func (p *printer) verdict(format string, a ...any) {
	fmt.Fprintf(p.w, "   "+format+"\n", a...)
}

// partial prints without a newline (progress); quiet mode too.
func (p *printer) partial(format string, a ...any) {
	fmt.Fprintf(p.w, format, a...)
}

// dance prints a dance command line that does the step by hand.
func (p *printer) dance(args ...string) {
	p.cmd(append([]string{p.program}, args...)...)
}

// cmd prints any command line, its arguments quoted for a POSIX shell.
func (p *printer) cmd(args ...string) {
	if p.quiet {
		return
	}
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	fmt.Fprintf(p.w, "   $ %s\n", strings.Join(q, " "))
}

// shell prints a shell command line as it is (a pipeline).
func (p *printer) shell(line string) {
	if p.quiet {
		return
	}
	fmt.Fprintf(p.w, "   $ %s\n", line)
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// characters that are safe bare.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=,+%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// short abbreviates a long hex string for display.
func short(s string) string {
	const keep = 12
	if len(s) <= 2*keep {
		return s
	}
	return s[:keep] + "…"
}
