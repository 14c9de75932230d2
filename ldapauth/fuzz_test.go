package ldapauth

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fuzzEntry is the entry filters of fuzzed searches are evaluated on.
var fuzzEntry = func() *Entry {
	d, err := ParseLDIF(strings.NewReader(testLDIF))
	if err != nil {
		panic(err)
	}
	return d.entries[1]
}()

// decodeAll runs every decoder the server would on b, as the server reads
// it from a connection. It returns the request or the first error.
func decodeAll(b []byte) (*request, error) {
	r := bytes.NewReader(b)
	m, err := readMessage(r, DefaultMaxMessageSize)
	if err != nil {
		return nil, err
	}
	if r.Len() != len(b)-len(m) {
		panic("readMessage read past the message")
	}
	req, err := decodeMessage(m)
	if err != nil {
		return nil, err
	}
	switch req.op.tag {
	case opBindRequest:
		_, err = decodeBind(req.op)
		if errors.Is(err, errUnknownAuth) {
			err = nil
		}
	case opExtendedRequest:
		_, err = decodeExtended(req.op)
	case opSearchRequest:
		var s *searchRequest
		if s, err = decodeSearch(req.op); err == nil {
			s.filter.match(fuzzEntry)
			encEntry(fuzzEntry, s)
		}
	}
	return req, err
}

// FuzzDecodeMessage: no input makes the decoders panic, read past the
// message or return an error that is not a protocol error (or a short
// read); the seeds in testdata include what ldapsearch sends.
func FuzzDecodeMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decodeAll(b)
		if err != nil && !errors.Is(err, ErrProtocol) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("error %v is not a protocol error", err)
		}
	})
}

// readSeed reads a seed of the fuzz corpus.
func readSeed(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecodeMessage", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	s := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
	v, err := strconv.Unquote(s)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(v)
}

// TestDecodeSeeds: each seed decodes as its name says; the bytes of
// ldapsearch (OpenLDAP 2.5) among them.
func TestDecodeSeeds(t *testing.T) {
	cases := []struct {
		seed string
		op   byte // 0: an error wanted
	}{
		{"simple-bind-ldapsearch", opBindRequest},
		{"search-ldapsearch", opSearchRequest},
		{"unbind", opUnbindRequest},
		{"external-bind", opBindRequest},
		{"external-bind-authzid", opBindRequest},
		{"whoami", opExtendedRequest},
		{"starttls", opExtendedRequest},
		{"whoami-critical-control", opExtendedRequest},
		{"long-form-lengths", opUnbindRequest},
		{"rootdse", opSearchRequest},
		{"delete", opDelRequest},
		{"abandon", opAbandonRequest},
		{"garbage-http", 0},
		{"indefinite", 0},
	}
	for _, tc := range cases {
		t.Run(tc.seed, func(t *testing.T) {
			req, err := decodeAll(readSeed(t, tc.seed))
			switch {
			case tc.op == 0 && !errors.Is(err, ErrProtocol):
				t.Fatalf("error %v, want a protocol error", err)
			case tc.op == 0:
				return
			case err != nil:
				t.Fatal(err)
			case req.op.tag != tc.op:
				t.Fatalf("operation 0x%02x, want 0x%02x", req.op.tag, tc.op)
			}
		})
	}
	// ldapsearch -b dc=example,dc=test
	//   "(&(objectClass=inetOrgPerson)(|(uid=al*ce)(!(cn=bob)))(mail>=a)(sn~=x))" cn mail
	req, _ := decodeAll(readSeed(t, "search-ldapsearch"))
	s, err := decodeSearch(req.op)
	if err != nil {
		t.Fatal(err)
	}
	if s.base != "dc=example,dc=test" || s.scope != scopeSub || strings.Join(s.attrs, ",") != "cn,mail" {
		t.Errorf("search %+v", s)
	}
	f := s.filter
	if f.kind != filterAnd || len(f.children) != 4 || f.children[1].kind != filterOr ||
		f.children[1].children[0].kind != filterSubstrings || f.children[1].children[1].kind != filterNot ||
		f.children[2].kind != filterGE || f.children[3].kind != filterApprox {
		t.Errorf("filter %+v", f)
	}
	// alice: inetOrgPerson, uid alice, mail >= "a"; sn "Liddell" is not ~= "x".
	if got := f.match(fuzzEntry); got != triFalse {
		t.Errorf("filter on alice: %v", got)
	}
	req, _ = decodeAll(readSeed(t, "whoami-critical-control"))
	if strings.Join(req.critical, ",") != "1.2.840.113556.1.4.319" {
		t.Errorf("critical controls %q", req.critical)
	}
}

// TestBER: lengths and integers at their edges.
func TestBER(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"short", []byte{0x04, 0x01, 'a'}, true},
		{"long form one octet", []byte{0x04, 0x81, 0x01, 'a'}, true},
		{"long form four octets, not minimal", []byte{0x04, 0x84, 0, 0, 0, 1, 'a'}, true},
		{"five length octets", []byte{0x04, 0x85, 0, 0, 0, 0, 1, 'a'}, false},
		{"indefinite", []byte{0x30, 0x80, 0, 0}, false},
		{"over 2^31", []byte{0x04, 0x84, 0x80, 0, 0, 0}, false},
		{"longer than the input", []byte{0x04, 0x02, 'a'}, false},
		{"high tag number", []byte{0x1f, 0x81, 0x00, 0x00}, false},
		{"truncated", []byte{0x04}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readElement(tc.in)
			if (err == nil) != tc.ok {
				t.Errorf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	for _, v := range []int64{0, 1, 127, 128, 255, 256, -1, -128, -129, 1<<31 - 1, -1 << 31} {
		e, _, err := readElement(encInt(tagInteger, v))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.integer("v"); err != nil || got != v {
			t.Errorf("%d: got %d, %v", v, got, err)
		}
	}
	for _, c := range [][]byte{{}, {0, 0x80, 0, 0, 0, 0}, {0x01, 0, 0, 0, 0}} {
		if _, err := (element{tag: tagInteger, content: c}).integer("v"); err == nil {
			t.Errorf("integer % x accepted", c)
		}
	}
	// A long message length is refused before its contents are read.
	r := bytes.NewReader([]byte{0x30, 0x83, 0x10, 0x00, 0x00})
	var tl *TooLargeError
	if _, err := readMessage(r, 1024); !errors.As(err, &tl) || tl.Size != 5+0x100000 {
		t.Errorf("readMessage: %v", err)
	}
	// Message headers: only 1 to 4 length octets are read; other forms
	// are protocol errors from the first length octet.
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{[]byte{0x30, 0x80, 0x02, 0x01, 0x01}, ErrProtocol},
		{[]byte{0x30, 0x85, 0, 0, 0, 0, 1, 0x02}, ErrProtocol},
		{[]byte{0x30, 0xff}, ErrProtocol},
		{[]byte{0x30, 0x82, 0x00}, io.ErrUnexpectedEOF},
	} {
		if _, err := readMessage(bytes.NewReader(tc.in), 1024); !errors.Is(err, tc.want) || errors.As(err, &tl) {
			t.Errorf("readMessage(% x) = %v, want %v", tc.in, err, tc.want)
		}
	}
}
