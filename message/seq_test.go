package message

import (
	"encoding/base64"
	"testing"

	"github.com/veraison/go-cose"
)

// TestSequence checks that numbered messages carry their stream and
// number in each format, that numbers follow one another, and which seq
// values are refused.
func TestSequence(t *testing.T) {
	w := newWorld(t)
	seq, err := NewSequence()
	if err != nil {
		t.Fatal(err)
	}
	s := w.signer(nEd, w.ed, false)
	s.Seq = seq
	v := w.verifier(t, Config{})
	for i, f := range []Format{JWSCompact, JWSJSON, COSE, JWSCompact} {
		m, err := v.Verify(ctx, mustSign(t, s, []byte("1"), f))
		if err != nil {
			t.Fatal(err)
		}
		if m.Seq == nil || m.Seq.Stream != seq.ID() || m.Seq.N != uint64(i+1) {
			t.Fatalf("%v: seq %+v, want %s.%d", f, m.Seq, seq.ID(), i+1)
		}
	}
	if m, err := v.Verify(ctx, mustSign(t, w.signer(nEd, w.ed, false), []byte("1"), COSE)); err != nil || m.Seq != nil {
		t.Fatalf("unnumbered: %+v, %v", m, err)
	}
	for _, c := range []struct {
		v  string
		ok bool
	}{
		{"abc.1", true},
		{"a-_9.18446744073709551615", true},
		{"abc.0", false},
		{"abc.01", false},
		{"abc.+1", false},
		{"abc.-1", false},
		{"abc.18446744073709551616", false},
		{"abc", false},
		{".1", false},
		{"a/c.1", false},
		{"abc.1.2", false},
		{base64.RawURLEncoding.EncodeToString(make([]byte, 60)) + ".1", false},
	} {
		if _, err := parseSeq(c.v); (err == nil) != c.ok {
			t.Errorf("%q: %v, want ok=%v", c.v, err, c.ok)
		}
	}
}

// TestSequenceUnprotected: a seq that whoever forwards the message could
// set is refused, in either format.
func TestSequenceUnprotected(t *testing.T) {
	w := newWorld(t)
	v := w.verifier(t, Config{})
	s := w.signer(nFull, w.full, false)
	j := decodeGeneral(t, mustSign(t, s, []byte("1"), JWSJSON))
	j.Header = []byte(`{"seq":"abc.1"}`)
	if _, err := v.Verify(ctx, j.bytes(t)); ReasonOf(err) != ReasonHeader {
		t.Errorf("JWS with an unprotected seq: %v", err)
	}
	msg := craftCOSE(t, w.full.Key, w.coseHdr(nil), cose.UnprotectedHeader{hdrSeq: "abc.1"}, []byte("1"))
	if _, err := v.Verify(ctx, msg); ReasonOf(err) != ReasonHeader {
		t.Errorf("COSE with an unprotected seq: %v", err)
	}
}
