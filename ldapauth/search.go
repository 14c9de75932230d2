package ldapauth

import "strings"

// searchRequest is a decoded SearchRequest (RFC 4511 §4.5.1).
type searchRequest struct {
	base      string
	scope     int64
	sizeLimit int64
	typesOnly bool
	filter    *filter
	attrs     []string
}

func decodeSearch(op element) (*searchRequest, error) {
	f, err := op.children()
	if err != nil {
		return nil, err
	}
	if len(f) != 8 {
		return nil, protoErr("SearchRequest of %d elements", len(f))
	}
	want := []byte{tagOctetString, tagEnumerated, tagEnumerated, tagInteger, tagInteger, tagBoolean}
	for i, t := range want {
		if err := f[i].expect(t, "SearchRequest"); err != nil {
			return nil, err
		}
	}
	r := &searchRequest{base: string(f[0].content)}
	if r.scope, err = f[1].integer("scope"); err != nil {
		return nil, err
	}
	if r.scope < scopeBase || r.scope > scopeSub {
		return nil, protoErr("scope %d", r.scope)
	}
	if _, err := f[2].integer("derefAliases"); err != nil {
		return nil, err
	}
	if r.sizeLimit, err = f[3].integer("sizeLimit"); err != nil {
		return nil, err
	}
	if _, err := f[4].integer("timeLimit"); err != nil {
		return nil, err
	}
	if r.sizeLimit < 0 {
		return nil, protoErr("negative sizeLimit")
	}
	if r.typesOnly, err = f[5].boolean("typesOnly"); err != nil {
		return nil, err
	}
	if r.filter, err = decodeFilter(f[6], 0); err != nil {
		return nil, err
	}
	if err := f[7].expect(tagSequence, "attributes"); err != nil {
		return nil, err
	}
	as, err := f[7].children()
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if err := a.expect(tagOctetString, "attribute selector"); err != nil {
			return nil, err
		}
		r.attrs = append(r.attrs, string(a.content))
	}
	return r, nil
}

// rootDSE is the entry at the empty DN (RFC 4512 §5.1): what the server
// supports.
func (s *Server) rootDSE() *Entry {
	e := &Entry{index: map[string]int{}}
	e.add("objectClass", "top")
	for _, d := range s.domains {
		e.add("namingContexts", d.base)
	}
	e.add("supportedLDAPVersion", "3")
	e.add("supportedSASLMechanisms", MechExternal)
	e.add("supportedExtension", OIDWhoAmI)
	e.add("supportedExtension", OIDStartTLS)
	return e
}

// search answers a SearchRequest from the directory.
func (c *session) search(req *request) bool {
	r, err := decodeSearch(req.op)
	if err != nil {
		c.disconnect(closeProtocol, ResultProtocolError, "malformed search", err)
		return false
	}
	done := func(code ResultCode, diag string) bool {
		return c.send(req.id, encResult(opSearchDone, code, "", diag))
	}
	base, err := normalizeDN(r.base)
	if err != nil {
		return done(ResultNoSuchObject, "")
	}
	if base == "" && r.scope == scopeBase {
		// The root DSE is readable before a bind (RFC 4512 §5.1).
		if e := c.s.rootDSE(); r.filter.match(e) == triTrue {
			if !c.send(req.id, encEntry(e, r)) {
				return false
			}
		}
		return done(ResultSuccess, "")
	}
	if c.id == nil && !c.s.cfg.AllowAnonymous {
		return done(ResultInsufficientAccessRights, "bind with SASL EXTERNAL first")
	}
	if !c.s.known(base) {
		return done(ResultNoSuchObject, "")
	}
	limit := int64(c.s.cfg.MaxResults)
	if r.sizeLimit > 0 && r.sizeLimit < limit {
		limit = r.sizeLimit
	}
	var n int64
	for _, e := range c.s.dir.entries {
		if !under(e.norm, base, r.scope) || r.filter.match(e) != triTrue {
			continue
		}
		if n == limit {
			return done(ResultSizeLimitExceeded, "")
		}
		if !c.send(req.id, encEntry(e, r)) {
			return false
		}
		n++
	}
	return done(ResultSuccess, "")
}

// known reports whether a normalized DN is an entry of the directory or
// the base of a served domain (or above one: "dc=com").
func (s *Server) known(n string) bool {
	if n == "" || s.dir.byDN[n] != nil {
		return true
	}
	for _, d := range s.domains {
		if d.norm == n || strings.HasSuffix(d.norm, ","+n) {
			return true
		}
	}
	return false
}

// encEntry encodes a SearchResultEntry with the attributes the request
// selects (RFC 4511 §4.5.1.8): none for "1.1" alone, all user attributes
// for none or "*".
func encEntry(e *Entry, r *searchRequest) []byte {
	all := len(r.attrs) == 0
	sel := map[string]bool{}
	for _, a := range r.attrs {
		if a == "*" {
			all = true
		}
		sel[attrKey(a)] = true
	}
	var attrs [][]byte
	for _, a := range e.attrs {
		if !all && !sel[attrKey(a.Type)] {
			continue
		}
		var vals [][]byte
		if !r.typesOnly {
			for _, v := range a.Values {
				vals = append(vals, encString(tagOctetString, v))
			}
		}
		attrs = append(attrs, tlv(tagSequence, encString(tagOctetString, a.Type), tlv(tagSet, vals...)))
	}
	return tlv(opSearchEntry, encString(tagOctetString, e.DN), tlv(tagSequence, attrs...))
}
