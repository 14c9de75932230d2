package record

import (
	"bytes"
	"testing"
)

// countingWriter counts Write calls.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// TestBuffering: while buffering, records leave together in one write,
// before a read, with an alert, or when buffering ends; the bytes are
// those of unbuffered writes, in order.
func TestBuffering(t *testing.T) {
	write := func(c *Conn) {
		c.WriteRecord(TypeHandshake, []byte{1, 2, 3})
		c.WriteRecord(TypeChangeCipherSpec, []byte{1})
		c.WriteRecord(TypeHandshake, []byte{4})
	}
	var plain countingWriter
	write(NewConn(bytes.NewReader(nil), &plain))

	for name, end := range map[string]func(c *Conn) error{
		"buffering ends": func(c *Conn) error { return c.SetBuffering(false) },
		"a read":         func(c *Conn) error { c.ReadRecord(); return nil },
		"an alert":       func(c *Conn) error { return c.WriteRecord(TypeAlert, []byte{2, 40}) },
	} {
		var w countingWriter
		c := NewConn(bytes.NewReader(nil), &w)
		c.SetBuffering(true)
		write(c)
		if w.writes != 0 {
			t.Fatalf("%s: %d writes while buffering, want 0", name, w.writes)
		}
		if err := end(c); err != nil {
			t.Fatal(err)
		}
		want := plain.Bytes()
		if name == "an alert" {
			want = append(append([]byte(nil), want...), byte(TypeAlert), 3, 3, 0, 2, 2, 40)
		}
		if w.writes != 1 || !bytes.Equal(w.Bytes(), want) {
			t.Fatalf("%s: %d writes of % x, want 1 of % x", name, w.writes, w.Bytes(), want)
		}
	}
}
