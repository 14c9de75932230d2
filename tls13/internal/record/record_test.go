package record

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/trace"
)

const testdata = "../../testdata/"

func wantAlert(t *testing.T, err error, want alert.Description) {
	t.Helper()
	got, ok := alert.Of(err)
	if !ok || got != want {
		t.Fatalf("err = %v, want alert %v", err, want)
	}
}

type keyIV struct{ key, iv []byte }

// TestTraceRecords opens every protected record of the traces with the keys
// the trace derives, checks the content and type, and seals the content
// again to the identical record. The sequence number of each record is found
// by trying each key at sequence numbers 0-7: only the right key and number
// authenticate.
func TestTraceRecords(t *testing.T) {
	for _, tc := range []struct {
		file    string
		records int
	}{
		{"rfc8448-section3.txt", 1},
		{"draft-tls13-vectors-simple.txt", 7},
		{"draft-tls13-vectors-resumed.txt", 7},
		{"draft-tls13-vectors-hrr.txt", 4},
		{"draft-tls13-vectors-clientauth.txt", 4},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tr, err := trace.Load(testdata + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var keys []keyIV
			for _, s := range tr.Steps {
				if k := s.Values["key expanded"]; k != nil {
					keys = append(keys, keyIV{k, s.Values["iv expanded"]})
				}
			}
			suite := SuiteByID(TLS_AES_128_GCM_SHA256)
			n := 0
			for _, s := range tr.Steps {
				rec, payload := s.Values["complete record"], s.Values["payload"]
				if rec == nil || rec[0] != byte(TypeApplicationData) {
					continue
				}
				want := TypeHandshake
				switch {
				case strings.Contains(s.Action, "application_data"):
					want = TypeApplicationData
				case strings.Contains(s.Action, "alert"):
					want = TypeAlert
				}
				found := false
				for _, k := range keys {
					for seq := uint64(0); seq < 8 && !found; seq++ {
						c := newCipherKeyIV(suite, k.key, k.iv)
						c.seq = seq
						typ, content, err := c.Open(bytes.Clone(rec), MaxInnerPlaintext)
						if err != nil {
							wantAlert(t, err, alert.BadRecordMAC)
							continue
						}
						found = true
						if typ != want || !bytes.Equal(content, payload) {
							t.Errorf("{%s} %s: opened to %v %x, want %v %x", s.Who, s.Action, typ, content, want, payload)
						}
						if c.Seq() != seq+1 {
							t.Errorf("sequence number %d after opening record %d", c.Seq(), seq)
						}
						w := newCipherKeyIV(suite, k.key, k.iv)
						w.seq = seq
						sealed, err := w.Seal(nil, typ, content, 0, MaxInnerPlaintext)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(sealed, rec) {
							t.Errorf("{%s} %s: sealed\n %x\nwant %x", s.Who, s.Action, sealed, rec)
						}
					}
				}
				if !found {
					t.Errorf("{%s} %s: no key of the trace opens the record", s.Who, s.Action)
				}
				n++
			}
			if n < tc.records {
				t.Fatalf("%d protected records, want at least %d", n, tc.records)
			}
		})
	}
}

func testCiphers(t *testing.T, s *Suite) (w, r *Cipher) {
	t.Helper()
	secret := bytes.Repeat([]byte{0x42}, s.Hash.Size())
	return NewCipher(s, secret), NewCipher(s, secret)
}

func TestSealOpenEverySuite(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.Name, func(t *testing.T) {
			w, r := testCiphers(t, s)
			for i, tc := range []struct {
				typ     ContentType
				content []byte
				padding int
			}{
				{TypeHandshake, []byte("hello"), 0},
				{TypeApplicationData, nil, 0},
				{TypeApplicationData, []byte("padded"), 300},
				{TypeAlert, []byte{1, 0}, MaxInnerPlaintext - 3},
				{TypeApplicationData, bytes.Repeat([]byte{0}, MaxPlaintext), 0},
			} {
				rec, err := w.Seal(nil, tc.typ, tc.content, tc.padding, MaxInnerPlaintext)
				if err != nil {
					t.Fatalf("%d: %v", i, err)
				}
				typ, content, err := r.Open(rec, MaxInnerPlaintext)
				if err != nil {
					t.Fatalf("%d: %v", i, err)
				}
				if typ != tc.typ || !bytes.Equal(content, tc.content) {
					t.Fatalf("%d: got %v %d octets, want %v %d", i, typ, len(content), tc.typ, len(tc.content))
				}
			}
		})
	}
}

func TestSealRefusesOverLimit(t *testing.T) {
	w, _ := testCiphers(t, SuiteByID(TLS_AES_128_GCM_SHA256))
	for _, tc := range []struct {
		n, pad, limit int
	}{
		{MaxPlaintext + 1, 0, MaxInnerPlaintext},
		{MaxPlaintext, 1, MaxInnerPlaintext},
		{64, 0, 64},
		{10, 0, MaxInnerPlaintext + 1},
		{10, -1, MaxInnerPlaintext},
	} {
		_, err := w.Seal(nil, TypeApplicationData, make([]byte, tc.n), tc.pad, tc.limit)
		wantAlert(t, err, alert.InternalError)
	}
	if w.Seq() != 0 {
		t.Fatal("a refused Seal used a sequence number")
	}
}

// sealRaw protects an arbitrary inner plaintext, bypassing Seal's checks, to
// build records a faulty or hostile peer could send.
func sealRaw(c *Cipher, inner []byte) []byte {
	n := len(inner) + c.aead.Overhead()
	h := []byte{byte(TypeApplicationData), 3, 3, byte(n >> 8), byte(n)}
	out := c.aead.Seal(bytes.Clone(h), c.nonce(), inner, h)
	c.seq++
	return out
}

func TestOpenRefusals(t *testing.T) {
	suite := SuiteByID(TLS_CHACHA20_POLY1305_SHA256)
	good := func() (*Cipher, []byte) {
		w, r := testCiphers(t, suite)
		rec, err := w.Seal(nil, TypeApplicationData, []byte("some application data"), 0, MaxInnerPlaintext)
		if err != nil {
			t.Fatal(err)
		}
		return r, rec
	}
	r, rec := good()
	if _, _, err := r.Open(rec, MaxInnerPlaintext); err != nil {
		t.Fatalf("untampered record: %v", err)
	}

	// Every single-bit change of the body or of the authenticated header
	// fields is refused.
	for i := 1; i < len(rec); i++ {
		if i == 3 || i == 4 {
			continue // length bytes: checked below
		}
		r, rec := good()
		rec[i] ^= 0x01
		_, _, err := r.Open(rec, MaxInnerPlaintext)
		wantAlert(t, err, alert.BadRecordMAC)
		if r.Seq() != 0 {
			t.Fatal("a refused record used a sequence number")
		}
	}
	for name, tc := range map[string]struct {
		mutate func(*Cipher, []byte) []byte
		limit  int
		want   alert.Description
	}{
		"outer type handshake": {func(_ *Cipher, b []byte) []byte { b[0] = byte(TypeHandshake); return b }, MaxInnerPlaintext, alert.UnexpectedMessage},
		"length mismatch":      {func(_ *Cipher, b []byte) []byte { b[4]--; return b }, MaxInnerPlaintext, alert.DecodeError},
		"truncated":            {func(_ *Cipher, b []byte) []byte { b = b[:len(b)-1]; b[4]--; return b }, MaxInnerPlaintext, alert.BadRecordMAC},
		"shorter than tag": {func(_ *Cipher, b []byte) []byte {
			b = b[:HeaderLen+15]
			b[3], b[4] = 0, 15
			return b
		}, MaxInnerPlaintext, alert.BadRecordMAC},
		"header only": {func(_ *Cipher, b []byte) []byte { return b[:3] }, MaxInnerPlaintext, alert.DecodeError},
		"all-zero inner plaintext": {func(c *Cipher, _ []byte) []byte {
			return sealRaw(c, make([]byte, 40))
		}, MaxInnerPlaintext, alert.UnexpectedMessage},
		"inner plaintext 2^14+2": {func(c *Cipher, _ []byte) []byte {
			inner := make([]byte, MaxInnerPlaintext+1)
			inner[len(inner)-1] = byte(TypeApplicationData)
			return sealRaw(c, inner)
		}, MaxInnerPlaintext, alert.RecordOverflow},
		"over our record_size_limit": {func(c *Cipher, _ []byte) []byte {
			inner := make([]byte, 101)
			inner[100] = byte(TypeApplicationData)
			return sealRaw(c, inner)
		}, 100, alert.RecordOverflow},
		"ciphertext 2^14+257": {func(c *Cipher, _ []byte) []byte {
			n := MaxCiphertext + 1
			return append([]byte{byte(TypeApplicationData), 3, 3, byte(n >> 8), byte(n)}, make([]byte, n)...)
		}, MaxInnerPlaintext, alert.RecordOverflow},
	} {
		t.Run(name, func(t *testing.T) {
			// The mutators that seal their own record need the
			// writer's cipher; the reader's is the same key.
			w, r := testCiphers(t, suite)
			rec, _ := w.Seal(nil, TypeApplicationData, []byte("some application data"), 0, MaxInnerPlaintext)
			w2, _ := testCiphers(t, suite)
			_, _, err := r.Open(tc.mutate(w2, rec), tc.limit)
			wantAlert(t, err, tc.want)
		})
	}

	// The limits themselves are accepted: inner plaintext of exactly
	// 2^14+1 octets, and exactly the record_size_limit.
	for _, limit := range []int{MaxInnerPlaintext, 100} {
		w, r := testCiphers(t, suite)
		inner := make([]byte, limit)
		inner[limit-1] = byte(TypeApplicationData)
		if _, content, err := r.Open(sealRaw(w, inner), limit); err != nil || len(content) != limit-1 {
			t.Fatalf("inner plaintext of %d at limit %d: %v", limit, limit, err)
		}
	}
}

func TestSequenceNumberExhaustion(t *testing.T) {
	w, r := testCiphers(t, SuiteByID(TLS_AES_256_GCM_SHA384))
	w.seq, r.seq = ^uint64(0), ^uint64(0)
	rec, err := w.Seal(nil, TypeApplicationData, []byte("last"), 0, MaxInnerPlaintext)
	if err != nil {
		t.Fatalf("record 2^64-1: %v", err)
	}
	if _, _, err := r.Open(rec, MaxInnerPlaintext); err != nil {
		t.Fatalf("opening record 2^64-1: %v", err)
	}
	if _, err := w.Seal(nil, TypeApplicationData, []byte("wrapped"), 0, MaxInnerPlaintext); !errors.Is(err, ErrSeqExhausted) {
		t.Fatalf("Seal after 2^64 records: %v", err)
	}
	if _, _, err := r.Open(rec, MaxInnerPlaintext); !errors.Is(err, ErrSeqExhausted) {
		t.Fatalf("Open after 2^64 records: %v", err)
	}
}

func TestNeedsRekey(t *testing.T) {
	w, _ := testCiphers(t, SuiteByID(TLS_AES_128_GCM_SHA256))
	w.seq = 1<<24 - 1
	if w.NeedsRekey() {
		t.Fatal("rekey due before 2^24 records")
	}
	w.seq++
	if !w.NeedsRekey() {
		t.Fatal("no rekey due at 2^24 records")
	}
	c, _ := testCiphers(t, SuiteByID(TLS_CHACHA20_POLY1305_SHA256))
	c.seq = 1 << 40
	if c.NeedsRekey() {
		t.Fatal("ChaCha20-Poly1305 asked for a rekey")
	}
}

func TestCheckRecordSizeLimit(t *testing.T) {
	if _, err := CheckRecordSizeLimit(63); err == nil {
		t.Fatal("63 accepted")
	} else {
		wantAlert(t, err, alert.IllegalParameter)
	}
	for v, want := range map[uint16]int{64: 64, 1000: 1000, 16385: 16385, 16386: 16385, 65535: 16385} {
		if got, err := CheckRecordSizeLimit(v); err != nil || got != want {
			t.Errorf("CheckRecordSizeLimit(%d) = %d, %v; want %d", v, got, err, want)
		}
	}
}

func TestConnFragmentsAndLimits(t *testing.T) {
	suite := SuiteByID(TLS_AES_128_GCM_SHA256)
	var wire bytes.Buffer
	w := NewConn(nil, &wire)
	wc, rc := testCiphers(t, suite)
	w.SetWriteCipher(wc)
	w.SetWriteLimit(100)
	w.Padding = func(n int) int { return 1000 } // capped at the limit
	msg := bytes.Repeat([]byte("handshake "), 1000)
	if err := w.WriteRecord(TypeHandshake, msg); err != nil {
		t.Fatal(err)
	}
	r := NewConn(&wire, nil)
	r.SetReadCipher(rc)
	r.SetReadLimit(100)
	var got []byte
	records := 0
	for {
		typ, content, err := r.ReadRecord()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if typ != TypeHandshake || len(content) > 99 {
			t.Fatalf("record %d: %v, %d octets", records, typ, len(content))
		}
		got = append(got, content...)
		records++
	}
	if !bytes.Equal(got, msg) || records != (len(msg)+98)/99 {
		t.Fatalf("reassembled %d octets from %d records", len(got), records)
	}

	// The same records are refused by a reader whose limit is lower.
	wire.Reset()
	w2 := NewConn(nil, &wire)
	wc, rc = testCiphers(t, suite)
	w2.SetWriteCipher(wc)
	w2.SetWriteLimit(100)
	if err := w2.WriteRecord(TypeApplicationData, msg[:99]); err != nil {
		t.Fatal(err)
	}
	r2 := NewConn(&wire, nil)
	r2.SetReadCipher(rc)
	r2.SetReadLimit(64)
	_, _, err := r2.ReadRecord()
	wantAlert(t, err, alert.RecordOverflow)
}

func TestConnPlaintext(t *testing.T) {
	rec := func(typ ContentType, n int) []byte {
		return append([]byte{byte(typ), 3, 3, byte(n >> 8), byte(n)}, bytes.Repeat([]byte{1}, n)...)
	}
	for name, tc := range map[string]struct {
		in        []byte
		protected bool
		want      alert.Description // 0: accepted
		err       error
	}{
		"handshake":             {in: rec(TypeHandshake, 10)},
		"handshake 2^14":        {in: rec(TypeHandshake, MaxPlaintext)},
		"handshake 2^14+1":      {in: rec(TypeHandshake, MaxPlaintext+1), want: alert.RecordOverflow},
		"zero-length handshake": {in: rec(TypeHandshake, 0), want: alert.UnexpectedMessage},
		"zero-length alert":     {in: rec(TypeAlert, 0), want: alert.UnexpectedMessage},
		// Handed up (the handshake refuses it), never dropped as early
		// data when no skipping was asked for.
		"zero-length application data":   {in: rec(TypeApplicationData, 0)},
		"unknown type":                   {in: rec(ContentType(24), 1), want: alert.UnexpectedMessage},
		"type invalid":                   {in: rec(TypeInvalid, 1), want: alert.UnexpectedMessage},
		"ccs after keys":                 {in: rec(TypeChangeCipherSpec, 1), protected: true},
		"plaintext handshake after keys": {in: rec(TypeHandshake, 4), protected: true, want: alert.UnexpectedMessage},
		"plaintext alert after keys":     {in: rec(TypeAlert, 2), protected: true, want: alert.UnexpectedMessage},
		"truncated body":                 {in: rec(TypeHandshake, 10)[:9], err: io.ErrUnexpectedEOF},
		"truncated header":               {in: rec(TypeHandshake, 10)[:3], err: io.ErrUnexpectedEOF},
		"empty stream":                   {in: nil, err: io.EOF},
	} {
		t.Run(name, func(t *testing.T) {
			c := NewConn(bytes.NewReader(tc.in), nil)
			if tc.protected {
				_, r := testCiphers(t, SuiteByID(TLS_AES_128_GCM_SHA256))
				c.SetReadCipher(r)
			}
			_, _, err := c.ReadRecord()
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			case tc.want != 0:
				wantAlert(t, err, tc.want)
			case err != nil:
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestConnWriteRefusals(t *testing.T) {
	c := NewConn(nil, io.Discard)
	wantAlert(t, c.WriteRecord(TypeHandshake, nil), alert.InternalError)
	wantAlert(t, c.WriteRecord(TypeAlert, make([]byte, MaxPlaintext+1)), alert.InternalError)
	if err := c.WriteRecord(TypeApplicationData, nil); err != nil {
		t.Fatalf("zero-length application data: %v", err)
	}
}

// TestConnCompatibilityCCS: with a write cipher set, the compatibility
// change_cipher_spec still goes out unprotected (RFC 8446 §5, Appendix D.4),
// and a reader with a read cipher hands it up as it is.
func TestConnCompatibilityCCS(t *testing.T) {
	var wire bytes.Buffer
	c := NewConn(nil, &wire)
	w, r := testCiphers(t, SuiteByID(TLS_AES_128_GCM_SHA256))
	c.SetWriteCipher(w)
	if err := c.WriteRecord(TypeChangeCipherSpec, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wire.Bytes(), []byte{20, 3, 3, 0, 1, 1}) {
		t.Fatalf("change_cipher_spec written as %x", wire.Bytes())
	}
	if w.Seq() != 0 {
		t.Fatal("change_cipher_spec used a sequence number")
	}
	rc := NewConn(&wire, nil)
	rc.SetReadCipher(r)
	typ, content, err := rc.ReadRecord()
	if err != nil || typ != TypeChangeCipherSpec || !bytes.Equal(content, []byte{1}) {
		t.Fatalf("read %v %x, %v", typ, content, err)
	}
}

func BenchmarkSealOpen16K(b *testing.B) {
	for _, s := range Suites() {
		b.Run(s.Name, func(b *testing.B) {
			secret := bytes.Repeat([]byte{1}, s.Hash.Size())
			w, r := NewCipher(s, secret), NewCipher(s, secret)
			data := make([]byte, MaxPlaintext)
			buf := make([]byte, 0, HeaderLen+MaxCiphertext)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				rec, err := w.Seal(buf[:0], TypeApplicationData, data, 0, MaxInnerPlaintext)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := r.Open(rec, MaxInnerPlaintext); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestConnMaxFragment: SetMaxFragment splits unprotected and protected
// records at the cap, below the peer's limit (the smaller of the two
// wins), and refuses a cap out of range.
func TestConnMaxFragment(t *testing.T) {
	suite := SuiteByID(TLS_AES_128_GCM_SHA256)
	msg := bytes.Repeat([]byte("fragment "), 500)
	for _, tc := range []struct {
		name            string
		frag, peerLimit int
		protected       bool
		wantLargest     int
	}{
		{name: "unprotected", frag: 100, wantLargest: 100},
		{name: "protected", frag: 200, protected: true, wantLargest: 200},
		{name: "peer limit smaller", frag: 500, peerLimit: 300, protected: true, wantLargest: 299},
		{name: "cap smaller than peer limit", frag: 63, peerLimit: 300, protected: true, wantLargest: 63},
		{name: "no cap", wantLargest: MaxPlaintext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wire bytes.Buffer
			w := NewConn(nil, &wire)
			r := NewConn(&wire, nil)
			if tc.protected {
				wc, rc := testCiphers(t, suite)
				w.SetWriteCipher(wc)
				r.SetReadCipher(rc)
			}
			if tc.peerLimit != 0 {
				w.SetWriteLimit(tc.peerLimit)
			}
			w.SetMaxFragment(tc.frag)
			big := bytes.Repeat(msg, 8) // over 2^14 octets
			if err := w.WriteRecord(TypeHandshake, big); err != nil {
				t.Fatal(err)
			}
			var got []byte
			largest := 0
			for {
				_, content, err := r.ReadRecord()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				largest = max(largest, len(content))
				got = append(got, content...)
			}
			if !bytes.Equal(got, big) || largest != tc.wantLargest {
				t.Fatalf("reassembled %d of %d octets, largest record %d, want %d", len(got), len(big), largest, tc.wantLargest)
			}
		})
	}
	for _, n := range []int{-1, 1, MinRecordSizeLimit - 2, MaxPlaintext + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetMaxFragment(%d) accepted", n)
				}
			}()
			NewConn(nil, nil).SetMaxFragment(n)
		}()
	}
}
