//go:build linux

package server

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgBatcher reads and writes a loop's batches with recvmmsg and
// sendmmsg on headers, buffers and peer addresses allocated once: the
// fast paths allocate nothing per datagram. The out headers point at the
// peer addresses the in headers were filled with.
type mmsgBatcher struct {
	rc    syscall.RawConn
	in    []unix.Mmsghdr
	inIov []unix.Iovec
	bufs  [][]byte
	peers []unix.RawSockaddrAny
	out   []unix.Mmsghdr
	oIov  []unix.Iovec
	// resps keeps the queued answers referenced from Go memory while the
	// out headers point at them.
	resps [][]byte
	// The system calls, as functions made once (a closure made per
	// call would be allocated per batch), their arguments and results.
	recvFn, sendFn func(fd uintptr) bool
	from, to, n    int
	errno          syscall.Errno
}

// newMmsgBatcher returns a batcher on pc's socket, or nil when pc gives
// no raw access to it.
func newMmsgBatcher(pc net.PacketConn) udpBatcher {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	b := &mmsgBatcher{
		rc:    rc,
		in:    make([]unix.Mmsghdr, udpBatch),
		inIov: make([]unix.Iovec, udpBatch),
		bufs:  make([][]byte, udpBatch),
		peers: make([]unix.RawSockaddrAny, udpBatch),
		out:   make([]unix.Mmsghdr, udpBatch),
		oIov:  make([]unix.Iovec, udpBatch),
		resps: make([][]byte, udpBatch),
	}
	b.recvFn, b.sendFn = b.recv, b.send
	for i := range b.in {
		b.bufs[i] = make([]byte, udpMaxRecv)
		b.inIov[i].Base = &b.bufs[i][0]
		b.in[i].Hdr.Iov = &b.inIov[i]
		b.in[i].Hdr.SetIovlen(1)
		b.in[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.peers[i]))
		b.out[i].Hdr.Iov = &b.oIov[i]
		b.out[i].Hdr.SetIovlen(1)
	}
	return b
}

func (b *mmsgBatcher) read() (int, error) {
	for i := range b.in {
		b.inIov[i].SetLen(len(b.bufs[i]))
		b.in[i].Hdr.Namelen = unix.SizeofSockaddrAny
		b.in[i].Hdr.Flags = 0
		b.in[i].Len = 0
	}
	b.n, b.errno = 0, 0
	if err := b.rc.Read(b.recvFn); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, &net.OpError{Op: "recvmmsg", Net: "udp", Err: b.errno}
	}
	return b.n, nil
}

// recv is recvFn: one recvmmsg, false to wait until the socket is
// readable.
func (b *mmsgBatcher) recv(fd uintptr) bool {
	return b.mmsg(unix.SYS_RECVMMSG, fd, unsafe.Pointer(&b.in[0]), len(b.in))
}

// mmsg makes the system call trap (recvmmsg or sendmmsg) on n messages
// from msgs, again when interrupted, and records its count and errno; it
// returns false when the socket would block (the poller then waits).
func (b *mmsgBatcher) mmsg(trap, fd uintptr, msgs unsafe.Pointer, n int) bool {
	for {
		r, _, e := syscall.Syscall6(trap, fd, uintptr(msgs), uintptr(n), 0, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		b.n, b.errno = int(r), e
		return true
	}
}

func (b *mmsgBatcher) packet(i int) []byte { return b.bufs[i][:b.in[i].Len] }

// peer decodes the i-th sender's address (IPv4 or IPv6; the scope of a
// link-local IPv6 address as its interface number).
func (b *mmsgBatcher) peer(i int) net.Addr {
	sa := &b.peers[i]
	switch sa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&p.Port))[:])
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(p.Addr), port))
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&p.Port))[:])
		a := netip.AddrFrom16(p.Addr)
		if p.Scope_id != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(p.Scope_id), 10))
		}
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port))
	}
	return nil
}

func (b *mmsgBatcher) answer(k, i int, resp []byte) {
	b.resps[k] = resp
	b.oIov[k].Base = unsafe.SliceData(resp)
	b.oIov[k].SetLen(len(resp))
	b.out[k].Hdr.Name = (*byte)(unsafe.Pointer(&b.peers[i]))
	b.out[k].Hdr.Namelen = b.in[i].Hdr.Namelen
}

func (b *mmsgBatcher) write(from, to int) (int, error) {
	b.from, b.to, b.n, b.errno = from, to, 0, 0
	if err := b.rc.Write(b.sendFn); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, &net.OpError{Op: "sendmmsg", Net: "udp", Err: b.errno}
	}
	return b.n, nil
}

// send is sendFn: one sendmmsg of the out slots from..to-1, false to wait
// until the socket is writable.
func (b *mmsgBatcher) send(fd uintptr) bool {
	return b.mmsg(unix.SYS_SENDMMSG, fd, unsafe.Pointer(&b.out[b.from]), b.to-b.from)
}

func (b *mmsgBatcher) clear(k int) {
	for i := 0; i < k; i++ {
		b.resps[i] = nil
		b.oIov[i].Base = nil
		b.out[i].Hdr.Name = nil
	}
}
