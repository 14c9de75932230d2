package ldapauth

import (
	"strings"
)

// Filter choices (RFC 4511 §4.5.1.7): context tags, constructed unless
// noted.
const (
	filterAnd        = classContext | constructed | 0
	filterOr         = classContext | constructed | 1
	filterNot        = classContext | constructed | 2
	filterEquality   = classContext | constructed | 3
	filterSubstrings = classContext | constructed | 4
	filterGE         = classContext | constructed | 5
	filterLE         = classContext | constructed | 6
	filterPresent    = classContext | 7 // AttributeDescription, primitive
	filterApprox     = classContext | constructed | 8
	filterExtensible = classContext | constructed | 9
)

// Substring choices (RFC 4511 §4.5.1.7.2).
const (
	subInitial = classContext | 0
	subAny     = classContext | 1
	subFinal   = classContext | 2
)

// filter is a decoded search filter.
type filter struct {
	kind     byte
	attr     string    // lower case
	value    string    // equality, ordering, approx
	subs     []subPart // substrings
	children []*filter // and, or; not has one
}

type subPart struct {
	kind  byte
	value string
}

// decodeFilter reads a Filter, at most maxDepth levels deep.
func decodeFilter(e element, depth int) (*filter, error) {
	if depth > maxDepth {
		return nil, protoErr("filter nested over %d levels", maxDepth)
	}
	f := &filter{kind: e.tag}
	switch e.tag {
	case filterAnd, filterOr:
		cs, err := e.children()
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			cf, err := decodeFilter(c, depth+1)
			if err != nil {
				return nil, err
			}
			f.children = append(f.children, cf)
		}
	case filterNot:
		cs, err := e.children()
		if err != nil {
			return nil, err
		}
		if len(cs) != 1 {
			return nil, protoErr("not filter of %d elements", len(cs))
		}
		cf, err := decodeFilter(cs[0], depth+1)
		if err != nil {
			return nil, err
		}
		f.children = []*filter{cf}
	case filterEquality, filterGE, filterLE, filterApprox:
		cs, err := e.children()
		if err != nil {
			return nil, err
		}
		if len(cs) != 2 || cs[0].tag != tagOctetString || cs[1].tag != tagOctetString {
			return nil, protoErr("malformed AttributeValueAssertion")
		}
		f.attr, f.value = attrKey(string(cs[0].content)), string(cs[1].content)
	case filterSubstrings:
		cs, err := e.children()
		if err != nil {
			return nil, err
		}
		if len(cs) != 2 || cs[0].tag != tagOctetString || cs[1].tag != tagSequence {
			return nil, protoErr("malformed SubstringFilter")
		}
		f.attr = attrKey(string(cs[0].content))
		parts, err := cs[1].children()
		if err != nil {
			return nil, err
		}
		if len(parts) == 0 {
			return nil, protoErr("SubstringFilter without substrings")
		}
		for i, p := range parts {
			switch {
			case p.tag == subInitial && i == 0, p.tag == subAny, p.tag == subFinal && i == len(parts)-1:
			default:
				return nil, protoErr("SubstringFilter: substring 0x%02x at %d", p.tag, i)
			}
			f.subs = append(f.subs, subPart{kind: p.tag, value: string(p.content)})
		}
	case filterPresent:
		f.attr = attrKey(string(e.content))
	case filterExtensible:
		// Matching rules are not implemented: the filter evaluates to
		// Undefined (RFC 4511 §4.5.1.7.7), which matches nothing.
		if !e.constructed() {
			return nil, protoErr("malformed MatchingRuleAssertion")
		}
	default:
		return nil, protoErr("unknown filter choice 0x%02x", e.tag)
	}
	return f, nil
}

// attrKey is the form in which attribute descriptions are compared: lower
// case, options dropped ("cn;lang-en" is "cn").
func attrKey(s string) string {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(s)
}

// tri is the three-valued result of a filter (RFC 4511 §4.5.1.7).
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

// match evaluates f on an entry. Every attribute is compared as
// caseIgnoreMatch would (after case folding and with insignificant spaces
// collapsed); the directory holds names, mail addresses and the like.
func (f *filter) match(e *Entry) tri {
	switch f.kind {
	case filterAnd:
		r := triTrue
		for _, c := range f.children {
			switch c.match(e) {
			case triFalse:
				return triFalse
			case triUndefined:
				r = triUndefined
			}
		}
		return r
	case filterOr:
		r := triFalse
		for _, c := range f.children {
			switch c.match(e) {
			case triTrue:
				return triTrue
			case triUndefined:
				r = triUndefined
			}
		}
		return r
	case filterNot:
		switch f.children[0].match(e) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case filterPresent:
		if f.attr == "objectclass" || len(e.values(f.attr)) > 0 {
			return triTrue
		}
		return triFalse
	case filterEquality, filterApprox, filterGE, filterLE:
		vals := e.values(f.attr)
		want := foldValue(f.value)
		for _, v := range vals {
			c := strings.Compare(foldValue(v), want)
			if f.kind == filterGE && c >= 0 || f.kind == filterLE && c <= 0 || c == 0 && (f.kind == filterEquality || f.kind == filterApprox) {
				return triTrue
			}
		}
		return triFalse
	case filterSubstrings:
		for _, v := range e.values(f.attr) {
			if f.substringMatch(foldValue(v)) {
				return triTrue
			}
		}
		return triFalse
	}
	return triUndefined
}

func (f *filter) substringMatch(v string) bool {
	for i, p := range f.subs {
		s := foldValue(p.value)
		switch {
		case p.kind == subInitial:
			if !strings.HasPrefix(v, s) {
				return false
			}
			v = v[len(s):]
		case p.kind == subFinal && i == len(f.subs)-1:
			return strings.HasSuffix(v, s)
		default:
			j := strings.Index(v, s)
			if j < 0 {
				return false
			}
			v = v[j+len(s):]
		}
	}
	return true
}

// foldValue prepares a value for caseIgnoreMatch (RFC 4517 §4.2.11, with
// RFC 4518's insignificant space handling simplified to trimming and
// collapsing runs of spaces).
func foldValue(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}
