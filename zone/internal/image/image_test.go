package image

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

func rrs(t *testing.T, ss ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, s := range ss {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rr)
	}
	return out
}

// An image decodes to the RRs it was made from and reads each RR's type
// without decoding it.
func TestPackRoundTrip(t *testing.T) {
	in := rrs(t,
		"z.test. 3600 IN SOA ns.z.test. h.z.test. 7 3600 600 86400 60",
		"z.test. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
		"d1._device.z.test. 300 IN TLSA 3 1 1 0102",
		"x._openpgpkey.z.test. 300 IN OPENPGPKEY AQID",
		"z.test. 3600 IN SOA ns.z.test. h.z.test. 7 3600 600 86400 60",
	)
	im, err := Pack(in)
	if err != nil {
		t.Fatal(err)
	}
	if im.Len() != len(in) {
		t.Fatalf("%d RRs, want %d", im.Len(), len(in))
	}
	out, err := im.Unpack()
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if out[i].String() != in[i].String() {
			t.Errorf("RR %d: %s, want %s", i, out[i], in[i])
		}
		if im.Type(i) != in[i].Header().Rrtype {
			t.Errorf("RR %d: type %d, want %d", i, im.Type(i), in[i].Header().Rrtype)
		}
	}
	// Truncated data is an error, not a panic or another record.
	b := im.RR(2)
	for n := 0; n < len(b); n++ {
		if _, err := decode(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("RR cut to %d octets: %v", n, err)
		}
	}
}

// AddPacked joins an owner and records in the zone's packed form (wire
// RRs without their owner) into whole RRs; malformed records are an error.
func TestAddPacked(t *testing.T) {
	in := rrs(t, "d1._device.z.test. 300 IN TLSA 3 1 1 0102", "d1._device.z.test. 300 IN TLSA 3 1 1 0304")
	owner, err := OwnerWire("d1._device.z.test.")
	if err != nil {
		t.Fatal(err)
	}
	var records []byte
	for _, rr := range in {
		whole, err := Pack([]dns.RR{rr})
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, whole.RR(0)[len(owner):]...)
	}
	var b Builder
	b.AddPacked(owner, records)
	im, err := b.Image()
	if err != nil {
		t.Fatal(err)
	}
	out, err := im.Unpack()
	if err != nil || len(out) != 2 || out[1].String() != in[1].String() {
		t.Fatalf("AddPacked gave %v (%v)", out, err)
	}
	for _, cut := range []int{1, 9, len(records) - 1} {
		var b Builder
		b.AddPacked(owner, records[:cut])
		if _, err := b.Image(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("records cut to %d octets: %v", cut, err)
		}
	}
}

// Images of many RRs grow as needed and keep every offset right.
func TestBuilderGrows(t *testing.T) {
	var b Builder
	for i := 0; i < 5000; i++ {
		b.Add(rrs(t, fmt.Sprintf("d%d.z.test. 300 IN TLSA 3 1 1 %064x", i, i))[0])
	}
	im, err := b.Image()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 2500, 4999} {
		rr, err := im.Decode(i)
		if err != nil || rr.Header().Name != fmt.Sprintf("d%d.z.test.", i) {
			t.Fatalf("RR %d: %v %v", i, rr, err)
		}
	}
}

// WriteTo and ReadImage round-trip; bounds and inconsistent offsets are
// refused.
func TestReadImage(t *testing.T) {
	var b Builder
	for i := 0; i < 100; i++ {
		b.Add(rrs(t, fmt.Sprintf("d%d.z.test. 300 IN TLSA 3 1 1 %064x", i, i))[0])
	}
	im, err := b.Image()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := im.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	back, err := ReadImage(bytes.NewReader(data), 1000, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != im.Len() || !bytes.Equal(back.wire, im.wire) {
		t.Fatal("image read back differs")
	}
	if _, err := ReadImage(bytes.NewReader(data), 99, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Errorf("more RRs than allowed: %v", err)
	}
	if _, err := ReadImage(bytes.NewReader(data), 1000, int64(im.Bytes()-1)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("more octets than allowed: %v", err)
	}
	bad := append([]byte(nil), data...)
	bad[12+4*5+3]++ // offset of RR 5 moves: RR 4 and 5 no longer delimit records
	if r, err := ReadImage(bytes.NewReader(bad), 1000, 1<<20); err == nil {
		if _, err := r.Unpack(); err == nil {
			t.Error("shifted offset read and decoded without error")
		}
	}
	for _, cut := range []int{0, 5, 12, 40, len(data) - 1} {
		if _, err := ReadImage(bytes.NewReader(data[:cut]), 1000, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut to %d octets: %v", cut, err)
		}
	}
}
