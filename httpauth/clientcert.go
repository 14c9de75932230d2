package httpauth

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Header fields of RFC 9440 §2.
const (
	// ClientCertHeader carries the end-entity certificate, DER in an
	// RFC 8941 byte sequence (RFC 9440 §2.2).
	ClientCertHeader = "Client-Cert"
	// ClientCertChainHeader carries the rest of the chain the client sent,
	// a list of byte sequences, issuer of the leaf first (RFC 9440 §2.3).
	ClientCertChainHeader = "Client-Cert-Chain"
)

// MaxChain is the most certificates a Client-Cert-Chain may list; longer
// chains are refused before any is parsed.
const MaxChain = 8

// HeaderError says why a Client-Cert or Client-Cert-Chain field was refused.
type HeaderError struct {
	Field  string
	Reason string
}

func (e *HeaderError) Error() string { return "httpauth: " + e.Field + ": " + e.Reason }

// ErrNoClientCert is returned by ParseClientCert when the request has no
// Client-Cert field.
var ErrNoClientCert = errors.New("httpauth: no Client-Cert field")

// EncodeByteSequence returns b as an RFC 8941 byte sequence (§3.3.5):
// standard base64 with padding between colons.
func EncodeByteSequence(b []byte) string {
	return ":" + base64.StdEncoding.EncodeToString(b) + ":"
}

// SetClientCert replaces the Client-Cert and Client-Cert-Chain fields of h
// with chain (leaf first, as sent in TLS): the leaf in Client-Cert, the
// others, if any, in Client-Cert-Chain (RFC 9440 §2.2, §2.3). An empty
// chain only removes the fields.
func SetClientCert(h http.Header, chain []*x509.Certificate) {
	DelClientCert(h)
	if len(chain) == 0 {
		return
	}
	cert, rest := ClientCertValues(chain)
	h.Set(ClientCertHeader, cert)
	if rest != "" {
		h.Set(ClientCertChainHeader, rest)
	}
}

// ClientCertValues returns the values of the Client-Cert and
// Client-Cert-Chain fields for chain (leaf first, as sent in TLS; RFC 9440
// §2.2, §2.3): the leaf's byte sequence, and the others' as a list, empty
// for a lone certificate. Both are empty for an empty chain.
func ClientCertValues(chain []*x509.Certificate) (cert, rest string) {
	if len(chain) == 0 {
		return "", ""
	}
	cert = EncodeByteSequence(chain[0].Raw)
	if len(chain) > 1 {
		parts := make([]string, len(chain)-1)
		for i, c := range chain[1:] {
			parts[i] = EncodeByteSequence(c.Raw)
		}
		rest = strings.Join(parts, ", ")
	}
	return cert, rest
}

// DelClientCert removes every copy of the Client-Cert and Client-Cert-Chain
// fields from h, including spellings with "_" for "-" that some backends
// (CGI, WSGI) would read as the same field.
func DelClientCert(h http.Header) {
	DelFields(h, ClientCertHeader, ClientCertChainHeader)
}

// DelFields removes from h every field whose name is the same field
// (SameFieldName) as one of names: a client must not be able to smuggle
// "Client_Cert" to a backend that folds both to CLIENT_CERT, nor
// "X-Client-Name" past a proxy configured with "X_Client_Name". Both sides
// are folded alike, so the spelling of names does not matter either.
func DelFields(h http.Header, names ...string) {
	for k := range h {
		for _, n := range names {
			if SameFieldName(k, n) {
				delete(h, k)
				break
			}
		}
	}
}

// SameFieldName reports whether a and b name the same field for some
// receiver: equal once ASCII letters are folded to one case (field names
// are case-insensitive, RFC 9110 §5.1) and "_" is taken for "-", since CGI
// and the gateways modelled on it (RFC 3875 §4.1.18: HTTP_ meta-variables
// replace "-" with "_") cannot tell the two apart. Bytes outside ASCII are
// compared as they are: they are not valid in a field name (RFC 9110
// §5.6.2 token), and no fold may make one equal to a valid name.
func SameFieldName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldFieldByte(a[i]) != foldFieldByte(b[i]) {
			return false
		}
	}
	return true
}

func foldFieldByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + ('a' - 'A')
	case c == '_':
		return '-'
	}
	return c
}

// ParseClientCert reads the Client-Cert and Client-Cert-Chain fields of h
// and returns the chain, leaf first. It returns ErrNoClientCert without a
// Client-Cert field, and a *HeaderError for a malformed field: several
// Client-Cert lines, anything but one byte sequence, parameters, bad
// base64, a certificate that does not parse, or more than MaxChain
// certificates. A Client-Cert-Chain without a Client-Cert is refused too.
func ParseClientCert(h http.Header) ([]*x509.Certificate, error) {
	leafs := h.Values(ClientCertHeader)
	chains := h.Values(ClientCertChainHeader)
	if len(leafs) == 0 {
		if len(chains) > 0 {
			return nil, &HeaderError{ClientCertChainHeader, "present without " + ClientCertHeader}
		}
		return nil, ErrNoClientCert
	}
	if len(leafs) > 1 {
		return nil, &HeaderError{ClientCertHeader, fmt.Sprintf("%d field lines, want one", len(leafs))}
	}
	der, err := parseByteSequence(strings.Trim(leafs[0], " \t"))
	if err != nil {
		return nil, &HeaderError{ClientCertHeader, err.Error()}
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, &HeaderError{ClientCertHeader, "not a certificate: " + err.Error()}
	}
	out := []*x509.Certificate{leaf}
	// Several field lines of a list combine with commas (RFC 8941 §4.2).
	var members []string
	for _, line := range chains {
		for m := range strings.SplitSeq(line, ",") {
			members = append(members, strings.Trim(m, " \t"))
			if len(members) > MaxChain {
				return nil, &HeaderError{ClientCertChainHeader, fmt.Sprintf("more than %d certificates", MaxChain)}
			}
		}
	}
	for i, m := range members {
		der, err := parseByteSequence(m)
		if err != nil {
			return nil, &HeaderError{ClientCertChainHeader, fmt.Sprintf("member %d: %v", i+1, err)}
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &HeaderError{ClientCertChainHeader, fmt.Sprintf("member %d: not a certificate: %v", i+1, err)}
		}
		out = append(out, c)
	}
	return out, nil
}

// parseByteSequence parses one RFC 8941 byte sequence (§4.2.7), nothing
// around it: RFC 9440 defines no parameters, so none are accepted.
func parseByteSequence(s string) ([]byte, error) {
	if len(s) < 2 || s[0] != ':' {
		return nil, errors.New("not a byte sequence (want :base64:)")
	}
	end := strings.IndexByte(s[1:], ':')
	if end < 0 {
		return nil, errors.New("byte sequence without its closing colon")
	}
	body, rest := s[1:1+end], s[2+end:]
	if rest != "" {
		return nil, fmt.Errorf("unexpected %q after the byte sequence", clip(rest))
	}
	if body == "" {
		return nil, errors.New("empty byte sequence")
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, fmt.Errorf("character %q not allowed in a byte sequence", c)
		}
	}
	// RFC 8941 §4.2.7: parsers SHOULD NOT fail when padding is missing.
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(body, "="))
	if err != nil {
		return nil, fmt.Errorf("bad base64: %v", err)
	}
	return b, nil
}

func clip(s string) string {
	if len(s) > 16 {
		return s[:16] + "..."
	}
	return s
}
