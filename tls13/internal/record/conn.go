package record

import (
	"errors"
	"io"

	"github.com/dnsbound/dance/tls13/internal/alert"
)

// Conn reads and writes the records of one connection. Until a Cipher is set
// for a direction its records are unprotected TLSPlaintext; after, they are
// TLSCiphertext. It is not safe for concurrent use by several readers or by
// several writers; one reader and one writer may run at the same time.
type Conn struct {
	r io.Reader
	w io.Writer

	in, out *Cipher

	// inLimit is the largest TLSInnerPlaintext we accept: the
	// record_size_limit we advertised, or MaxInnerPlaintext.
	inLimit int
	// outLimit is the largest TLSInnerPlaintext we send: the peer's
	// record_size_limit, or MaxInnerPlaintext.
	outLimit int
	// maxFragment, when not zero, is the largest content we put in one
	// record, protected or not: our own cap (SetMaxFragment).
	maxFragment int

	// Padding, if set, returns how many zero bytes to add after a
	// protected record's content of n octets (RFC 8446 §5.4); the result
	// is capped so that the record stays within the limit.
	Padding func(n int) int

	// rbuf holds bytes read from r: rbuf[rpos:rend] are not yet
	// consumed. Reads ask for as much as fits, so a stream of records
	// costs about one read call per record or less, not two.
	rbuf       []byte
	rpos, rend int
	wbuf       []byte

	// While buffering, records written wait in pending and leave
	// together, in one write, before the next read, with an alert, or at
	// Flush: a handshake flight costs one system call, not one per
	// record.
	buffering bool
	pending   []byte

	skipBudget int // octets of rejected early data still to drop; see SkipEarlyData
}

// NewConn returns a Conn reading from r and writing to w, unprotected, with
// the protocol's own size limits.
func NewConn(r io.Reader, w io.Writer) *Conn {
	return &Conn{r: r, w: w, inLimit: MaxInnerPlaintext, outLimit: MaxInnerPlaintext}
}

// SetReadCipher protects the records read from now on with c.
func (c *Conn) SetReadCipher(ci *Cipher) { c.in = ci }

// SetWriteCipher protects the records written from now on with ci.
func (c *Conn) SetWriteCipher(ci *Cipher) { c.out = ci }

// ReadCipher and WriteCipher return the current ciphers, nil when unprotected.
func (c *Conn) ReadCipher() *Cipher  { return c.in }
func (c *Conn) WriteCipher() *Cipher { return c.out }

// CheckRecordSizeLimit validates a record_size_limit value received from a
// peer (RFC 8449 §4) and returns the TLSInnerPlaintext limit it sets for our
// protected records: a value below 64 is an illegal_parameter; a value above
// 2^14+1 is allowed in the extension but caps at 2^14+1.
func CheckRecordSizeLimit(v uint16) (int, error) {
	if v < MinRecordSizeLimit {
		return 0, alert.Errorf(alert.IllegalParameter, "record_size_limit %d below %d", v, MinRecordSizeLimit)
	}
	return min(int(v), MaxInnerPlaintext), nil
}

// SetReadLimit sets the largest TLSInnerPlaintext accepted in protected
// records: the record_size_limit we advertised (RFC 8449). n must be between
// 64 and MaxInnerPlaintext.
func (c *Conn) SetReadLimit(n int) {
	if n < MinRecordSizeLimit || n > MaxInnerPlaintext {
		panic("record: read limit out of range")
	}
	c.inLimit = n
}

// SetWriteLimit sets the largest TLSInnerPlaintext of the protected records
// we send: the limit returned by CheckRecordSizeLimit for the peer's value.
func (c *Conn) SetWriteLimit(n int) {
	if n < MinRecordSizeLimit || n > MaxInnerPlaintext {
		panic("record: write limit out of range")
	}
	c.outLimit = n
}

// SetMaxFragment caps the content of every record written from now on,
// protected or not, at n octets, below what the protocol and the peer's
// record_size_limit allow; 0 removes the cap. n must be 0 or between
// MinRecordSizeLimit-1 and MaxPlaintext.
func (c *Conn) SetMaxFragment(n int) {
	if n != 0 && (n < MinRecordSizeLimit-1 || n > MaxPlaintext) {
		panic("record: fragment cap out of range")
	}
	c.maxFragment = n
}

// ReadRecord reads the next record and returns its content type and content,
// decrypted when a read cipher is set. The content is valid until the next
// call.
//
// With a read cipher set, an unprotected change_cipher_spec record is
// returned as it is, for the handshake layer to drop or refuse (RFC 8446
// §5); any other unprotected record is an unexpected_message. Without one, a
// record of type application_data is returned unopened. Zero-length
// handshake and alert records are unexpected_message (RFC 8446 §5.1 forbids
// sending them).
func (c *Conn) ReadRecord() (ContentType, []byte, error) {
	if err := c.Flush(); err != nil {
		return 0, nil, err
	}
	for {
		typ, content, skipped, err := c.readRecord()
		if !skipped {
			if err == nil && typ != TypeChangeCipherSpec {
				// The first record that is not early data ends the
				// skipping (RFC 8446 §4.2.10).
				c.skipBudget = 0
			}
			return typ, content, err
		}
	}
}

// SkipEarlyData makes ReadRecord drop the client's rejected early data
// (RFC 8446 §4.2.10), up to budget octets of record bodies in all: before
// read keys are set, application_data records (the client sent 0-RTT data
// before our HelloRetryRequest reached it); with keys set, protected
// records that fail to decrypt under them (0-RTT data under keys we do not
// have). Skipping ends at the first other record (change_cipher_spec
// aside); past the budget, records are refused as usual.
func (c *Conn) SkipEarlyData(budget int) { c.skipBudget = budget }

func (c *Conn) readRecord() (typ ContentType, content []byte, skipped bool, err error) {
	typ, content, err = c.readOne()
	if se, ok := err.(skipErr); ok {
		return 0, nil, true, se.err
	}
	return typ, content, false, err
}

// skipErr marks a record dropped as early data; err is nil.
type skipErr struct{ err error }

func (skipErr) Error() string { return "record: early data skipped" }

func (c *Conn) readOne() (ContentType, []byte, error) {
	if err := c.fill(HeaderLen); err != nil {
		return 0, nil, err
	}
	buf := c.rbuf[c.rpos : c.rpos+HeaderLen]
	typ := ContentType(buf[0])
	n := int(buf[3])<<8 | int(buf[4])
	switch typ {
	case TypeChangeCipherSpec, TypeAlert, TypeHandshake, TypeApplicationData:
	default:
		return 0, nil, alert.Errorf(alert.UnexpectedMessage, "record of unknown type %d", uint8(typ))
	}
	protected := c.in != nil && typ == TypeApplicationData
	if n > MaxCiphertext || (!protected && n > MaxPlaintext) {
		return 0, nil, alert.Errorf(alert.RecordOverflow, "record of %d octets", n)
	}
	if err := c.fill(HeaderLen + n); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	buf = c.rbuf[c.rpos : c.rpos+HeaderLen+n]
	c.rpos += HeaderLen + n
	content := buf[HeaderLen:]
	// Only while skipping was asked for, and never an empty record: 0-RTT
	// records are protected and so at least an AEAD tag long (RFC 8446
	// §5.2). An empty application_data record before the handshake is
	// handed up and refused there (unexpected_message).
	skippable := typ == TypeApplicationData && n > 0 && n <= c.skipBudget
	if skippable && !protected {
		c.skipBudget -= n
		return 0, nil, skipErr{}
	}
	if protected {
		var err error
		typ, content, err = c.in.Open(buf, c.inLimit)
		if err != nil {
			var ae *alert.Error
			if skippable && errors.As(err, &ae) && ae.Alert == alert.BadRecordMAC {
				c.skipBudget -= n
				return 0, nil, skipErr{}
			}
			return 0, nil, err
		}
		switch typ {
		case TypeAlert, TypeHandshake, TypeApplicationData:
		default:
			// change_cipher_spec is never protected (RFC 8446 §5).
			return 0, nil, alert.Errorf(alert.UnexpectedMessage, "protected record of type %v", typ)
		}
	} else if c.in != nil && typ != TypeChangeCipherSpec {
		return 0, nil, alert.Errorf(alert.UnexpectedMessage, "unprotected %v record after keys changed", typ)
	}
	if len(content) == 0 && (typ == TypeHandshake || typ == TypeAlert) {
		return 0, nil, alert.Errorf(alert.UnexpectedMessage, "zero-length %v record", typ)
	}
	return typ, content, nil
}

// fill makes at least n unconsumed bytes available at c.rbuf[c.rpos:],
// n <= HeaderLen+MaxCiphertext. At the end of the stream it returns io.EOF
// if nothing is buffered and io.ErrUnexpectedEOF if a partial record is.
func (c *Conn) fill(n int) error {
	if c.rbuf == nil {
		c.rbuf = make([]byte, HeaderLen+MaxCiphertext)
	}
	if c.rpos+n > len(c.rbuf) {
		// Move the partial record to the front to make room.
		c.rend = copy(c.rbuf, c.rbuf[c.rpos:c.rend])
		c.rpos = 0
	}
	for c.rend-c.rpos < n {
		m, err := c.r.Read(c.rbuf[c.rend:])
		c.rend += m
		if c.rend-c.rpos >= n {
			return nil
		}
		if err != nil {
			if err == io.EOF && c.rend > c.rpos {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// WriteRecord writes data of type typ as one or more records. Handshake and
// application data are split into records as the limits require; an alert or
// change_cipher_spec must fit one record. Zero-length data writes one empty
// record, which only application data may be (RFC 8446 §5.1).
func (c *Conn) WriteRecord(typ ContentType, data []byte) error {
	if (typ == TypeAlert || typ == TypeChangeCipherSpec || typ == TypeHandshake) && len(data) == 0 {
		return alert.Errorf(alert.InternalError, "zero-length %v record", typ)
	}
	if c.out != nil && typ == TypeChangeCipherSpec {
		// The compatibility change_cipher_spec is sent unprotected.
		return c.writeOne(typ, data, false)
	}
	max := MaxPlaintext
	if c.out != nil {
		max = min(MaxPlaintext, c.outLimit-1)
	}
	if c.maxFragment > 0 {
		max = min(max, c.maxFragment)
	}
	if (typ == TypeAlert || typ == TypeChangeCipherSpec) && len(data) > max {
		return alert.Errorf(alert.InternalError, "%v of %d octets does not fit a record", typ, len(data))
	}
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), max)
		if err := c.writeOne(typ, data[:n], c.out != nil); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func (c *Conn) writeOne(typ ContentType, frag []byte, protect bool) error {
	c.wbuf = c.wbuf[:0]
	if !protect {
		c.wbuf = append(c.wbuf, byte(typ), LegacyVersion>>8, LegacyVersion&0xff, byte(len(frag)>>8), byte(len(frag)))
		c.wbuf = append(c.wbuf, frag...)
	} else {
		pad := 0
		if c.Padding != nil {
			pad = max(0, min(c.Padding(len(frag)), c.outLimit-1-len(frag)))
		}
		var err error
		c.wbuf, err = c.out.Seal(c.wbuf, typ, frag, pad, c.outLimit)
		if err != nil {
			return err
		}
	}
	if c.buffering && typ != TypeAlert {
		c.pending = append(c.pending, c.wbuf...)
		return nil
	}
	if len(c.pending) > 0 {
		// An alert goes out after what it follows.
		c.pending = append(c.pending, c.wbuf...)
		return c.Flush()
	}
	_, err := c.w.Write(c.wbuf)
	return err
}

// SetBuffering starts or ends buffering (see Conn.pending); ending it
// flushes.
func (c *Conn) SetBuffering(on bool) error {
	c.buffering = on
	if on {
		return nil
	}
	err := c.Flush()
	c.pending = nil
	return err
}

// Flush writes the records buffered.
func (c *Conn) Flush() error {
	if len(c.pending) == 0 {
		return nil
	}
	_, err := c.w.Write(c.pending)
	c.pending = c.pending[:0]
	return err
}
