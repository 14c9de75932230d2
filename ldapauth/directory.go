package ldapauth

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Limits of a directory file.
const (
	// MaxDirectoryEntries bounds the entries ParseLDIF takes.
	MaxDirectoryEntries = 100000
	// maxLDIFLine bounds one line of an LDIF file.
	maxLDIFLine = 64 << 10
)

// Entry is one directory entry: its DN and its attributes.
type Entry struct {
	DN    string
	norm  string // normalized DN
	attrs []Attr // as written, in order
	index map[string]int
}

// Attr is an attribute of an entry: its type as written and its values.
type Attr struct {
	Type   string
	Values []string
}

func (e *Entry) values(key string) []string {
	if i, ok := e.index[key]; ok {
		return e.attrs[i].Values
	}
	return nil
}

func (e *Entry) add(typ, val string) {
	k := attrKey(typ)
	if i, ok := e.index[k]; ok {
		e.attrs[i].Values = append(e.attrs[i].Values, val)
		return
	}
	e.index[k] = len(e.attrs)
	e.attrs = append(e.attrs, Attr{Type: typ, Values: []string{val}})
}

// Directory is a small read-only directory: the entries an LDIF file
// lists. It is safe for concurrent use.
type Directory struct {
	entries []*Entry
	byDN    map[string]*Entry
}

// LDIFError says where an LDIF file is wrong.
type LDIFError struct {
	Line   int
	Reason string
}

func (e *LDIFError) Error() string { return fmt.Sprintf("ldif: line %d: %s", e.Line, e.Reason) }

// ParseLDIF reads a directory in the LDIF content form (RFC 2849): entries
// separated by blank lines, each "dn:" then "type: value" lines ("type::
// base64" for other values), long lines folded with a leading space,
// comments starting with "#". Change records, URL values ("type:<") and
// duplicate DNs are refused.
func ParseLDIF(r io.Reader) (*Directory, error) {
	d := &Directory{byDN: map[string]*Entry{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLDIFLine)
	var lines []string // the unfolded lines of the current record
	var start, n int
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		err := d.addRecord(lines, start)
		lines = lines[:0]
		return err
	}
	for sc.Scan() {
		n++
		l := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case l == "":
			if err := flush(); err != nil {
				return nil, err
			}
		case strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, " "):
			if len(lines) == 0 {
				return nil, &LDIFError{Line: n, Reason: "continuation line without a line to continue"}
			}
			lines[len(lines)-1] += l[1:]
		default:
			if len(lines) == 0 {
				start = n
			}
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &LDIFError{Line: n + 1, Reason: err.Error()}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Directory) addRecord(lines []string, line int) error {
	if len(lines) > 0 && strings.HasPrefix(strings.ToLower(lines[0]), "version:") {
		lines = lines[1:]
		if len(lines) == 0 {
			return nil
		}
	}
	typ, dn, err := ldifLine(lines[0])
	if err != nil {
		return &LDIFError{Line: line, Reason: err.Error()}
	}
	if !strings.EqualFold(typ, "dn") {
		return &LDIFError{Line: line, Reason: fmt.Sprintf("record starts with %q, want dn", typ)}
	}
	norm, err := normalizeDN(dn)
	if err != nil {
		return &LDIFError{Line: line, Reason: err.Error()}
	}
	if d.byDN[norm] != nil {
		return &LDIFError{Line: line, Reason: fmt.Sprintf("duplicate dn %q", dn)}
	}
	if len(d.entries) >= MaxDirectoryEntries {
		return &LDIFError{Line: line, Reason: fmt.Sprintf("more than %d entries", MaxDirectoryEntries)}
	}
	e := &Entry{DN: dn, norm: norm, index: map[string]int{}}
	for _, l := range lines[1:] {
		typ, val, err := ldifLine(l)
		if err != nil {
			return &LDIFError{Line: line, Reason: err.Error()}
		}
		if strings.EqualFold(typ, "changetype") {
			return &LDIFError{Line: line, Reason: "change records are not a directory"}
		}
		e.add(typ, val)
	}
	d.entries = append(d.entries, e)
	d.byDN[norm] = e
	return nil
}

// ldifLine splits "type: value" or "type:: base64".
func ldifLine(l string) (string, string, error) {
	i := strings.IndexByte(l, ':')
	if i <= 0 {
		return "", "", fmt.Errorf("line %.40q has no type", l)
	}
	typ, rest := l[:i], l[i+1:]
	switch {
	case strings.HasPrefix(rest, ":"):
		v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest[1:]))
		if err != nil {
			return "", "", fmt.Errorf("%s: bad base64: %v", typ, err)
		}
		return typ, string(v), nil
	case strings.HasPrefix(rest, "<"):
		return "", "", fmt.Errorf("%s: URL values are not read", typ)
	}
	return typ, strings.TrimLeft(rest, " "), nil
}

// Entries returns the number of entries.
func (d *Directory) Entries() int { return len(d.entries) }

// Lookup returns the entry with the DN, or nil.
func (d *Directory) Lookup(dn string) *Entry {
	n, err := normalizeDN(dn)
	if err != nil {
		return nil
	}
	return d.byDN[n]
}

// Search scopes (RFC 4511 §4.5.1.2).
const (
	scopeBase = 0
	scopeOne  = 1
	scopeSub  = 2
)

// under reports whether the normalized DN n is in scope of base.
func under(n, base string, scope int64) bool {
	switch scope {
	case scopeBase:
		return n == base
	case scopeOne:
		return parentDN(n) == base && n != base
	case scopeSub:
		return base == "" || n == base || strings.HasSuffix(n, ","+base)
	}
	return false
}

// parentDN is the normalized DN less its first RDN.
func parentDN(n string) string {
	if i := indexUnescaped(n, ','); i >= 0 {
		return n[i+1:]
	}
	return ""
}

// normalizeDN returns the form in which DNs are compared: RDNs split at
// unescaped commas, spaces around them and around "=" and "+" dropped,
// attribute types and values in lower case (caseIgnoreMatch, as for every
// attribute here). Escapes stay as written but with hex in lower case; a
// value written with and without an escape of a plain character compares
// unequal, a simplification of RFC 4514 that a directory file written one
// way avoids.
func normalizeDN(dn string) (string, error) {
	dn = strings.TrimSpace(dn)
	if dn == "" {
		return "", nil
	}
	var out []string
	for _, rdn := range splitUnescaped(dn, ',') {
		var avas []string
		for _, ava := range splitUnescaped(rdn, '+') {
			i := strings.IndexByte(ava, '=')
			if i <= 0 {
				return "", fmt.Errorf("dn %q: %q is not type=value", dn, ava)
			}
			typ := strings.ToLower(strings.TrimSpace(ava[:i]))
			val := strings.TrimSpace(ava[i+1:])
			if typ == "" || val == "" {
				return "", fmt.Errorf("dn %q: empty type or value in %q", dn, ava)
			}
			avas = append(avas, typ+"="+foldValue(val))
		}
		out = append(out, strings.Join(avas, "+"))
	}
	return strings.Join(out, ","), nil
}

func indexUnescaped(s string, sep byte) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			return i
		}
	}
	return -1
}

func splitUnescaped(s string, sep byte) []string {
	var out []string
	for {
		i := indexUnescaped(s, sep)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// escapeDNValue escapes an attribute value for a DN string (RFC 4514
// §2.4).
func escapeDNValue(v string) string {
	var b bytes.Buffer
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString(`\00`)
		case (c == ' ' || c == '#') && i == 0, c == ' ' && i == len(v)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
