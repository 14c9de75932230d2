package tlsa

import "fmt"

// DataReason says what is wrong with certificate association data.
type DataReason int

// Reasons for a DataError.
const (
	// DataEmpty: no association data; RFC 6698 §2.1.4 requires some.
	DataEmpty DataReason = iota + 1
	// DataNotHex: the presentation form holds a character that is not a
	// hex digit (RFC 6698 §2.2).
	DataNotHex
	// DataOddLength: an odd number of hex digits cannot encode whole octets.
	DataOddLength
	// DataWrongLength: a digest whose length does not fit its matching type
	// (32 octets for SHA2-256, 64 for SHA2-512; RFC 6698 §2.1.3).
	DataWrongLength
	// DataTooLong: more data than a resource record's 65535-octet RDATA can
	// carry (RFC 1035 §3.2.1).
	DataTooLong
)

var dataReasonText = map[DataReason]string{
	DataEmpty:       "empty certificate association data",
	DataNotHex:      "certificate association data is not hex",
	DataOddLength:   "odd number of hex digits in certificate association data",
	DataWrongLength: "digest length does not fit the matching type",
	DataTooLong:     "certificate association data longer than an RDATA can carry",
}

func (r DataReason) String() string {
	if s, ok := dataReasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("data reason %d", int(r))
}

// DataError reports malformed certificate association data.
type DataError struct {
	Reason DataReason
	// Len is the length in octets found (hex digits for DataOddLength).
	Len int
	// Want is the expected length for DataWrongLength.
	Want int
}

func (e *DataError) Error() string {
	switch e.Reason {
	case DataWrongLength:
		return fmt.Sprintf("tlsa: %s: %d octets, want %d", e.Reason, e.Len, e.Want)
	case DataOddLength:
		return fmt.Sprintf("tlsa: %s: %d digits", e.Reason, e.Len)
	case DataTooLong:
		return fmt.Sprintf("tlsa: %s: %d octets, at most %d", e.Reason, e.Len, maxDataLen)
	}
	return "tlsa: " + e.Reason.String()
}
