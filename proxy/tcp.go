package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsbound/dance/proxy/proxyproto"
	"github.com/dnsbound/dance/verify"
)

// tlsVersionNames are the PP2_SUBTYPE_SSL_VERSION strings (spec §2.2.5
// gives "TLSv1.3" style names, as OpenSSL prints them).
var tlsVersionNames = map[uint16]string{
	tls.VersionTLS12: "TLSv1.2",
	tls.VersionTLS13: "TLSv1.3",
}

func (s *Server) serveTCP(hl *handshakeListener) error {
	for {
		c, err := hl.Accept()
		if err != nil {
			return err
		}
		tc := c.(clientConn)
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			tc.Close()
			return ErrServerClosed
		}
		s.conns[tc] = struct{}{}
		s.tcpWG.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.tcpWG.Done()
			s.forwardTCP(tc)
			s.mu.Lock()
			delete(s.conns, tc)
			s.mu.Unlock()
		}()
	}
}

// header builds the PROXY v2 header for an authenticated connection: the
// client's address and the address it reached, the subject in the
// configured TLV and, if asked, PP2_TYPE_SSL.
func (s *Server) header(tc net.Conn, st connInfo, id *verify.Identity) ([]byte, error) {
	h := proxyproto.Header{
		Source:      addrPort(tc.RemoteAddr()),
		Destination: addrPort(tc.LocalAddr()),
		TLVs:        []proxyproto.TLV{{Type: s.cfg.TLVType, Value: []byte(id.Subject())}},
	}
	if s.cfg.SSLTLV {
		var sub []proxyproto.TLV
		if v, ok := tlsVersionNames[st.version]; ok {
			sub = append(sub, proxyproto.TLV{Type: proxyproto.SubtypeSSLVersion, Value: []byte(v)})
		}
		sub = append(sub, proxyproto.TLV{Type: proxyproto.SubtypeSSLCipher, Value: []byte(tls.CipherSuiteName(st.suite))})
		// A resumed session carries the certificate of the session's
		// first connection (ClientCertSess); otherwise it was presented on
		// this one.
		client := byte(proxyproto.ClientSSL | proxyproto.ClientCertConn)
		if st.resumed {
			client = proxyproto.ClientSSL | proxyproto.ClientCertSess
		}
		h.TLVs = append(h.TLVs, proxyproto.TLV{Type: proxyproto.TypeSSL, Value: proxyproto.SSL(client, true, sub...)})
	}
	return h.Marshal(false)
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func (s *Server) forwardTCP(tc clientConn) {
	defer tc.Close()
	remote := tc.RemoteAddr().String()
	st := infoOf(tc)
	if st.auth == nil {
		s.log.Error("proxy: connection without an authenticated client reached the forwarder; closed", "remote", remote)
		return
	}
	id := st.auth.id
	hdr, err := s.header(tc, st, id)
	if err != nil {
		s.log.Error("proxy: PROXY header", "remote", remote, "err", err)
		return
	}
	connCtx := s.connContext(tc)
	ctx, cancel := context.WithTimeout(connCtx, s.cfg.DialTimeout)
	d := net.Dialer{}
	bc, err := d.DialContext(ctx, "tcp", s.cfg.Backend)
	cancel()
	if err != nil {
		s.metrics.backendErrors.Inc()
		s.log.Warn("proxy: backend unreachable", "remote", remote, "subject", id.Subject(), "backend", s.cfg.Backend, "err", err)
		return
	}
	defer bc.Close()
	s.mu.Lock()
	s.conns[bc] = struct{}{}
	s.mu.Unlock()
	defer func() { s.mu.Lock(); delete(s.conns, bc); s.mu.Unlock() }()

	_ = bc.SetWriteDeadline(time.Now().Add(s.cfg.DialTimeout))
	if _, err := bc.Write(hdr); err != nil {
		s.metrics.backendErrors.Inc()
		s.log.Warn("proxy: writing the PROXY header failed", "remote", remote, "backend", s.cfg.Backend, "err", err)
		return
	}
	_ = bc.SetWriteDeadline(time.Time{})
	s.metrics.forwardedMode.Inc()
	s.pipe(connCtx, tc, bc, newRenewal(s, st.auth))
}

// pipe copies both ways until both directions have ended, passing on
// half-closes. The connection is idle, and closed, when neither direction
// has moved a byte for IdleTimeout.
//
// Before bytes pass in either direction after the identity's verdict has
// expired, the identity is verified again under ctx, the client
// connection's, which ends when it is closed or the server stops; a
// refusal closes both sides.
func (s *Server) pipe(ctx context.Context, client clientConn, backend net.Conn, rn *renewal) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	idle := s.cfg.IdleTimeout
	var wg sync.WaitGroup
	wg.Add(2)
	copyDir := func(dst, src net.Conn, closeWrite func() error) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			_ = src.SetReadDeadline(time.Now().Add(idle))
			n, err := src.Read(buf)
			if n > 0 {
				if _, rerr := rn.current(ctx); rerr != nil {
					s.renewalFailed(ctx, "proxy: identity no longer valid; connection closed", client.RemoteAddr().String(), rerr)
					client.Close()
					backend.Close()
					return
				}
				last.Store(time.Now().UnixNano())
				_ = dst.SetWriteDeadline(time.Now().Add(idle))
				if _, werr := dst.Write(buf[:n]); werr != nil {
					client.Close()
					backend.Close()
					return
				}
			}
			if err == nil {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, last.Load())) < idle {
				continue // the other direction is busy: not idle
			}
			if errors.Is(err, io.EOF) {
				_ = closeWrite()
				return
			}
			client.Close()
			backend.Close()
			return
		}
	}
	go copyDir(backend, client, func() error {
		if cw, ok := backend.(interface{ CloseWrite() error }); ok {
			return cw.CloseWrite()
		}
		return nil
	})
	go copyDir(client, backend, client.CloseWrite)
	wg.Wait()
}
