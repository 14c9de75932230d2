package alert

import (
	"errors"
	"fmt"
	"testing"
)

func TestOfFindsWrappedAlert(t *testing.T) {
	base := Errorf(DecodeError, "length %d", 3)
	wrapped := fmt.Errorf("reading ClientHello: %w", base)
	d, ok := Of(wrapped)
	if !ok || d != DecodeError {
		t.Fatalf("Of(wrapped) = %v, %v; want decode_error, true", d, ok)
	}
	if _, ok := Of(errors.New("plain")); ok {
		t.Fatal("Of(plain error) reported an alert")
	}
	if got, want := base.Error(), "tls13: decode_error: length 3"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestDescriptionString(t *testing.T) {
	for d, want := range map[Description]string{
		BadRecordMAC: "bad_record_mac", RecordOverflow: "record_overflow",
		Description(255): "alert(255)",
	} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint8(d), got, want)
		}
	}
}
