// Package tsigkey reads and writes TSIG keys (RFC 8945) in the BIND key-file
// syntax that nsupdate -k, named and knotc understand:
//
//	key "update.example.test." {
//		algorithm hmac-sha256;
//		secret "base64...";
//	};
//
// and provides a dns.TsigProvider that only accepts the HMAC algorithms this
// project considers strong enough: hmac-sha256, hmac-sha384 and hmac-sha512
// (HMAC-MD5 and HMAC-SHA1 are refused, RFC 8945 §6 ranks them as legacy).
//
// Start with Generate, Parse and NewProvider.
package tsigkey

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"
	"unicode"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/atomicfile"
)

// Algorithm names as written in key files (without the trailing dot).
const (
	HMACSHA256 = "hmac-sha256"
	HMACSHA384 = "hmac-sha384"
	HMACSHA512 = "hmac-sha512"
)

// ErrAlgorithm is returned for a TSIG algorithm this package refuses.
var ErrAlgorithm = errors.New("unsupported TSIG algorithm")

// Key is one TSIG key.
type Key struct {
	// Name is the key name, a fully qualified domain name in lower case.
	Name string
	// Algorithm is one of HMACSHA256, HMACSHA384, HMACSHA512.
	Algorithm string
	// Secret is the shared secret.
	Secret []byte
}

// algorithms maps key-file algorithm names to the TSIG algorithm domain
// names (RFC 8945 §6) and hash constructors.
var algorithms = map[string]struct {
	wire string
	h    func() hash.Hash
	size int
}{
	HMACSHA256: {dns.HmacSHA256, sha256.New, sha256.Size},
	HMACSHA384: {dns.HmacSHA384, sha512.New384, sha512.Size384},
	HMACSHA512: {dns.HmacSHA512, sha512.New, sha512.Size},
}

// normalizeAlgorithm accepts "hmac-sha256", "HMAC-SHA256." and returns the
// key-file spelling.
func normalizeAlgorithm(s string) (string, error) {
	a := strings.TrimSuffix(strings.ToLower(s), ".")
	if _, ok := algorithms[a]; !ok {
		return "", fmt.Errorf("%w %q (want %s, %s or %s)", ErrAlgorithm, s, HMACSHA256, HMACSHA384, HMACSHA512)
	}
	return a, nil
}

// Generate creates a key with a random secret as long as the hash output
// (RFC 8945 §6: keys shorter than the hash weaken it).
func Generate(name, algorithm string) (*Key, error) {
	a, err := normalizeAlgorithm(algorithm)
	if err != nil {
		return nil, err
	}
	if !validName(name) {
		return nil, fmt.Errorf("tsigkey: invalid key name %q", name)
	}
	secret := make([]byte, algorithms[a].size)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("tsigkey: %w", err)
	}
	return &Key{Name: dns.CanonicalName(name), Algorithm: a, Secret: secret}, nil
}

// validName accepts key names made of letters, digits, '-', '_' and dots:
// what key files and nsupdate handle without quoting trouble.
func validName(s string) bool {
	if s == "" || s == "." || len(s) > 253 {
		return false
	}
	if _, ok := dns.IsDomainName(s); !ok {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return !strings.Contains(s, "..") && !strings.HasPrefix(s, ".")
}

// WireAlgorithm is the algorithm as a domain name for TSIG records.
func (k *Key) WireAlgorithm() string { return algorithms[k.Algorithm].wire }

// Base64 is the secret in base64, as miekg/dns and key files carry it.
func (k *Key) Base64() string { return base64.StdEncoding.EncodeToString(k.Secret) }

// Marshal returns the key in BIND key-file syntax.
func (k *Key) Marshal() []byte {
	return []byte(fmt.Sprintf("key \"%s\" {\n\talgorithm %s;\n\tsecret \"%s\";\n};\n", k.Name, k.Algorithm, k.Base64()))
}

// WriteFile writes keys to name with mode 0600, refusing to overwrite.
func WriteFile(name string, ks ...*Key) error {
	var b bytes.Buffer
	for _, k := range ks {
		b.Write(k.Marshal())
	}
	if err := atomicfile.CreateFile(name, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("tsigkey: %w", err)
	}
	return nil
}

// ReadFile parses a key file. It refuses files readable by group or others.
func ReadFile(name string) ([]*Key, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("tsigkey: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("tsigkey: %s: key file is accessible by group or others (mode %v); run chmod 600", name, st.Mode().Perm())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("tsigkey: %w", err)
	}
	ks, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ks, nil
}

// ParseError reports where a key file is malformed.
type ParseError struct {
	Line   int
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("tsigkey: line %d: %s", e.Line, e.Reason)
}

type token struct {
	text   string
	quoted bool
	line   int
}

// tokenize splits BIND configuration text into words, quoted strings and the
// punctuation "{", "}" and ";". Comments (#, //, /* */) are skipped.
func tokenize(src []byte) ([]token, error) {
	var toks []token
	s := string(src)
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case unicode.IsSpace(rune(c)):
			i++
		case c == '#' || (c == '/' && i+1 < len(s) && s[i+1] == '/'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, &ParseError{line, "unterminated comment"}
			}
			line += strings.Count(s[i:i+2+end], "\n")
			i += end + 4
		case c == '{' || c == '}' || c == ';':
			toks = append(toks, token{text: string(c), line: line})
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, &ParseError{line, "unterminated string"}
			}
			toks = append(toks, token{text: s[i+1 : i+1+end], quoted: true, line: line})
			line += strings.Count(s[i+1:i+1+end], "\n")
			i += end + 2
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("{};\"", rune(s[j])) {
				j++
			}
			toks = append(toks, token{text: s[i:j], line: line})
			i = j
		}
	}
	return toks, nil
}

// Parse reads one or more key statements in BIND syntax.
func Parse(src []byte) ([]*Key, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	var ks []*Key
	seen := map[string]bool{}
	i := 0
	next := func() (token, bool) {
		if i >= len(toks) {
			return token{}, false
		}
		i++
		return toks[i-1], true
	}
	lastLine := func() int {
		if len(toks) == 0 {
			return 1
		}
		return toks[len(toks)-1].line
	}
	expect := func(want string) error {
		t, ok := next()
		if !ok {
			return &ParseError{lastLine(), fmt.Sprintf("unexpected end of file, want %q", want)}
		}
		if t.quoted || t.text != want {
			return &ParseError{t.line, fmt.Sprintf("got %q, want %q", t.text, want)}
		}
		return nil
	}
	for i < len(toks) {
		t, _ := next()
		if t.quoted || t.text != "key" {
			return nil, &ParseError{t.line, fmt.Sprintf("got %q, want \"key\"", t.text)}
		}
		nameTok, ok := next()
		if !ok || nameTok.text == "{" {
			return nil, &ParseError{t.line, "key statement without a name"}
		}
		if !validName(nameTok.text) {
			return nil, &ParseError{nameTok.line, fmt.Sprintf("invalid key name %q", nameTok.text)}
		}
		if err := expect("{"); err != nil {
			return nil, err
		}
		k := &Key{Name: dns.CanonicalName(nameTok.text)}
		var haveSecret bool
		for {
			f, ok := next()
			if !ok {
				return nil, &ParseError{lastLine(), "unterminated key statement"}
			}
			if f.text == "}" && !f.quoted {
				break
			}
			v, ok := next()
			if !ok {
				return nil, &ParseError{f.line, fmt.Sprintf("%s without a value", f.text)}
			}
			switch strings.ToLower(f.text) {
			case "algorithm":
				a, err := normalizeAlgorithm(v.text)
				if err != nil {
					return nil, &ParseError{v.line, err.Error()}
				}
				k.Algorithm = a
			case "secret":
				sec, err := base64.StdEncoding.DecodeString(v.text)
				if err != nil {
					return nil, &ParseError{v.line, "secret is not valid base64"}
				}
				if len(sec) == 0 {
					return nil, &ParseError{v.line, "empty secret"}
				}
				k.Secret = sec
				haveSecret = true
			default:
				return nil, &ParseError{f.line, fmt.Sprintf("unknown key attribute %q", f.text)}
			}
			if err := expect(";"); err != nil {
				return nil, err
			}
		}
		if err := expect(";"); err != nil {
			return nil, err
		}
		if k.Algorithm == "" {
			return nil, &ParseError{nameTok.line, fmt.Sprintf("key %s has no algorithm", k.Name)}
		}
		if !haveSecret {
			return nil, &ParseError{nameTok.line, fmt.Sprintf("key %s has no secret", k.Name)}
		}
		if seen[k.Name] {
			return nil, &ParseError{nameTok.line, fmt.Sprintf("duplicate key %s", k.Name)}
		}
		seen[k.Name] = true
		ks = append(ks, k)
	}
	if len(ks) == 0 {
		return nil, &ParseError{1, "no key statement"}
	}
	return ks, nil
}

// Provider verifies and generates TSIG MACs for a fixed set of keys. A key is
// only accepted with the algorithm it was configured with.
type Provider struct {
	keys map[string]*Key
}

var _ dns.TsigProvider = (*Provider)(nil)

// NewProvider returns a provider for ks.
func NewProvider(ks ...*Key) *Provider {
	p := &Provider{keys: make(map[string]*Key, len(ks))}
	for _, k := range ks {
		p.keys[dns.CanonicalName(k.Name)] = k
	}
	return p
}

// Key returns the key with the given name, or nil.
func (p *Provider) Key(name string) *Key { return p.keys[dns.CanonicalName(name)] }

func (p *Provider) mac(msg []byte, t *dns.TSIG) ([]byte, error) {
	k := p.keys[dns.CanonicalName(t.Hdr.Name)]
	if k == nil {
		return nil, dns.ErrSecret
	}
	if !strings.EqualFold(dns.CanonicalName(t.Algorithm), k.WireAlgorithm()) {
		return nil, dns.ErrKeyAlg
	}
	h := hmac.New(algorithms[k.Algorithm].h, k.Secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// Generate implements dns.TsigProvider.
func (p *Provider) Generate(msg []byte, t *dns.TSIG) ([]byte, error) { return p.mac(msg, t) }

// Verify implements dns.TsigProvider.
func (p *Provider) Verify(msg []byte, t *dns.TSIG) error {
	want, err := p.mac(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return dns.ErrSig
	}
	// RFC 8945 §5.2.2.1: a truncated MAC is not accepted here; full length only.
	if !hmac.Equal(got, want) {
		return dns.ErrSig
	}
	return nil
}
