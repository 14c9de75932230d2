package transcript

import (
	"bytes"
	"crypto"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"strings"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/trace"
)

const testdata = "../../testdata/"

func messages(t *testing.T, tr *trace.Trace) [][]byte {
	t.Helper()
	var out [][]byte
	for _, s := range tr.Steps {
		if strings.HasPrefix(s.Action, "construct a") && strings.HasSuffix(s.Action, "handshake message") {
			out = append(out, s.Values[s.Order[0]])
		}
	}
	return out
}

func value(t *testing.T, tr *trace.Trace, who, prefix, label string) []byte {
	t.Helper()
	v, err := tr.Value(who, prefix, 0, label)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHelloRetryRequestTranscript reproduces the transcript hash of the
// HelloRetryRequest trace at the handshake secrets: ClientHello1 replaced by
// message_hash, then HelloRetryRequest, ClientHello2, ServerHello. The
// first ClientHello is added before the hash is chosen, as a client must.
func TestHelloRetryRequestTranscript(t *testing.T) {
	tr, err := trace.Load(testdata + "draft-tls13-vectors-hrr.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := messages(t, tr)
	ch1, hrr, ch2, sh := m[0], m[1], m[2], m[3]
	if ch1[0] != 1 || hrr[0] != 2 || ch2[0] != 1 || sh[0] != 2 {
		t.Fatalf("unexpected message order %d %d %d %d", ch1[0], hrr[0], ch2[0], sh[0])
	}
	tx := New()
	tx.Add(ch1)
	tx.SetHash(crypto.SHA256)
	tx.ReplaceWithMessageHash()
	tx.Add(hrr)
	tx.Add(ch2)
	tx.Add(sh)
	want := value(t, tr, "server", `derive secret "tls13 c hs traffic"`, "hash")
	if got := tx.Sum(); !bytes.Equal(got, want) {
		t.Fatalf("transcript hash\n got %x\nwant %x", got, want)
	}

	// Without the replacement the hash differs: the test would notice a
	// transcript that skipped it.
	plain := NewWithHash(crypto.SHA256)
	for _, msg := range [][]byte{ch1, hrr, ch2, sh} {
		plain.Add(msg)
	}
	if bytes.Equal(plain.Sum(), want) {
		t.Fatal("transcript without message_hash matches too")
	}
}

// TestSimpleTranscript checks the transcript hash after ServerHello and
// after the server Finished against the simple trace.
func TestSimpleTranscript(t *testing.T) {
	tr, err := trace.Load(testdata + "draft-tls13-vectors-simple.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := messages(t, tr)
	tx := NewWithHash(crypto.SHA256)
	tx.Add(m[0])
	tx.Add(m[1])
	if got, want := tx.Sum(), value(t, tr, "server", `derive secret "tls13 c hs traffic"`, "hash"); !bytes.Equal(got, want) {
		t.Fatalf("after ServerHello\n got %x\nwant %x", got, want)
	}
	for _, msg := range m[2:6] { // EncryptedExtensions .. server Finished
		tx.Add(msg)
	}
	if got, want := tx.Sum(), value(t, tr, "server", `derive secret "tls13 c ap traffic"`, "hash"); !bytes.Equal(got, want) {
		t.Fatalf("after server Finished\n got %x\nwant %x", got, want)
	}
}

func TestSumWithLeavesTranscript(t *testing.T) {
	tx := NewWithHash(crypto.SHA384)
	tx.Add([]byte("first"))
	before := tx.Sum()
	with := tx.SumWith([]byte("second"))
	if !bytes.Equal(tx.Sum(), before) {
		t.Fatal("SumWith changed the transcript")
	}
	tx.Add([]byte("second"))
	if !bytes.Equal(tx.Sum(), with) {
		t.Fatal("SumWith differs from adding the message")
	}
}
