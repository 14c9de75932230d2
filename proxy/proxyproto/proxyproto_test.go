package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// hand-assembled headers, byte by byte from the specification's layout.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const sig = "0d0a0d0a000d0a515549540a"

func TestMarshalVectors(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		crc  bool
		want string
	}{
		{"ipv4 with name TLV", Header{
			Source:      netip.MustParseAddrPort("192.0.2.1:40000"),
			Destination: netip.MustParseAddrPort("198.51.100.2:443"),
			TLVs:        []TLV{{Type: 0xE0, Value: []byte("dev1._device.example.test")}},
		}, false, sig + "21 11 0028" + "c0000201 c6336402 9c40 01bb" + "e0 0019" + hex.EncodeToString([]byte("dev1._device.example.test"))},
		{"ipv6", Header{
			Source:      netip.MustParseAddrPort("[2001:db8::1]:1"),
			Destination: netip.MustParseAddrPort("[2001:db8::2]:2"),
		}, false, sig + "21 21 0024" + "20010db8000000000000000000000001 20010db8000000000000000000000002 0001 0002"},
		{"ipv4-mapped counts as ipv4", Header{
			Source:      netip.MustParseAddrPort("[::ffff:127.0.0.1]:5"),
			Destination: netip.MustParseAddrPort("127.0.0.2:6"),
		}, false, sig + "21 11 000c 7f000001 7f000002 0005 0006"},
		{"mixed families in ipv6", Header{
			Source:      netip.MustParseAddrPort("127.0.0.1:5"),
			Destination: netip.MustParseAddrPort("[::1]:6"),
		}, false, sig + "21 21 0024 00000000000000000000ffff7f000001 00000000000000000000000000000001 0005 0006"},
		{"local", Header{Local: true}, false, sig + "20 00 0000"},
		// CRC-32c over the header with a zero checksum field (spec §2.2.3),
		// computed bit by bit by crcOf.
		{"local with crc", Header{Local: true}, true, sig + "20 00 0007 03 0004 " + crcOf(t, sig+"20 00 0007 03 0004 00000000")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.h.Marshal(tt.crc)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("got  %x\nwant %x", got, want)
			}
			back, err := Parse(got)
			if err != nil {
				t.Fatalf("parse own header: %v", err)
			}
			if back.Local != tt.h.Local || back.Source.Port() != tt.h.Source.Port() || back.Destination.Port() != tt.h.Destination.Port() {
				t.Errorf("round trip: %+v, want %+v", back, tt.h)
			}
		})
	}
}

// crcOf computes CRC-32c bit by bit (the reflected polynomial 0x82F63B78),
// not with hash/crc32, so the test checks the table the package uses.
func crcOf(t *testing.T, s string) string {
	crc := ^uint32(0)
	for _, c := range unhex(t, s) {
		crc ^= uint32(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x82F63B78
			} else {
				crc >>= 1
			}
		}
	}
	crc = ^crc
	return hex.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
}

func TestSSL(t *testing.T) {
	got := SSL(ClientSSL|ClientCertConn, true, TLV{Type: SubtypeSSLVersion, Value: []byte("TLSv1.3")})
	want := unhex(t, "03 00000000 21 0007"+hex.EncodeToString([]byte("TLSv1.3")))
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	if got := SSL(ClientSSL, false); !bytes.Equal(got, unhex(t, "01 00000001")) {
		t.Fatalf("unverified: got %x", got)
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		crc  bool
		want string
	}{
		{"no addresses", Header{}, false, "needs both addresses"},
		{"huge TLV", Header{Local: true, TLVs: []TLV{{Type: 0xE0, Value: make([]byte, 70000)}}}, false, "more than 65535"},
		{"too long in total", Header{Local: true, TLVs: []TLV{{Type: 0xE0, Value: make([]byte, 40000)}, {Type: 0xE1, Value: make([]byte, 40000)}}}, false, "more than 65535"},
		{"crc twice", Header{Local: true, TLVs: []TLV{{Type: TypeCRC32C, Value: make([]byte, 4)}}}, true, "CRC32C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.h.Marshal(tt.crc)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want a FormatError with %q", err, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := sig + "21 11 000f 7f000001 7f000002 0005 0006 e0 0000"
	tests := []struct {
		name string
		in   string
		want string // "" means ErrNoHeader
	}{
		{"not a header", "474554202f20485454502f312e310d0a0d0a", ""},
		{"version 1", sig + "11 11 000c 7f000001 7f000002 0005 0006", "version 1"},
		{"unknown command", sig + "2f 11 000c 7f000001 7f000002 0005 0006", "unknown command"},
		{"length beyond data", sig + "21 11 0010 7f000001 7f000002 0005 0006", "length field"},
		{"short address block", sig + "21 21 000c 7f000001 7f000002 0005 0006", "address block"},
		{"truncated TLV header", sig + "21 11 000e 7f000001 7f000002 0005 0006 e0 00", "truncated TLV"},
		{"TLV longer than header", sig + "21 11 0010 7f000001 7f000002 0005 0006 e0 0002 41", "TLV 0xe0"},
		{"bad crc", sig + "20 00 0007 03 0004 00000000", "does not match"},
		{"short crc", sig + "20 00 0005 03 0002 0000", "CRC32C TLV of 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(unhex(t, tt.in))
			if tt.want == "" {
				if !errors.Is(err, ErrNoHeader) {
					t.Fatalf("err %v, want ErrNoHeader", err)
				}
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want a FormatError with %q", err, tt.want)
			}
		})
	}
	if h, err := Parse(unhex(t, good)); err != nil || len(h.TLVs) != 1 || h.TLVs[0].Type != 0xE0 || len(h.TLVs[0].Value) != 0 {
		t.Fatalf("good header: %+v, %v", h, err)
	}
}

func TestRead(t *testing.T) {
	h := Header{
		Source:      netip.MustParseAddrPort("127.0.0.1:1000"),
		Destination: netip.MustParseAddrPort("127.0.0.1:2000"),
		TLVs:        []TLV{{Type: 0xE3, Value: []byte("svc")}},
	}
	b, err := h.Marshal(true)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(b), strings.NewReader("payload")))
	got, err := Read(br)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.TLV(0xE3); !ok || string(v) != "svc" || got.Source != h.Source || got.Destination != h.Destination {
		t.Fatalf("read %+v", got)
	}
	if _, ok := got.TLV(0xE0); ok {
		t.Fatal("TLV 0xE0 reported present")
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "payload" {
		t.Fatalf("Read consumed past the header: rest %q", rest)
	}
	for _, cut := range []int{1, 11, 12, 15, 16, len(b) - 1} {
		if _, err := Read(bufio.NewReader(bytes.NewReader(b[:cut]))); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: err %v, want unexpected EOF", cut, err)
		}
	}
	if _, err := Read(bufio.NewReader(strings.NewReader("SSH-2.0-x\r\n"))); !errors.Is(err, ErrNoHeader) {
		t.Errorf("ssh banner: err %v", err)
	}
	if _, err := Read(bufio.NewReader(strings.NewReader(""))); !errors.Is(err, io.EOF) {
		t.Errorf("empty: err %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(unhex(f, sig+"21 11 000f 7f000001 7f000002 0005 0006 e0 0000"))
	f.Add(unhex(f, sig+"20 00 0000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			return
		}
		// What parses must encode again, and parse to the same TLVs.
		if h.Local || h.Source.IsValid() {
			out, err := h.Marshal(false)
			if err != nil {
				return // e.g. a CRC32C TLV re-encoded without its recomputation
			}
			h2, err := Parse(out)
			if err != nil {
				// A re-encoded CRC32C TLV no longer matches: expected.
				if _, ok := h.TLV(TypeCRC32C); ok {
					return
				}
				t.Fatalf("re-encoded header does not parse: %v", err)
			}
			if len(h2.TLVs) != len(h.TLVs) {
				t.Fatalf("TLVs %d, then %d", len(h.TLVs), len(h2.TLVs))
			}
		}
	})
}
