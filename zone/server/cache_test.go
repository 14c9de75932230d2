package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestRespCache(t *testing.T) {
	c := newRespCache()
	q := func(name string, do bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTLSA)
		if do {
			m.SetEdns0(1232, true)
		}
		return m
	}
	now := time.Now()
	k1, ok := c.key(q("a.devices.test.", true), true, 1232)
	if !ok {
		t.Fatal("plain query not cacheable")
	}
	k2, _ := c.key(q("a.devices.test.", false), true, 512)
	k3, _ := c.key(q("A.devices.test.", true), true, 1232)
	if k1 == k2 || k1 == k3 {
		t.Fatal("DO bit or name case not part of the key")
	}
	c.put(k1, []byte{0, 0, 1, 2}, 7, now)
	if got := c.get(k1, 0xabcd, 7, now); len(got) != 4 || got[0] != 0xab || got[1] != 0xcd || got[3] != 2 {
		t.Fatalf("get = %v", got)
	}
	if c.get(k1, 1, 8, now) != nil {
		t.Fatal("entry served after the serial changed")
	}
	if c.get(k1, 1, 7, now.Add(cacheTTL+time.Second)) != nil {
		t.Fatal("entry served past its age")
	}
	signed := q("a.devices.test.", false)
	signed.SetTsig("k.", dns.HmacSHA256, 300, now.Unix())
	if _, ok := c.key(signed, true, 512); ok {
		t.Fatal("TSIG-signed query cacheable")
	}
	// Bounded: filling past the limit evicts some entries, not all.
	for i := 0; i < cacheMax+10; i++ {
		c.put(cacheKey(fmt.Sprint(i)), []byte{0, 0}, 7, now)
	}
	if n := len(c.m); n > cacheMax || n < cacheMax/2 {
		t.Fatalf("%d entries after overfilling", n)
	}
}
