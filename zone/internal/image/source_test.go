package image

import (
	"bytes"
	"errors"
	"testing"

	"github.com/miekg/dns"
)

// hidden is a Source that is not an *Image, so that WriteSource and
// Collect take their general path; after passes reads it gives one RR
// less (a source that changes between reads, which must not be written).
type hidden struct {
	im     *Image
	reads  int
	passes int
}

func (h *hidden) Len() int               { return h.im.Len() }
func (h *hidden) SOA() (*dns.SOA, error) { return h.im.SOA() }
func (h *hidden) Each(fn func([]byte) error) error {
	h.reads++
	for i := 0; i < h.im.Len(); i++ {
		if h.passes > 0 && h.reads > h.passes && i == 1 {
			continue
		}
		if err := fn(h.im.RR(i)); err != nil {
			return err
		}
	}
	return nil
}

// WriteSource writes a Source that is not an image octet for octet as
// WriteTo writes the same RRs packed, and ReadImage reads it back; one that
// reads differently from one pass to the next is an error, not a file.
// Collect gives the same RRs, and SOA checks the AXFR form.
func TestWriteSource(t *testing.T) {
	im, err := Pack(rrs(t,
		"z.test. 3600 IN SOA ns.z.test. h.z.test. 7 3600 600 86400 60",
		"d1._device.z.test. 300 IN TLSA 3 1 1 0102",
		"d2._device.z.test. 300 IN TLSA 3 1 1 0304",
		"z.test. 3600 IN SOA ns.z.test. h.z.test. 7 3600 600 86400 60",
	))
	if err != nil {
		t.Fatal(err)
	}
	var want, got bytes.Buffer
	if _, err := im.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteSource(&got, &hidden{im: im}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("WriteSource wrote\n%x\nWriteTo\n%x", got.Bytes(), want.Bytes())
	}
	back, err := ReadImage(&got, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Collect(&hidden{im: im})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Image{back, c} {
		if x.Len() != im.Len() {
			t.Fatalf("%d RRs, want %d", x.Len(), im.Len())
		}
		for i := 0; i < im.Len(); i++ {
			if !bytes.Equal(x.RR(i), im.RR(i)) {
				t.Fatalf("RR %d differs", i)
			}
		}
	}
	for passes := 1; passes <= 2; passes++ {
		if _, err := WriteSource(new(bytes.Buffer), &hidden{im: im, passes: passes}); !errors.Is(err, errChanged) {
			t.Fatalf("a source that changed after %d reads: %v, want errChanged", passes, err)
		}
	}
	soa, err := im.SOA()
	if err != nil || soa.Serial != 7 {
		t.Fatalf("SOA %v %v", soa, err)
	}
	notAXFR, _ := Pack(rrs(t, "d1._device.z.test. 300 IN TLSA 3 1 1 0102", "z.test. 3600 IN SOA ns.z.test. h.z.test. 7 3600 600 86400 60"))
	if _, err := notAXFR.SOA(); !errors.Is(err, ErrNotAXFR) {
		t.Fatalf("SOA of a zone not in AXFR form: %v", err)
	}
}
