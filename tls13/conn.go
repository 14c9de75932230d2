package tls13

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/keysched"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// Alert levels (RFC 8446 §6).
const (
	alertLevelWarning = 1
	alertLevelFatal   = 2
)

// maxHandshakeMessage bounds the handshake messages we buffer: a
// certificate chain is the largest message a peer sends us.
const maxHandshakeMessage = 1 << 16

// Limits on records and messages that carry no data, so that a peer cannot
// keep us reading and decrypting without end. RFC 8446 sets none; these
// are the bounds of widely deployed stacks, far above what a well-behaved
// peer needs. Past a limit the connection ends with unexpected_message.
const (
	// maxEmptyRecords bounds consecutive records without content: empty
	// application_data records (allowed by RFC 8446 §5.4) and the
	// compatibility change_cipher_spec (RFC 8446 §5, one is enough).
	maxEmptyRecords = 32
	// maxIgnoredAlerts bounds consecutive user_canceled alerts (RFC 8446
	// §6.1), the only alert a TLS 1.3 connection outlives.
	maxIgnoredAlerts = 4
	// maxKeyUpdates bounds KeyUpdates (RFC 8446 §4.6.3) received with no
	// application data in between.
	maxKeyUpdates = 32
)

// ErrClosed is returned by Read and Write after Close.
var ErrClosed = errors.New("tls13: use of closed connection")

// ErrTruncated is returned by Read when the peer's stream ends without
// close_notify: the data may have been cut short by an attacker or a
// failure (RFC 8446 §6.1). It wraps io.ErrUnexpectedEOF; a close_notify
// ends the stream with io.EOF instead.
var ErrTruncated = fmt.Errorf("tls13: connection closed without close_notify: %w", io.ErrUnexpectedEOF)

// ErrWriteClosed is returned by Write after CloseWrite.
var ErrWriteClosed = errors.New("tls13: write side closed")

var _ net.Conn = (*Conn)(nil)

// RemoteAlertError is the error when the peer sent a fatal alert (or an
// alert other than close_notify and user_canceled, all fatal in TLS 1.3,
// RFC 8446 §6.2).
type RemoteAlertError struct {
	Alert uint8
}

func (e *RemoteAlertError) Error() string {
	return "tls13: peer sent alert " + alert.Description(e.Alert).String()
}

// ConnectionState describes a connection after its handshake.
type ConnectionState struct {
	Version           uint16 // 0x0304
	HandshakeComplete bool
	CipherSuite       uint16
	Group             CurveID
	HelloRetried      bool // the server sent a HelloRetryRequest
	// ServerName is the client's server_name: what the client asked
	// for, or what a server received.
	ServerName string
	// NegotiatedProtocol is the ALPN protocol; "" when none.
	NegotiatedProtocol string
	// PeerCertificates is the peer's chain, end-entity first; after a
	// resumption, the chain of the original connection.
	PeerCertificates []*x509.Certificate
	// PeerRawPublicKey is the peer's raw public key (RFC 7250), a DER
	// SubjectPublicKeyInfo; nil unless that certificate type was
	// negotiated for the peer and it presented one.
	PeerRawPublicKey []byte
	// ClientName is the name of the client's dane_clientid extension
	// (draft-ietf-dance-tls-clientid-07): for a server, the name the
	// client claims, checked for syntax only (authenticating it is
	// VerifyConnection's job); for a client, the name it sent.
	ClientName string
	// DANEClientID reports that the client's Certificate carried
	// dane_clientid. With ClientName empty the client said only that it
	// has a TLSA record and names itself in its certificate (-07 §3).
	DANEClientID bool
	// PeerSignatureScheme is the scheme of the peer's CertificateVerify
	// (RFC 8446 §4.4.3); 0 when the peer sent none (a resumption, or a
	// client without a certificate).
	PeerSignatureScheme uint16
	// Resumed: the handshake resumed a session with a ticket (PSK with
	// (EC)DHE, RFC 8446 §2.2).
	Resumed bool
	// TicketAgeSkew, on a server that resumed, is how far the client's
	// view of the ticket's age (its obfuscated_ticket_age less
	// ticket_age_add, RFC 8446 §4.2.11.1) runs ahead of the server's
	// (negative: behind), the server counting from the second the ticket
	// was issued. It tells how far apart the two clocks ran; the engine
	// accepts no early data, so nothing depends on it (RFC 8446 §8.3
	// bounds it only for 0-RTT). Zero otherwise.
	TicketAgeSkew time.Duration
}

// Conn is a TLS 1.3 connection over a net.Conn. Its handshake runs on the
// first Read or Write, or explicitly with HandshakeContext. Read and Write
// may be called concurrently with each other.
type Conn struct {
	conn     net.Conn
	cfg      *Config
	st       *configState // derived from cfg, set when the handshake starts
	isClient bool
	rc       *record.Conn

	hsMu     sync.Mutex
	hsDone   bool
	hsErr    error
	finished atomic.Bool // hsDone, for Close, which must not wait for hsMu

	inMu      sync.Mutex
	helloSeen bool   // a ClientHello was sent or received
	hsBuf     []byte // handshake bytes not yet a whole message
	appBuf    []byte // application data not yet read; points into the record layer's buffer
	readErr   error  // sticky
	inSec     []byte // current read traffic secret
	// Counts against the limits above, each reset by the record or
	// message that ends the run.
	emptyRecords  int // empty application_data and change_cipher_spec records in a row
	ignoredAlerts int // user_canceled alerts in a row
	keyUpdates    int // KeyUpdates since the last application data

	outMu    sync.Mutex
	writeErr error // sticky
	outSec   []byte
	closed   bool
	// keyUpdateOwed: the peer requested a KeyUpdate, which goes out
	// before our next application data.
	keyUpdateOwed bool

	suite     *record.Suite
	state     ConnectionState
	resMaster []byte // resumption_master_secret, kept by a client with a session cache
	expMaster []byte // exporter_master_secret (RFC 8446 §7.1), for ExportKeyingMaterial
	// hsCtx is the context of the handshake in progress, for
	// Config.VerifyConnection.
	hsCtx context.Context
}

// Client returns a client-side Conn over conn. cfg must not be nil.
func Client(conn net.Conn, cfg *Config) *Conn {
	return &Conn{conn: conn, cfg: cfg, isClient: true, rc: record.NewConn(conn, conn)}
}

// Server returns a server-side Conn over conn. cfg must not be nil and
// must hold a certificate.
func Server(conn net.Conn, cfg *Config) *Conn {
	return &Conn{conn: conn, cfg: cfg, rc: record.NewConn(conn, conn)}
}

// LocalAddr returns the underlying connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the underlying connection's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the underlying connection's deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the underlying connection's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the underlying connection's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// ConnectionState returns what the handshake negotiated.
func (c *Conn) ConnectionState() ConnectionState {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	s := c.state
	s.HandshakeComplete = c.hsDone
	return s
}

// Handshake runs the handshake if it has not run; see HandshakeContext.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext runs the handshake if it has not run yet, and returns its
// result. ctx bounds it: its deadline becomes the connection's for the
// handshake (the connection's deadlines are cleared afterwards), and
// cancelling it interrupts the handshake. A failed handshake
// has sent the alert its error names (errors.As to *RemoteAlertError tells
// when the peer refused instead) and the Conn is then unusable.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone || c.hsErr != nil {
		return c.hsErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
		defer c.conn.SetDeadline(time.Time{})
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		// Wakes a handshake blocked in a read or write.
		c.conn.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	c.inMu.Lock()
	c.outMu.Lock()
	c.hsCtx = ctx
	// Each flight leaves in one write: the record layer holds what the
	// handshake writes until it reads (or sends an alert).
	c.rc.SetBuffering(true)
	err := c.prepareSend()
	switch {
	case err != nil:
	case c.isClient:
		err = c.clientHandshake()
	default:
		err = c.serverHandshake()
	}
	if ferr := c.rc.SetBuffering(false); err == nil {
		err = ferr
	}
	c.hsCtx = nil
	c.outMu.Unlock()
	c.inMu.Unlock()
	if !stop() {
		// Cancelled while or just after the handshake ran: the past
		// deadline must not outlive it.
		<-fired
		if err != nil {
			err = fmt.Errorf("tls13: handshake interrupted: %w (%w)", ctx.Err(), err)
		} else {
			c.conn.SetDeadline(time.Time{})
		}
	}
	if err != nil {
		c.fail(err)
		c.hsErr = err
		c.readErr, c.writeErr = err, err
		return err
	}
	c.hsDone = true
	c.finished.Store(true)
	return nil
}

// fail ends the connection after a fatal error: it sends the alert err
// names, if it names one and the peer did not send one, and makes later
// writes fail. Called with c.outMu not held.
func (c *Conn) fail(err error) {
	var remote *RemoteAlertError
	d, ok := alert.Of(err)
	if !ok && !errors.As(err, &remote) {
		return
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if ok && c.writeErr == nil && !c.closed {
		c.sendAlertLocked(d)
	}
	if c.writeErr == nil {
		c.writeErr = err
	}
}

// sendAlertLocked writes one alert record; c.outMu is held.
func (c *Conn) sendAlertLocked(d alert.Description) error {
	level := byte(alertLevelFatal)
	if d == alert.CloseNotify || d == alert.UserCanceled {
		level = alertLevelWarning
	}
	return c.rc.WriteRecord(record.TypeAlert, []byte{level, byte(d)})
}

// readRecord reads one record, handling alerts and the compatibility
// change_cipher_spec. c.inMu is held.
func (c *Conn) readRecord(handshaking bool) (record.ContentType, []byte, error) {
	for {
		typ, data, err := c.rc.ReadRecord()
		if err == io.EOF {
			// The stream ended at a record boundary; only
			// close_notify (below) is a clean end.
			return 0, nil, ErrTruncated
		}
		if err != nil {
			return 0, nil, err
		}
		if typ == record.TypeChangeCipherSpec || len(data) == 0 {
			if c.emptyRecords++; c.emptyRecords > maxEmptyRecords {
				return 0, nil, alert.Errorf(alert.UnexpectedMessage, "too many empty records: more than %d in a row", maxEmptyRecords)
			}
		} else {
			c.emptyRecords = 0
		}
		if typ != record.TypeAlert {
			c.ignoredAlerts = 0
		}
		switch typ {
		case record.TypeChangeCipherSpec:
			// RFC 8446 §5: a change_cipher_spec of the single byte
			// 0x01, received after the first ClientHello and before
			// the peer's Finished, is dropped; any other is an
			// unexpected_message.
			if !handshaking || !c.helloSeen || len(data) != 1 || data[0] != 1 {
				return 0, nil, alert.Errorf(alert.UnexpectedMessage, "change_cipher_spec record")
			}
			continue
		case record.TypeAlert:
			if len(data) != 2 {
				return 0, nil, alert.Errorf(alert.DecodeError, "alert of %d octets", len(data))
			}
			if alert.Description(data[1]) == alert.CloseNotify {
				return 0, nil, io.EOF
			}
			if alert.Description(data[1]) == alert.UserCanceled {
				// RFC 8446 §6.1: not an error alert; the
				// close_notify that should follow ends the
				// connection.
				if c.ignoredAlerts++; c.ignoredAlerts > maxIgnoredAlerts {
					return 0, nil, alert.Errorf(alert.UnexpectedMessage, "too many user_canceled alerts: more than %d in a row", maxIgnoredAlerts)
				}
				continue
			}
			// RFC 8446 §6.2: every other alert is fatal, whatever
			// its level.
			return 0, nil, &RemoteAlertError{Alert: data[1]}
		}
		return typ, data, nil
	}
}

// readHandshake returns the next handshake message. c.inMu is held.
func (c *Conn) readHandshake() ([]byte, error) {
	for {
		msg, rest, ok, err := wire.SplitMessage(c.hsBuf, maxHandshakeMessage)
		if err != nil {
			return nil, err
		}
		if ok {
			c.helloSeen = true
			out := append([]byte(nil), msg...)
			c.hsBuf = append(c.hsBuf[:0], rest...)
			return out, nil
		}
		typ, data, err := c.readRecord(!c.hsDone)
		if err != nil {
			if err == io.EOF {
				// close_notify in the middle of the handshake.
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if typ != record.TypeHandshake {
			return nil, alert.Errorf(alert.UnexpectedMessage, "%v record during the handshake", typ)
		}
		c.hsBuf = append(c.hsBuf, data...)
	}
}

// setReadSecret switches the read keys. RFC 8446 §5.1: handshake messages
// must not span a key change, so nothing may be left buffered.
func (c *Conn) setReadSecret(secret []byte) error {
	if len(c.hsBuf) != 0 {
		return alert.Errorf(alert.UnexpectedMessage, "handshake message spans a key change")
	}
	c.rc.SetReadCipher(record.NewCipher(c.suite, secret))
	clear(c.inSec)
	c.inSec = secret
	return nil
}

func (c *Conn) setWriteSecret(secret []byte) {
	c.rc.SetWriteCipher(record.NewCipher(c.suite, secret))
	clear(c.outSec)
	c.outSec = secret
}

// Read reads application data, running the handshake first if needed.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.inMu.Lock()
	defer c.inMu.Unlock()
	for len(c.appBuf) == 0 {
		if c.readErr != nil {
			return 0, c.readErr
		}
		if err := c.readPostHandshake(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// A read deadline: the record layer keeps what it
				// has of the record, and a KeyUpdate owed is sent
				// by Write, so nothing is lost and the connection
				// stays usable (net/http interrupts its background
				// read between requests this way).
				return 0, err
			}
			c.readErr = err
			if err != io.EOF {
				c.fail(err)
			}
			return 0, err
		}
		if len(b) == 0 {
			return 0, nil
		}
	}
	n := copy(b, c.appBuf)
	c.appBuf = c.appBuf[n:]
	return n, nil
}

// readPostHandshake reads one record after the handshake: application data
// is buffered, handshake messages are processed. c.inMu is held.
func (c *Conn) readPostHandshake() error {
	typ, data, err := c.readRecord(false)
	if err != nil {
		return err
	}
	switch typ {
	case record.TypeApplicationData:
		if len(c.hsBuf) != 0 {
			// RFC 8446 §5.1: handshake messages must not be
			// interleaved with other record types.
			return alert.Errorf(alert.UnexpectedMessage, "application data inside a handshake message")
		}
		// No copy: the record layer keeps data until the next record
		// is read, which happens only once appBuf is drained.
		c.appBuf = data
		if len(data) != 0 {
			c.keyUpdates = 0
		}
		return nil
	case record.TypeHandshake:
		c.hsBuf = append(c.hsBuf, data...)
	default:
		return alert.Errorf(alert.UnexpectedMessage, "%v record after the handshake", typ)
	}
	for {
		msg, rest, ok, err := wire.SplitMessage(c.hsBuf, maxHandshakeMessage)
		if err != nil || !ok {
			return err
		}
		c.hsBuf = append(c.hsBuf[:0], rest...)
		if err := c.handlePostHandshake(msg); err != nil {
			return err
		}
	}
}

func (c *Conn) handlePostHandshake(msg []byte) error {
	switch wire.HandshakeType(msg[0]) {
	case wire.TypeNewSessionTicket:
		if !c.isClient {
			return alert.Errorf(alert.UnexpectedMessage, "NewSessionTicket from a client")
		}
		var m wire.NewSessionTicket
		if err := m.Unmarshal(msg); err != nil {
			return err
		}
		c.storeTicket(&m)
		return nil
	case wire.TypeKeyUpdate:
		var m wire.KeyUpdate
		if err := m.Unmarshal(msg); err != nil {
			return err
		}
		if c.keyUpdates++; c.keyUpdates > maxKeyUpdates {
			return alert.Errorf(alert.UnexpectedMessage, "too many KeyUpdates: more than %d without application data", maxKeyUpdates)
		}
		// RFC 8446 §4.6.3: the next record is protected with the
		// sender's next traffic secret.
		if err := c.setReadSecret(keysched.NextTrafficSecret(c.suite.Hash, c.inSec)); err != nil {
			return err
		}
		if m.RequestUpdate == wire.UpdateRequested {
			// RFC 8446 §4.6.3: our own KeyUpdate is due before our
			// next application data record, so requests that arrive
			// while we are silent get one answer (Write sends it).
			c.outMu.Lock()
			c.keyUpdateOwed = true
			c.outMu.Unlock()
		}
		return nil
	}
	// Post-handshake authentication was not offered, and every other
	// message belongs to the handshake (RFC 8446 §4.6).
	return alert.Errorf(alert.UnexpectedMessage, "%v after the handshake", wire.HandshakeType(msg[0]))
}

// sendKeyUpdateLocked sends a KeyUpdate and moves to the next write secret.
// c.outMu is held.
func (c *Conn) sendKeyUpdateLocked(request bool) error {
	m := wire.KeyUpdate{RequestUpdate: wire.UpdateNotRequested}
	if request {
		m.RequestUpdate = wire.UpdateRequested
	}
	if err := c.rc.WriteRecord(record.TypeHandshake, m.Marshal()); err != nil {
		return err
	}
	c.keyUpdateOwed = false
	c.setWriteSecret(keysched.NextTrafficSecret(c.suite.Hash, c.outSec))
	return nil
}

// UpdateKeys sends a KeyUpdate (RFC 8446 §4.6.3) and protects what follows
// with the next traffic secret; with requestPeer the peer is asked to update
// its own keys too.
func (c *Conn) UpdateKeys(requestPeer bool) error {
	if err := c.Handshake(); err != nil {
		return err
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.writeErr != nil {
		return c.writeErr
	}
	if c.closed {
		return ErrClosed
	}
	if err := c.sendKeyUpdateLocked(requestPeer); err != nil {
		c.writeErr = err
		return err
	}
	return nil
}

// Write writes application data, running the handshake first if needed.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.writeErr != nil {
		return 0, c.writeErr
	}
	if c.closed {
		return 0, ErrClosed
	}
	if c.keyUpdateOwed || c.rc.WriteCipher().NeedsRekey() {
		// The peer asked for a KeyUpdate (RFC 8446 §4.6.3), or the
		// keys near the AEAD's limit (RFC 8446 §5.5).
		if err := c.sendKeyUpdateLocked(false); err != nil {
			c.writeErr = err
			return 0, err
		}
	}
	if err := c.rc.WriteRecord(record.TypeApplicationData, b); err != nil {
		c.writeErr = err
		return 0, err
	}
	return len(b), nil
}

// CloseWrite sends close_notify (RFC 8446 §6.1: the sender will write no
// more) and shuts the underlying connection's write side when it can, as a
// *net.TCPConn can. Read keeps working until the peer closes too.
func (c *Conn) CloseWrite() error {
	if !c.finished.Load() {
		return errors.New("tls13: CloseWrite before the handshake completed")
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.writeErr != nil {
		return c.writeErr
	}
	if c.closed {
		return ErrClosed
	}
	err := c.sendAlertLocked(alert.CloseNotify)
	c.writeErr = ErrWriteClosed
	if err != nil {
		return err
	}
	if cw, ok := c.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close sends close_notify (RFC 8446 §6.1), if the handshake completed and
// CloseWrite did not send it already, and closes the underlying
// connection.
func (c *Conn) Close() error {
	var alertErr error
	done := c.finished.Load()
	if !done {
		// A handshake in progress holds the locks; closing the
		// connection wakes it.
		return c.conn.Close()
	}
	c.outMu.Lock()
	if done && !c.closed && c.writeErr == nil {
		c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		alertErr = c.sendAlertLocked(alert.CloseNotify)
	}
	c.closed = true
	c.outMu.Unlock()
	if err := c.conn.Close(); err != nil {
		return err
	}
	return alertErr
}
