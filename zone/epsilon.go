package zone

import (
	"errors"

	"github.com/miekg/dns"
)

// Names next to a name in DNSSEC canonical order (RFC 4034 §6.1), for the
// NSEC records the server makes up on the fly: "white lies" (RFC 4470)
// that must not cover any name that could exist. The derivations are the
// absolute method of RFC 4471 §3.1, which respects the limits of RFC 1035
// §2.3.4 (63-octet labels, 255-octet names), so nothing a zone could hold
// lies between a name and the neighbour computed for it.

const (
	// maxNameWire is the longest name in wire form, root label included
	// (RFC 1035 §2.3.4).
	maxNameWire = 255
	// maxLabel is the longest label (RFC 1035 §2.3.4).
	maxLabel = 63
)

// errName reports a name that does not pack: never one the server holds
// or was asked about, since both come from parsed messages.
var errName = errors.New("zone: name does not pack")

// labelsOf splits a fully qualified name into its labels as octets, from
// the leftmost, lower-cased as canonical order compares them (RFC 4034
// §6.2).
func labelsOf(name string) ([][]byte, error) {
	buf := make([]byte, maxNameWire+1)
	n, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil || n > maxNameWire {
		return nil, errName
	}
	var ls [][]byte
	for off := 0; off < n && buf[off] != 0; {
		l := int(buf[off])
		label := buf[off+1 : off+1+l]
		for i, c := range label {
			if c >= 'A' && c <= 'Z' {
				label[i] = c + 'a' - 'A'
			}
		}
		ls = append(ls, label)
		off += 1 + l
	}
	return ls, nil
}

// wireLen is the wire length of a name made of labels (plus the root).
func wireLen(ls [][]byte) int {
	n := 1
	for _, l := range ls {
		n += 1 + len(l)
	}
	return n
}

// nameOf turns labels back into a fully qualified presentation name, with
// the escapes miekg/dns uses (\255 for an octet of 255).
func nameOf(ls [][]byte) (string, error) {
	if len(ls) == 0 {
		return ".", nil
	}
	buf := make([]byte, 0, wireLen(ls))
	for _, l := range ls {
		buf = append(buf, byte(len(l)))
		buf = append(buf, l...)
	}
	buf = append(buf, 0)
	s, _, err := dns.UnpackDomainName(buf, 0)
	if err != nil {
		return "", errName
	}
	return s, nil
}

// Upper-case octets sort as their lower-case forms (RFC 4034 §6.2), so a
// label octet moved into 'A'..'Z' would jump: decrementing and
// incrementing step over that range (RFC 4471 §4.2).
func decOctet(c byte) byte {
	c--
	if c >= 'A' && c <= 'Z' {
		c = 'A' - 1
	}
	return c
}

func incOctet(c byte) byte {
	c++
	if c >= 'A' && c <= 'Z' {
		c = 'Z' + 1
	}
	return c
}

// immediateSuccessor is the first name after name in canonical order: the
// next name of a compact-denial NSEC owned by name (RFC 9824 §3.1). It is
// "\000.name" while that fits; a name within two octets of the limit can
// have no descendants, so its successor is the name after its subtree
// (RFC 4471 §3.1.2).
func immediateSuccessor(name, origin string) (string, error) {
	// A presentation name is at least one octet shorter than its wire
	// form, so most names need no packing to know that the label fits.
	if len(name)+1+2 <= maxNameWire {
		return "\\000." + name, nil
	}
	ls, err := labelsOf(name)
	if err != nil {
		return "", err
	}
	if wireLen(ls)+2 <= maxNameWire {
		return "\\000." + name, nil
	}
	return afterSubtree(ls, origin)
}

// afterSubtree is the first name after name and every name below it in
// canonical order (RFC 4471 §3.1.2 without its first step): the first
// label with a zero octet appended if that fits, else the first label
// incremented, dropping trailing 255 octets; a label of nothing but 255
// octets passes the step to the parent. Past the last name of the zone
// the answer is the apex, as in the last NSEC of a chain (RFC 4034 §4.1.1).
func afterSubtree(ls [][]byte, origin string) (string, error) {
	apex, err := labelsOf(origin)
	if err != nil {
		return "", err
	}
	// Work on copies: the caller's labels stay as they were.
	cp := make([][]byte, len(ls))
	for i, l := range ls {
		cp[i] = append([]byte(nil), l...)
	}
	for ls := cp; len(ls) > len(apex); ls = ls[1:] {
		l := ls[0]
		if len(l) < maxLabel && wireLen(ls)+1 <= maxNameWire {
			ls[0] = append(l, 0)
			return nameOf(ls)
		}
		for len(l) > 0 && l[len(l)-1] == 0xff {
			l = l[:len(l)-1]
		}
		if len(l) > 0 {
			l[len(l)-1] = incOctet(l[len(l)-1])
			ls[0] = l
			return nameOf(ls)
		}
	}
	return dns.CanonicalName(origin), nil
}

// predecessor is the last name before name in canonical order, name not
// being the apex (RFC 4471 §3.1.1): the first label decremented (a
// trailing zero octet removed; the parent itself when nothing is left),
// filled with 255 octets up to the limits, then as many labels of 255
// octets in front as fit, since every name below a label sorts before the
// next label.
func predecessor(name string) (string, error) {
	ls, err := labelsOf(name)
	if err != nil || len(ls) == 0 {
		return "", errName
	}
	first := append([]byte(nil), ls[0]...)
	parent := ls[1:]
	last := len(first) - 1
	if first[last] == 0 {
		first = first[:last]
		if len(first) == 0 {
			return nameOf(parent)
		}
	} else {
		first[last] = decOctet(first[last])
		for len(first) < maxLabel && wireLen(parent)+1+len(first)+1 <= maxNameWire {
			first = append(first, 0xff)
		}
	}
	out := append([][]byte{first}, parent...)
	for room := maxNameWire - wireLen(out); room >= 2; room = maxNameWire - wireLen(out) {
		l := make([]byte, min(maxLabel, room-1))
		for i := range l {
			l[i] = 0xff
		}
		out = append([][]byte{l}, out...)
	}
	return nameOf(out)
}
