package message

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dnsbound/dance/identity"
)

// URIScheme is the RFC 4501 scheme that names a signer.
const URIScheme = "dns"

// URI returns the dns: URI that names the TLSA records of name:
// "dns:NAME?type=TLSA" (RFC 4501 §3, no authority), the form Signer writes
// in x5u and kid.
func URI(name identity.Name) string { return URIScheme + ":" + name.String() + "?type=TLSA" }

// ParseURI returns the DANCE owner name a dns: URI names, under the rules
// of docs/message-identities.md: no authority (the verifier asks its own
// resolver), the name absolute and verbatim (A-labels, no percent-encoding
// or escapes), TYPE=TLSA required, CLASS=IN allowed, each once.
func ParseURI(s string) (identity.Name, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(scheme, URIScheme) {
		return identity.Name{}, errors.New("not a dns: URI")
	}
	if strings.HasPrefix(rest, "//") {
		return identity.Name{}, errors.New("a dns: URI with an authority names a DNS server to ask; the verifier asks its own")
	}
	name, query, hasQuery := strings.Cut(rest, "?")
	if strings.ContainsAny(name, "%\\#") {
		return identity.Name{}, errors.New("the name must be plain A-labels: no percent-encoding, escapes or fragment")
	}
	if !hasQuery {
		return identity.Name{}, errors.New("type=TLSA is required (RFC 4501's default type is A)")
	}
	var typ, class bool
	for _, el := range strings.Split(query, ";") {
		k, v, ok := strings.Cut(el, "=")
		if !ok {
			return identity.Name{}, fmt.Errorf("query element %q is not KEY=VALUE", el)
		}
		switch {
		case strings.EqualFold(k, "type") && !typ:
			if !strings.EqualFold(v, "TLSA") && v != "52" {
				return identity.Name{}, fmt.Errorf("type %q: the signer's key is found in TLSA records", v)
			}
			typ = true
		case strings.EqualFold(k, "class") && !class:
			if !strings.EqualFold(v, "IN") && v != "1" {
				return identity.Name{}, fmt.Errorf("class %q: only IN", v)
			}
			class = true
		default:
			return identity.Name{}, fmt.Errorf("query element %q unknown or repeated", el)
		}
	}
	if !typ {
		return identity.Name{}, errors.New("type=TLSA is required (RFC 4501's default type is A)")
	}
	n, err := identity.ParseName(name)
	if err != nil {
		return identity.Name{}, err
	}
	return n, nil
}
