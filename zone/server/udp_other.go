//go:build !linux

package server

import "net"

// newMmsgBatcher: recvmmsg and sendmmsg are Linux's; elsewhere the loops
// use golang.org/x/net's batches.
func newMmsgBatcher(net.PacketConn) udpBatcher { return nil }
