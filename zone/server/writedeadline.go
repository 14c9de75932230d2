package server

import (
	"crypto/tls"
	"net"
	"time"
)

// tcpWriteTimeout bounds each write of a message on a stream connection.
// A client that stops reading (its receive window closed) would otherwise
// block the write for as long as it keeps the connection open: the read
// and idle timeouts do not run while the server writes, and miekg/dns
// sets no write deadline. A zone transfer holds its snapshot of the zone
// meanwhile (the nodes and arena slabs of that version, however much the
// zone has changed since), so a stalled secondary would pin an old copy
// of the zone without bound. One message of a transfer is at most
// xfrMaxBytes octets: a client reading at all takes it in far less.
const tcpWriteTimeout = 20 * time.Second

// writeDeadlineListener hands out connections whose every Write must
// complete within timeout.
type writeDeadlineListener struct {
	net.Listener
	timeout time.Duration
}

// withWriteDeadlines returns ln with a write deadline on every write of
// its connections (timeout zero or less: tcpWriteTimeout).
func withWriteDeadlines(ln net.Listener, timeout time.Duration) net.Listener {
	if timeout <= 0 {
		timeout = tcpWriteTimeout
	}
	return &writeDeadlineListener{Listener: ln, timeout: timeout}
}

func (l *writeDeadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := &writeDeadlineConn{Conn: c, timeout: l.timeout}
	// A TLS connection keeps ConnectionState, which miekg/dns hands to
	// handlers (the TLS version of transfers, XoT's peer certificate).
	if cs, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return &writeDeadlineStateConn{writeDeadlineConn: wc, cs: cs}, nil
	}
	return wc, nil
}

// writeDeadlineConn sets the write deadline before every write.
type writeDeadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *writeDeadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// writeDeadlineStateConn is a writeDeadlineConn over a TLS connection.
type writeDeadlineStateConn struct {
	*writeDeadlineConn
	cs interface{ ConnectionState() tls.ConnectionState }
}

func (c *writeDeadlineStateConn) ConnectionState() tls.ConnectionState {
	return c.cs.ConnectionState()
}
