package tlsa

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// RR is a parsed TLSA record with the zone-file context it came with.
type RR struct {
	// Owner is the owner name as written (a bare RDATA line has none). A
	// line of a file that starts with blank space inherits the previous
	// owner, as in zone files (RFC 1035 §5.1).
	Owner string
	// TTL is the TTL as written; HasTTL says whether there was one.
	TTL    uint32
	HasTTL bool
	Record
}

// ErrSyntax is wrapped by errors for text that is not a TLSA record in
// presentation format.
var ErrSyntax = errors.New("syntax error")

// FieldError reports a usage, selector or matching type that is neither a
// number from 0 to 255 nor a mnemonic of RFC 7218.
type FieldError struct {
	Field string // "usage", "selector" or "matching type"
	Text  string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("tlsa: %s %q is neither a number from 0 to 255 nor a known mnemonic", e.Field, e.Text)
}

// ParseError places an error in a file.
type ParseError struct {
	File string
	Line int
	Err  error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, strings.TrimPrefix(e.Err.Error(), "tlsa: "))
}

func (e *ParseError) Unwrap() error { return e.Err }

// Mnemonics of RFC 7218 §2, plus the private-use code points 255.
var (
	usageByName = map[string]Usage{"pkix-ta": PKIXTA, "pkix-ee": PKIXEE, "dane-ta": DANETA, "dane-ee": DANEEE, "privcert": 255}
	selByName   = map[string]Selector{"cert": SelectorCert, "spki": SelectorSPKI, "privsel": 255}
	mtypeByName = map[string]MatchingType{"full": MatchFull, "sha2-256": MatchSHA256, "sha2-512": MatchSHA512, "privmatch": 255}
)

// ParseUsage reads a usage as a number or an RFC 7218 mnemonic
// (case-insensitive).
func ParseUsage(s string) (Usage, error) {
	v, err := parseField(s, "usage", func(n string) (uint8, bool) { u, ok := usageByName[n]; return uint8(u), ok })
	return Usage(v), err
}

// ParseSelector reads a selector as a number or an RFC 7218 mnemonic.
func ParseSelector(s string) (Selector, error) {
	v, err := parseField(s, "selector", func(n string) (uint8, bool) { u, ok := selByName[n]; return uint8(u), ok })
	return Selector(v), err
}

// ParseMatchingType reads a matching type as a number or an RFC 7218
// mnemonic.
func ParseMatchingType(s string) (MatchingType, error) {
	v, err := parseField(s, "matching type", func(n string) (uint8, bool) { u, ok := mtypeByName[n]; return uint8(u), ok })
	return MatchingType(v), err
}

func parseField(s, field string, byName func(string) (uint8, bool)) (uint8, error) {
	if v, ok := byName(strings.ToLower(s)); ok {
		return v, nil
	}
	// Accept "DANE-EE(3)" as RFC 7218 writes them, if the number agrees.
	if i := strings.IndexByte(s, '('); i > 0 && strings.HasSuffix(s, ")") {
		v, ok := byName(strings.ToLower(s[:i]))
		n, err := strconv.ParseUint(s[i+1:len(s)-1], 10, 8)
		if ok && err == nil && uint8(n) == v {
			return v, nil
		}
		return 0, &FieldError{Field: field, Text: s}
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, &FieldError{Field: field, Text: s}
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, &FieldError{Field: field, Text: s}
	}
	return uint8(n), nil
}

// DecodeData decodes certificate association data in presentation form:
// hex digits, possibly split into several fields by blank space
// (RFC 6698 §2.2), and checks it against matching type m.
func DecodeData(fields []string, m MatchingType) ([]byte, error) {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f)
	}
	s := b.String()
	if s == "" {
		return nil, &DataError{Reason: DataEmpty}
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return nil, &DataError{Reason: DataNotHex}
		}
	}
	if len(s)%2 != 0 {
		return nil, &DataError{Reason: DataOddLength, Len: len(s)}
	}
	if len(s)/2 > maxDataLen {
		return nil, &DataError{Reason: DataTooLong, Len: len(s) / 2}
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return nil, &DataError{Reason: DataNotHex}
	}
	r := Record{MatchingType: m, Data: d}
	if err := r.checkData(); err != nil {
		return nil, err
	}
	return d, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Validate reports malformed association data: empty, longer than an
// RDATA can carry, or a digest of the wrong length for its matching type
// (RFC 6698 §2.1.3). Unknown parameters are not malformed; Match ignores
// them as unusable (RFC 6698 §4.1).
func (r Record) Validate() error { return r.checkData() }

func (r Record) checkData() error {
	if len(r.Data) == 0 {
		return &DataError{Reason: DataEmpty}
	}
	if len(r.Data) > maxDataLen {
		return &DataError{Reason: DataTooLong, Len: len(r.Data)}
	}
	want := 0
	switch r.MatchingType {
	case MatchSHA256:
		want = 32
	case MatchSHA512:
		want = 64
	}
	if want != 0 && len(r.Data) != want {
		return &DataError{Reason: DataWrongLength, Len: len(r.Data), Want: want}
	}
	return nil
}

// Parse reads one TLSA record: a zone-file line
// ("owner [TTL] [IN] TLSA u s m hex", TTL and class in either order, as in
// RFC 1035 §5.1) or bare RDATA ("u s m hex"). Usage, selector and matching
// type may be numbers or RFC 7218 mnemonics ("DANE-EE SPKI SHA2-256"); the
// hex may be split by blank space or wrapped in parentheses across lines;
// ";" and "#" start comments. The RFC 3597 generic form "\# LEN HEX" is
// accepted too. Text holding more than one record is an error; use
// ParseFile for files.
func Parse(text string) (RR, error) {
	p := &parser{}
	recs, err := p.all(strings.NewReader(text), "")
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return RR{}, pe.Err
		}
		return RR{}, err
	}
	switch len(recs) {
	case 0:
		return RR{}, fmt.Errorf("tlsa: no record: %w", ErrSyntax)
	case 1:
		return recs[0], nil
	}
	return RR{}, fmt.Errorf("tlsa: %d records where one was expected: %w", len(recs), ErrSyntax)
}

// ParseFile reads every TLSA record of r, one per logical line (a record
// may continue over several lines inside parentheses). Blank lines and
// comments are skipped. Errors are *ParseError, "FILE:LINE: what is wrong",
// with file as the name.
func ParseFile(file string, r io.Reader) ([]RR, error) {
	p := &parser{}
	return p.all(r, file)
}

// maxLine bounds one physical line; a TLSA record's hex is at most
// 2*65532 digits, so anything much longer is not a record.
const maxLine = 1 << 18

type parser struct {
	prevOwner string
}

func (p *parser) all(r io.Reader, file string) ([]RR, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var (
		out      []RR
		toks     []string
		depth    int  // open parentheses
		start    int  // line where the current record started
		indented bool // the record's first line starts with blank space
		lineNo   int
		size     int // bytes in toks
	)
	fail := func(line int, err error) error {
		return &ParseError{File: file, Line: line, Err: err}
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if depth == 0 && len(toks) == 0 {
			start = lineNo
			indented = len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
		}
		fields, d, err := splitLine(line, depth)
		if err != nil {
			return nil, fail(lineNo, err)
		}
		depth = d
		toks = append(toks, fields...)
		for _, f := range fields {
			size += len(f)
		}
		if size > maxLine {
			// Parentheses must not let one record grow without bound.
			return nil, fail(start, fmt.Errorf("tlsa: record longer than %d bytes: %w", maxLine, ErrSyntax))
		}
		if depth > 0 {
			continue
		}
		if len(toks) == 0 {
			continue
		}
		rr, err := p.record(toks, indented)
		if err != nil {
			return nil, fail(start, err)
		}
		out = append(out, rr)
		toks, size = toks[:0], 0
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fail(lineNo+1, fmt.Errorf("tlsa: line longer than %d bytes: %w", maxLine, ErrSyntax))
		}
		return nil, fail(lineNo, err)
	}
	if depth > 0 {
		return nil, fail(start, fmt.Errorf("tlsa: unclosed parenthesis: %w", ErrSyntax))
	}
	return out, nil
}

// splitLine splits one physical line into fields, dropping comments and
// tracking parentheses (RFC 1035 §5.1). Quotes and escapes have no place
// in TLSA records and are rejected.
func splitLine(line string, depth int) ([]string, int, error) {
	var fields []string
	cur := -1
	flush := func(i int) {
		if cur >= 0 {
			fields = append(fields, line[cur:i])
			cur = -1
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && line[i+1] == '#':
			// The RFC 3597 generic-data marker, not a comment.
			if cur < 0 {
				cur = i
			}
			i++
		case c == ';' || c == '#':
			flush(i)
			return fields, depth, nil
		case c == ' ' || c == '\t' || c == '\r':
			flush(i)
		case c == '(':
			flush(i)
			depth++
		case c == ')':
			flush(i)
			if depth == 0 {
				return nil, 0, fmt.Errorf("tlsa: unbalanced ')': %w", ErrSyntax)
			}
			depth--
		case c == '"':
			return nil, 0, fmt.Errorf("tlsa: quoted strings are not part of a TLSA record: %w", ErrSyntax)
		case c < 0x20 || c == 0x7f:
			return nil, 0, fmt.Errorf("tlsa: control character 0x%02x: %w", c, ErrSyntax)
		default:
			if cur < 0 {
				cur = i
			}
		}
	}
	flush(len(line))
	return fields, depth, nil
}

// record turns the fields of one logical line into a record.
func (p *parser) record(toks []string, indented bool) (RR, error) {
	var rr RR
	// Find the type field; everything before it is owner, TTL and class.
	ti := -1
	for i, t := range toks {
		if strings.EqualFold(t, "TLSA") || strings.EqualFold(t, "TYPE52") {
			ti = i
			break
		}
	}
	rdata := toks
	if ti >= 0 {
		head := toks[:ti]
		rdata = toks[ti+1:]
		if !indented {
			if len(head) == 0 {
				return RR{}, fmt.Errorf("tlsa: missing owner name before TLSA: %w", ErrSyntax)
			}
			rr.Owner = head[0]
			if rr.Owner == "@" || strings.ContainsAny(rr.Owner, `\`) {
				return RR{}, fmt.Errorf("tlsa: owner %q: origins and escapes are not supported: %w", rr.Owner, ErrSyntax)
			}
			head = head[1:]
		} else {
			rr.Owner = p.prevOwner
		}
		var sawClass bool
		for _, h := range head {
			switch {
			case isDigits(h) && !rr.HasTTL:
				// TTL is an unsigned 32-bit count of seconds; RFC 2181 §8
				// caps meaningful values at 2^31-1.
				n, err := strconv.ParseUint(h, 10, 32)
				if err != nil || n > 1<<31-1 {
					return RR{}, fmt.Errorf("tlsa: TTL %q out of range: %w", h, ErrSyntax)
				}
				rr.TTL, rr.HasTTL = uint32(n), true
			case strings.EqualFold(h, "IN") && !sawClass:
				sawClass = true
			case isClass(h):
				return RR{}, fmt.Errorf("tlsa: class %s: TLSA records live in class IN: %w", h, ErrSyntax)
			default:
				return RR{}, fmt.Errorf("tlsa: unexpected field %q before TLSA: %w", h, ErrSyntax)
			}
		}
		p.prevOwner = rr.Owner
	} else if len(toks) > 0 && !isDigits(toks[0]) && !isMnemonicField(toks[0]) {
		// A zone-file line of another type, or a word we cannot place.
		return RR{}, fmt.Errorf("tlsa: %q is not a usage and no TLSA type field found: %w", toks[0], ErrSyntax)
	}
	rec, err := parseRDATA(rdata)
	if err != nil {
		return RR{}, err
	}
	rr.Record = rec
	return rr, nil
}

func isMnemonicField(s string) bool {
	s = strings.ToLower(s)
	if i := strings.IndexByte(s, '('); i > 0 {
		s = s[:i]
	}
	_, ok := usageByName[s]
	return ok || s == `\#`
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isClass(s string) bool {
	switch strings.ToUpper(s) {
	case "IN", "CH", "CS", "HS", "ANY", "NONE":
		return true
	}
	return strings.HasPrefix(strings.ToUpper(s), "CLASS")
}

// parseRDATA reads "u s m hex..." or the generic "\# LEN hex..."
// (RFC 3597 §5).
func parseRDATA(f []string) (Record, error) {
	if len(f) > 0 && f[0] == `\#` {
		return parseGeneric(f[1:])
	}
	if len(f) < 3 {
		return Record{}, fmt.Errorf("tlsa: want usage, selector, matching type and data, got %d fields: %w", len(f), ErrSyntax)
	}
	u, err := ParseUsage(f[0])
	if err != nil {
		return Record{}, err
	}
	s, err := ParseSelector(f[1])
	if err != nil {
		return Record{}, err
	}
	m, err := ParseMatchingType(f[2])
	if err != nil {
		return Record{}, err
	}
	d, err := DecodeData(f[3:], m)
	if err != nil {
		return Record{}, err
	}
	return Record{Usage: u, Selector: s, MatchingType: m, Data: d}, nil
}

func parseGeneric(f []string) (Record, error) {
	if len(f) < 1 {
		return Record{}, fmt.Errorf(`tlsa: \# without a length: %w`, ErrSyntax)
	}
	n, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil {
		return Record{}, fmt.Errorf(`tlsa: \# length %q: %w`, f[0], ErrSyntax)
	}
	s := strings.Join(f[1:], "")
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return Record{}, &DataError{Reason: DataNotHex}
		}
	}
	if len(s)%2 != 0 {
		return Record{}, &DataError{Reason: DataOddLength, Len: len(s)}
	}
	raw, _ := hex.DecodeString(s)
	if len(raw) != int(n) {
		return Record{}, fmt.Errorf(`tlsa: \# length %d but %d octets of data: %w`, n, len(raw), ErrSyntax)
	}
	return ParseRDATA(raw)
}

// ParseRDATA decodes TLSA RDATA in wire form (RFC 6698 §2.1) and checks
// its association data.
func ParseRDATA(b []byte) (Record, error) {
	if len(b) < 3 {
		return Record{}, fmt.Errorf("tlsa: RDATA of %d octets is shorter than 3: %w", len(b), ErrSyntax)
	}
	r := Record{Usage: Usage(b[0]), Selector: Selector(b[1]), MatchingType: MatchingType(b[2]), Data: append([]byte(nil), b[3:]...)}
	if err := r.checkData(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// RDATA returns the record's RDATA in wire form (RFC 6698 §2.1).
func (r Record) RDATA() []byte {
	b := make([]byte, 0, 3+len(r.Data))
	b = append(b, byte(r.Usage), byte(r.Selector), byte(r.MatchingType))
	return append(b, r.Data...)
}
