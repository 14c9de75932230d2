package identity

import (
	"errors"
	"math"
	"strings"
	"unicode/utf8"
)

// Punycode parameters (RFC 3492 §5).
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
)

var errPunycode = errors.New("invalid punycode")

// punycodeDecode decodes the part of an A-label after "xn--" (RFC 3492
// §6.2). It fails on anything but a well-formed encoding of at least one
// non-ASCII code point, because an A-label with none is not an A-label
// (RFC 5890 §2.3.2.1).
func punycodeDecode(s string) (string, error) {
	var out []rune
	pos := 0
	if b := strings.LastIndexByte(s, '-'); b > 0 {
		for i := 0; i < b; i++ {
			if s[i] >= 0x80 {
				return "", errPunycode
			}
			out = append(out, rune(s[i]))
		}
		pos = b + 1
	}
	n, i, bias := int32(pcInitialN), int32(0), int32(pcInitialBias)
	inserted := false
	for pos < len(s) {
		oldi, w := i, int32(1)
		for k := int32(pcBase); ; k += pcBase {
			if pos >= len(s) {
				return "", errPunycode
			}
			d := punycodeDigit(s[pos])
			pos++
			if d < 0 {
				return "", errPunycode
			}
			if d > (math.MaxInt32-i)/w {
				return "", errPunycode
			}
			i += d * w
			t := k - bias
			if t < pcTMin {
				t = pcTMin
			} else if t > pcTMax {
				t = pcTMax
			}
			if d < t {
				break
			}
			if w > math.MaxInt32/(pcBase-t) {
				return "", errPunycode
			}
			w *= pcBase - t
		}
		count := int32(len(out) + 1)
		bias = punycodeAdapt(i-oldi, count, oldi == 0)
		if i/count > math.MaxInt32-n {
			return "", errPunycode
		}
		n += i / count
		i %= count
		// Below 0xA0 are ASCII and the C1 controls, which no U-label holds
		// (RFC 5892 §2.6); surrogates are not characters.
		if n < 0xA0 || n > utf8.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
			return "", errPunycode
		}
		out = append(out, 0)
		copy(out[i+1:], out[i:])
		out[i] = rune(n)
		i++
		inserted = true
	}
	if !inserted {
		return "", errPunycode
	}
	return string(out), nil
}

func punycodeDigit(c byte) int32 {
	switch {
	case c >= '0' && c <= '9':
		return int32(c-'0') + 26
	case c >= 'a' && c <= 'z':
		return int32(c - 'a')
	case c >= 'A' && c <= 'Z':
		return int32(c - 'A')
	}
	return -1
}

func punycodeAdapt(delta, numPoints int32, first bool) int32 {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := int32(0)
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

// ToUnicode returns the name with each A-label replaced by its U-label (RFC
// 5891 §5), for display and for the UTF-8 domain of a user identity
// (architecture §4.1.3). Other labels are returned unchanged.
func (n Name) ToUnicode() string {
	labels := strings.Split(n.s, ".")
	for i, l := range labels {
		if strings.HasPrefix(l, "xn--") {
			if u, err := punycodeDecode(l[4:]); err == nil {
				labels[i] = u
			}
		}
	}
	return strings.Join(labels, ".")
}
