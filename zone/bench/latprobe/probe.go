package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// config is one probe run; queries come from readQueries.
type config struct {
	server   string
	queries  []query
	rate     int // queries a second
	duration time.Duration
	timeout  time.Duration
	do       bool
	bufsize  uint16
}

// maxInFlight bounds rate × timeout: a message ID is used again after
// 65,536 queries, and by then the query that had it must be past its
// timeout, so that an answer is never matched to the wrong send.
const maxInFlight = 1 << 16

func (c config) check() error {
	switch {
	case c.rate <= 0:
		return errors.New("-rate: want at least 1 query a second")
	case c.duration <= 0:
		return errors.New("-duration: want more than 0")
	case c.timeout <= 0:
		return errors.New("-timeout: want more than 0")
	case float64(c.rate)*c.timeout.Seconds() >= maxInFlight:
		return fmt.Errorf("-rate × -timeout is %.0f queries in flight: want under %d (message IDs)", float64(c.rate)*c.timeout.Seconds(), maxInFlight)
	}
	return nil
}

// total is the number of queries the schedule holds: query i leaves at
// i/rate seconds, for every i with i/rate < duration.
func (c config) total() int {
	n := (int64(c.duration)*int64(c.rate) + int64(time.Second) - 1) / int64(time.Second)
	return int(n)
}

// at is query i's scheduled send time after the start.
func (c config) at(i int) time.Duration {
	return time.Duration(int64(i) * int64(time.Second) / int64(c.rate))
}

// result is what a run counted. sent = answered + lost.
type result struct {
	sent, answered, lost, mismatched int
	notNoerror                       int
	lagMax                           time.Duration
	latencies                        []time.Duration // of the answered queries, sorted
}

const (
	slotFree = iota
	slotWaiting
	slotDone
)

// slot is the query that holds one message ID.
type slot struct {
	state uint8
	q     query
	sent  time.Time // with its monotonic reading
}

// probe is the state the sender and the receiver share.
type probe struct {
	cfg  config
	conn *net.UDPConn

	mu      sync.Mutex
	slots   []slot // indexed by message ID
	waiting int
	idle    chan struct{} // signalled when waiting drops to 0
	res     result
}

// run sends cfg's schedule and returns what it measured.
func run(cfg config) (result, error) {
	if err := cfg.check(); err != nil {
		return result{}, err
	}
	if len(cfg.queries) == 0 {
		return result{}, errors.New("no queries")
	}
	raddr, err := net.ResolveUDPAddr("udp", cfg.server)
	if err != nil {
		return result{}, err
	}
	// A connected socket: the kernel drops datagrams from anyone but the
	// server.
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return result{}, err
	}
	p := &probe{cfg: cfg, conn: conn, slots: make([]slot, maxInFlight), idle: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	wg.Go(p.receive)
	sendErr := p.send()
	if sendErr == nil {
		p.drain()
	}
	conn.Close()
	wg.Wait()
	if sendErr != nil {
		return result{}, sendErr
	}
	// Whatever still waits had no answer within its timeout.
	p.res.lost += p.waiting
	p.waiting = 0
	slices.Sort(p.res.latencies)
	return p.res, nil
}

// send sends every query of the schedule at its time, read from the
// clock. It never waits for an answer, and when it wakes up late it sends
// the queries it missed at once (lagMax says by how much) instead of
// moving the rest of the schedule.
func (p *probe) send() error {
	n := p.cfg.total()
	id := uint16(rand.N(maxInFlight))
	var buf []byte
	start := time.Now()
	for i := 0; i < n; i++ {
		due := p.cfg.at(i)
		if d := due - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		q := p.cfg.queries[i%len(p.cfg.queries)]
		var err error
		buf, err = p.pack(buf, id, q)
		if err != nil {
			return fmt.Errorf("%s %s: %w", q.name, dns.TypeToString[q.qtype], err)
		}
		p.mu.Lock()
		s := &p.slots[id]
		if s.state == slotWaiting {
			// Sent maxInFlight queries ago, so past its timeout
			// (config.check): no answer came in time.
			p.res.lost++
			p.waiting--
		}
		now := time.Now()
		*s = slot{state: slotWaiting, q: q, sent: now}
		p.waiting++
		p.res.sent++
		if lag := now.Sub(start) - due; lag > p.res.lagMax {
			p.res.lagMax = lag
		}
		p.mu.Unlock()
		// A query that could not be written gets no answer: it stays
		// waiting and ends up lost.
		_, _ = p.conn.Write(buf)
		id++
	}
	return nil
}

// pack makes the query with message ID id, as dnsperf -D would send it.
func (p *probe) pack(buf []byte, id uint16, q query) ([]byte, error) {
	m := new(dns.Msg)
	m.Id = id
	m.RecursionDesired = true
	m.Question = []dns.Question{{Name: q.name, Qtype: q.qtype, Qclass: dns.ClassINET}}
	m.SetEdns0(p.cfg.bufsize, p.cfg.do)
	return m.PackBuffer(buf)
}

// drain waits until every query has its answer or the last one sent is
// past its timeout, whichever comes first.
func (p *probe) drain() {
	t := time.NewTimer(p.cfg.timeout)
	defer t.Stop()
	for {
		p.mu.Lock()
		w := p.waiting
		p.mu.Unlock()
		if w == 0 {
			return
		}
		// idle may hold a signal from a moment during the sending when
		// nothing was waiting: hence the loop.
		select {
		case <-p.idle:
		case <-t.C:
			return
		}
	}
}

// receive reads responses until the socket is closed.
func (p *probe) receive() {
	buf := make([]byte, 65535)
	for {
		n, err := p.conn.Read(buf)
		now := time.Now()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// An ICMP error for an earlier query (the server not
			// listening): that query counts as lost.
			continue
		}
		p.match(buf[:n], now)
	}
}

// match times the waiting query that msg answers, or counts msg as
// mismatched when it answers none.
func (p *probe) match(msg []byte, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, name, qtype, ok := header(msg)
	if !ok {
		p.res.mismatched++
		return
	}
	s := &p.slots[id]
	if s.state != slotWaiting || qtype != s.q.qtype || !strings.EqualFold(name, s.q.name) {
		p.res.mismatched++
		return
	}
	s.state = slotDone
	p.waiting--
	if lat := now.Sub(s.sent); lat <= p.cfg.timeout {
		p.res.answered++
		p.res.latencies = append(p.res.latencies, lat)
		if msg[3]&0x0f != dns.RcodeSuccess {
			p.res.notNoerror++
		}
	} else {
		p.res.lost++
	}
	if p.waiting == 0 {
		select {
		case p.idle <- struct{}{}:
		default:
		}
	}
}

// header returns a response's message ID and its one question's name and
// type, without unpacking the rest of it. ok is false for anything that
// is not a response with one question of class IN.
func header(msg []byte) (id uint16, name string, qtype uint16, ok bool) {
	if len(msg) < 12 || msg[2]&0x80 == 0 || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return 0, "", 0, false
	}
	name, off, err := dns.UnpackDomainName(msg, 12)
	if err != nil || off+4 > len(msg) {
		return 0, "", 0, false
	}
	if binary.BigEndian.Uint16(msg[off+2:]) != dns.ClassINET {
		return 0, "", 0, false
	}
	return binary.BigEndian.Uint16(msg), name, binary.BigEndian.Uint16(msg[off:]), true
}
