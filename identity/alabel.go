package identity

import (
	"errors"
	"strings"

	"golang.org/x/net/idna"
)

// aLabelPrefix is the ACE prefix that marks an A-label (RFC 5890 §2.3.1).
const aLabelPrefix = "xn--"

var errALabel = errors.New("invalid A-label")

// decodeALabel returns the U-label of a lower-case A-label (RFC 5890
// §2.3.2.1). The Punycode decoding and the validity of the U-label (IDNA2008
// code points, NFC, hyphen, joiner and bidi rules) are idna.Lookup's; on top,
// the A-label must be exactly what ToASCII makes of its U-label (RFC 5891
// §5.4), so one U-label has one spelling in an owner name.
func decodeALabel(l string) (string, error) {
	u, err := idna.Lookup.ToUnicode(l)
	if err != nil || u == l {
		// u == l: nothing was decoded, so l was not an A-label after all.
		return "", errALabel
	}
	if a, err := idna.Lookup.ToASCII(u); err != nil || a != l {
		return "", errALabel
	}
	return u, nil
}

// ToUnicode returns the name with each A-label replaced by its U-label (RFC
// 5891 §5), for display and for the UTF-8 domain of a user identity
// (architecture §4.1.3). Other labels are returned unchanged.
func (n Name) ToUnicode() string {
	labels := strings.Split(n.s, ".")
	for i, l := range labels {
		if strings.HasPrefix(l, aLabelPrefix) {
			if u, err := decodeALabel(l); err == nil {
				labels[i] = u
			}
		}
	}
	return strings.Join(labels, ".")
}
