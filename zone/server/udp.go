package server

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/dnsbound/dance/zone/internal/zoneaccess"
)

// UDP is served by the server's own loops rather than the dns library's,
// one per core (udpLoopCount), each on its own descriptor of the socket
// (udpConns) with buffers of its own: they read and write packets in
// batches (recvmmsg/sendmmsg on Linux, udp_linux.go), and answer a plain
// query whose answer is in the response cache, or a positive one the
// zone's packed records hold (directUDP), straight from the packet bytes,
// before any message is parsed and without allocating. Everything else
// (negative answers, EDNS options, TSIG, UPDATE, malformed input) takes
// the same path as TCP: unpack, handle, pack. What the loops share is
// safe for concurrent use: the response cache (a read lock per lookup),
// the metrics (atomic counters), the rate limits (limit.go).

const (
	udpBatch   = 32
	udpMaxRecv = dns.MaxMsgSize
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

type v6Batch struct{ *ipv6.PacketConn }

func (c v6Batch) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	return c.PacketConn.ReadBatch(ms, flags)
}
func (c v6Batch) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	return c.PacketConn.WriteBatch(ms, flags)
}

func newBatchConn(pc net.PacketConn) batchConn {
	if a, ok := pc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil && !a.IP.IsUnspecified() {
		return v6Batch{ipv6.NewPacketConn(pc)}
	}
	return ipv4.NewPacketConn(pc)
}

// udpBatcher reads and writes one loop's batches of datagrams. Each loop
// has its own; nothing in it is shared. Linux uses recvmmsg and sendmmsg
// on buffers allocated once (udp_linux.go); elsewhere, or when the
// socket gives no raw access, golang.org/x/net's batches (xnetBatcher).
type udpBatcher interface {
	// read waits for at least one datagram and reads up to udpBatch.
	read() (int, error)
	// packet is the i-th datagram read, valid until the next read.
	packet(i int) []byte
	// peer is the sender of the i-th datagram (the general path and the
	// logs want it; it may allocate).
	peer(i int) net.Addr
	// answer queues resp, sent to the sender of datagram i, in out slot
	// k; resp must stay untouched until write has sent it.
	answer(k, i int, resp []byte)
	// write sends the out slots from..to-1 and reports how many were
	// sent; on an error, the slot from failed.
	write(from, to int) (int, error)
	// clear drops the references of the first k out slots.
	clear(k int)
}

// xnetBatcher is a udpBatcher over golang.org/x/net's batches, which
// allocate the peer address of every datagram read.
type xnetBatcher struct {
	bc      batchConn
	in, out []ipv4.Message
}

func newXnetBatcher(pc net.PacketConn) *xnetBatcher {
	b := &xnetBatcher{
		bc:  newBatchConn(pc),
		in:  make([]ipv4.Message, udpBatch),
		out: make([]ipv4.Message, udpBatch),
	}
	// One backing array for the out messages' single buffers, so that
	// queueing an answer allocates nothing.
	outBufs := make([][]byte, udpBatch)
	for i := range b.in {
		b.in[i].Buffers = [][]byte{make([]byte, udpMaxRecv)}
		b.out[i].Buffers = outBufs[i : i+1 : i+1]
	}
	return b
}

func (b *xnetBatcher) read() (int, error)  { return b.bc.ReadBatch(b.in, 0) }
func (b *xnetBatcher) packet(i int) []byte { return b.in[i].Buffers[0][:b.in[i].N] }
func (b *xnetBatcher) peer(i int) net.Addr { return b.in[i].Addr }
func (b *xnetBatcher) answer(k, i int, resp []byte) {
	b.out[k].Buffers[0] = resp
	b.out[k].Addr = b.in[i].Addr
}
func (b *xnetBatcher) write(from, to int) (int, error) { return b.bc.WriteBatch(b.out[from:to], 0) }
func (b *xnetBatcher) clear(k int) {
	for i := 0; i < k; i++ {
		b.out[i].Buffers[0], b.out[i].Addr = nil, nil
	}
}

// udpLoopCount is the number of UDP reader loops: one per core the Go
// runtime uses (GOMAXPROCS), and at least two, so that one answers while
// another waits in a system call.
func (s *Server) udpLoopCount() int {
	if s.cfg.udpLoops > 0 {
		return s.cfg.udpLoops
	}
	return max(2, runtime.GOMAXPROCS(0))
}

// udpConns returns n connections reading the socket of pc: pc itself and
// n-1 duplicates of its descriptor. Each has its own lock in the Go
// runtime (a net.PacketConn reads one call at a time), so the loops read
// and write in parallel, while the kernel keeps one receive queue: whichever
// loop is free takes the next packets, however few clients send them.
// A socket that cannot be duplicated is shared by the loops instead.
// The caller closes the duplicates (closeConns(conns[1:])): closing pc
// alone leaves the socket open and their readers waiting.
func (s *Server) udpConns(pc net.PacketConn, n int) []net.PacketConn {
	conns := []net.PacketConn{pc}
	fc, ok := pc.(interface{ File() (*os.File, error) })
	for len(conns) < n {
		if ok {
			dup, err := dupPacketConn(fc)
			if err == nil {
				conns = append(conns, dup)
				continue
			}
			s.log.Warn("udp socket not duplicated; the reader loops share one descriptor", "err", err)
			ok = false
		}
		conns = append(conns, pc)
	}
	return conns
}

// dupPacketConn is a second connection on the socket of fc.
func dupPacketConn(fc interface{ File() (*os.File, error) }) (net.PacketConn, error) {
	f, err := fc.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FilePacketConn(f)
}

// closeConns closes each connection (closing twice is harmless).
func closeConns(conns []net.PacketConn) {
	for _, c := range conns {
		c.Close()
	}
}

// serveUDP reads from pc until it is closed. Several loops may read the
// same socket (Serve starts one per core); each has its own buffers.
func (s *Server) serveUDP(ctx context.Context, pc net.PacketConn) error {
	s.udpRunning.Add(1)
	defer s.udpRunning.Add(-1)
	var b udpBatcher
	if !s.cfg.udpPortable {
		b = newMmsgBatcher(pc)
	}
	if b == nil {
		b = newXnetBatcher(pc)
	}
	// bufs[i] is where the answer to datagram i is built when the fast
	// paths take it; it grows to the largest answer and is kept.
	bufs := make([][]byte, udpBatch)
	keyBuf := make([]byte, 0, 300)
	// src[k] is the datagram out slot k answers.
	var src [udpBatch]int
	for {
		n, err := b.read()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.log.Warn("udp read", "err", err)
			continue
		}
		// The zone's serial and clock once per batch: every datagram of
		// it was received before they were read, so each answer still
		// shows the zone as it was at some moment between query and
		// answer.
		serial, now := s.cfg.Zone.Serial(), s.cfg.Zone.Now()
		k := 0
		for i := 0; i < n; i++ {
			pkt := b.packet(i)
			var resp []byte
			if q, ok := s.parsePlain(pkt); ok {
				key := q.appendKey(keyBuf[:0])
				resp = s.cache.getBytes(key, q.id, serial, now, bufs[i])
				if resp != nil {
					bufs[i] = resp
					s.metrics.count(outcomeCacheHit)
				} else if resp = s.directUDP(q, bufs[i]); resp != nil {
					bufs[i] = resp
					s.metrics.count(outcomeDirect)
				}
			}
			if resp == nil {
				resp = s.slowUDP(pkt, b.peer(i))
			}
			if resp != nil {
				b.answer(k, i, resp)
				src[k] = i
				k++
			}
		}
		for from := 0; from < k; {
			w, err := b.write(from, k)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return nil
				}
				// A forged source (port 0: EINVAL) fails
				// each write: one line per interval.
				s.logRefused(logUDPWrite, "udp write", "peer", b.peer(src[from]), "err", err)
				w = 1 // skip the message that failed
			}
			from += w
		}
		// Answers made by the general path are not reused.
		b.clear(k)
	}
}

// plainQuery is a query parsed straight from the packet by parsePlain.
type plainQuery struct {
	id, bits uint16
	// name is the question name in wire form, as sent.
	name  []byte
	qtype uint16
	// flags are the request bits that change the answer (cache key bits).
	flags uint16
	// size is the UDP size the answer must fit.
	size int
}

// appendKey appends q's response cache key to buf: the key the general
// path computes for the same query (respCache.key).
func (q *plainQuery) appendKey(buf []byte) []byte {
	return appendKey(buf, q.name, q.qtype, q.flags, uint16(q.size))
}

// Header bits (RFC 1035 §4.1.1, RFC 4035 §3.2).
const (
	hdrQR         = 1 << 15
	hdrOpcodeMask = 0xF << 11
	hdrAA         = 1 << 10
	hdrTC         = 1 << 9
	hdrRD         = 1 << 8
	hdrZ          = 1 << 6
	hdrCD         = 1 << 4
)

// parsePlain parses a plain query straight from the packet: one question,
// class IN, no answer or authority records, at most a bare OPT (version
// 0, no options). Anything else reports false.
func (s *Server) parsePlain(pkt []byte) (plainQuery, bool) {
	var q plainQuery
	if len(pkt) < 12+5 {
		return q, false
	}
	q.id = binary.BigEndian.Uint16(pkt)
	q.bits = binary.BigEndian.Uint16(pkt[2:])
	if q.bits&(hdrQR|hdrOpcodeMask|hdrTC|hdrZ) != 0 || binary.BigEndian.Uint16(pkt[4:]) != 1 ||
		binary.BigEndian.Uint16(pkt[6:]) != 0 || binary.BigEndian.Uint16(pkt[8:]) != 0 {
		return q, false
	}
	ar := binary.BigEndian.Uint16(pkt[10:])
	if ar > 1 {
		return q, false
	}
	// The question name: labels without compression, at most 255 octets.
	off := 12
	for {
		if off >= len(pkt) {
			return q, false
		}
		l := int(pkt[off])
		if l&0xC0 != 0 {
			return q, false
		}
		off += 1 + l
		if off-12 > 255 {
			return q, false
		}
		if l == 0 {
			break
		}
	}
	q.name = pkt[12:off]
	if off+4 > len(pkt) {
		return q, false
	}
	q.qtype = binary.BigEndian.Uint16(pkt[off:])
	if binary.BigEndian.Uint16(pkt[off+2:]) != dns.ClassINET {
		return q, false
	}
	switch q.qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeMAILA, dns.TypeMAILB, dns.TypeNXNAME:
		return q, false
	}
	off += 4
	if q.bits&hdrRD != 0 {
		q.flags |= keyRD
	}
	if q.bits&hdrCD != 0 {
		q.flags |= keyCD
	}
	q.size = minUDPSize
	if ar == 1 {
		// A bare OPT: root name, type OPT, class = UDP size, TTL =
		// extended RCODE, version, flags; no RDATA.
		if off+11 != len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != dns.TypeOPT ||
			pkt[off+5] != 0 || pkt[off+6] != 0 || binary.BigEndian.Uint16(pkt[off+9:]) != 0 {
			return q, false
		}
		q.flags |= keyEDNS
		ef := binary.BigEndian.Uint16(pkt[off+7:])
		if ef&0x8000 != 0 {
			q.flags |= keyDO
		}
		if ef&ednsFlagCO != 0 {
			q.flags |= keyCO
		}
		if u := int(binary.BigEndian.Uint16(pkt[off+3:])); u > q.size {
			q.size = u
		}
		if q.size > s.maxUDP {
			q.size = s.maxUDP
		}
	} else if off != len(pkt) {
		return q, false
	}
	return q, true
}

// directUDP answers a plain query for an RRset the zone holds, with its
// cached signatures when DO is set, straight from the zone's packed
// records: the same octets the general path would send (header, question,
// answer, OPT; uncompressed, as that path packs them), without unpacking
// the query or packing a message. It returns nil whenever the general path
// is needed: a name in other than lower case, a negative answer, missing
// signatures, an answer larger than the client takes.
func (s *Server) directUDP(q plainQuery, dst []byte) []byte {
	for _, c := range q.name {
		if 'A' <= c && c <= 'Z' {
			return nil
		}
	}
	out := append(dst[:0], 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(out, q.id)
	binary.BigEndian.PutUint16(out[2:], hdrQR|hdrAA|q.bits&(hdrRD|hdrCD))
	out = append(out, q.name...)
	out = binary.BigEndian.AppendUint16(out, q.qtype)
	out = binary.BigEndian.AppendUint16(out, dns.ClassINET)
	out, n, ok := zoneaccess.AppendAnswer(s.cfg.Zone, out, q.name, q.qtype, q.flags&keyDO != 0)
	if !ok || n > 0xFFFF {
		return nil
	}
	binary.BigEndian.PutUint16(out[6:], uint16(n))
	if q.flags&keyEDNS != 0 {
		// OPT (RFC 6891 §6.1.2): root owner, our UDP size, extended RCODE
		// and version 0, the DO bit echoed (RFC 3225 §3), no options.
		var do uint16
		if q.flags&keyDO != 0 {
			do = 0x8000
		}
		out = append(out, 0)
		out = binary.BigEndian.AppendUint16(out, dns.TypeOPT)
		out = binary.BigEndian.AppendUint16(out, uint16(s.maxUDP))
		out = append(out, 0, 0)
		out = binary.BigEndian.AppendUint16(out, do)
		out = binary.BigEndian.AppendUint16(out, 0)
		binary.BigEndian.PutUint16(out[10:], 1)
	}
	if len(out) > q.size {
		return nil // the general path truncates
	}
	return out
}

// slowUDP handles one packet the way the dns library's server would:
// header filter, unpack, TSIG check, handle, pack (TSIG-signed when the
// request was). It returns the response bytes or nil for silence.
func (s *Server) slowUDP(pkt []byte, peer net.Addr) []byte {
	if len(pkt) < 12 {
		return nil // not even a header: no answer, nothing to amplify
	}
	var h dns.Header
	h.Id = binary.BigEndian.Uint16(pkt)
	h.Bits = binary.BigEndian.Uint16(pkt[2:])
	h.Qdcount = binary.BigEndian.Uint16(pkt[4:])
	h.Ancount = binary.BigEndian.Uint16(pkt[6:])
	h.Nscount = binary.BigEndian.Uint16(pkt[8:])
	h.Arcount = binary.BigEndian.Uint16(pkt[10:])
	reject := func(rcode int) []byte {
		m := new(dns.Msg)
		m.Id = h.Id
		m.Response = true
		m.Opcode = int(h.Bits>>11) & 0xF
		m.Rcode = rcode
		b, err := m.Pack()
		if err != nil {
			return nil
		}
		return b
	}
	r := new(dns.Msg)
	switch acceptMsg(h) {
	case dns.MsgIgnore:
		return nil
	case dns.MsgReject:
		return reject(dns.RcodeFormatError)
	case dns.MsgRejectNotImplemented:
		return reject(dns.RcodeNotImplemented)
	}
	if err := r.Unpack(pkt); err != nil {
		return reject(dns.RcodeFormatError)
	}
	var status error
	var reqMAC string
	if t := r.IsTsig(); t != nil {
		status = dns.TsigVerifyWithProvider(pkt, s.provider, "", false)
		reqMAC = t.MAC
	}
	if m, dropped := s.admit(r, true, peer); dropped {
		return nil
	} else if m != nil {
		// At most a header, the question and an OPT: it fits in 512
		// octets.
		b, err := m.Pack()
		if err != nil {
			return nil
		}
		return b
	}
	key, cacheable := s.cache.key(r, true, s.udpSize(r))
	serial := s.cfg.Zone.Serial()
	resp, raw := s.handle(r, status, true, peer)
	if raw != nil {
		return raw
	}
	if resp == nil {
		return nil
	}
	if resp.IsTsig() != nil {
		b, _, err := dns.TsigGenerateWithProvider(resp, s.provider, reqMAC, false)
		if err != nil {
			s.log.Warn("sign response", "peer", peer, "err", err)
			return nil
		}
		return b
	}
	b, err := resp.Pack()
	if err != nil {
		s.log.Warn("pack response", "peer", peer, "err", err)
		return nil
	}
	if cacheable && resp.Rcode != dns.RcodeServerFailure {
		s.cache.put(key, b, serial, s.cfg.Zone.Now())
		b = append([]byte(nil), b...) // the cache keeps its copy
	}
	return b
}
