package server

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
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
	k2, ok2 := c.key(q("a.devices.test.", false), true, 512)
	k3, ok3 := c.key(q("A.devices.test.", true), true, 1232)
	if !ok2 || !ok3 {
		t.Fatal("query without DO, or with the name in another case, not cacheable")
	}
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

// TestCacheFollowsZoneClock: when the zone's clock passes the signature
// refresh point, answers carry new signatures even though the serial did
// not change (the cache ages on the zone's clock, not the wall clock).
func TestCacheFollowsZoneClock(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	dir := filepath.Join(t.TempDir(), "zone")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin, Time: now}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{Time: now})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	addRR(t, z, "s1._device.devices.test. 300 IN TLSA 3 1 1 abcd")
	srv, ls, stop := serveConfig(t, Config{Zone: z}, nil)
	defer stop()
	ts := &testServer{addr: ls.Addr()}
	m := new(dns.Msg)
	m.SetQuestion("s1._device.devices.test.", dns.TypeTLSA)
	m.SetEdns0(1232, true)
	first := ts.exchange(t, m, "udp").Answer[1].(*dns.RRSIG)
	if again := ts.exchange(t, m, "udp").Answer[1].(*dns.RRSIG); again.Signature != first.Signature || srv.metrics.get("cache_hit") == 0 {
		t.Fatal("second answer not from the cache")
	}
	mu.Lock()
	clock = clock.Add(8 * 24 * time.Hour)
	mu.Unlock()
	later := ts.exchange(t, m, "udp").Answer[1].(*dns.RRSIG)
	if later.Signature == first.Signature || !later.ValidityPeriod(now()) {
		t.Fatalf("after 8 days: signature expiring %d still served (first %d)", later.Expiration, first.Expiration)
	}
}

// BenchmarkCacheGetParallel is one response cache hit per operation from
// every core at once (-cpu 1,2,...): the read lock is the only thing the
// loops share on this path, so ns/op falling with more cores means it is
// not contended.
//
//	go test -run '^$' -bench CacheGetParallel -cpu 1,2 ./zone/server/
func BenchmarkCacheGetParallel(b *testing.B) {
	c := newRespCache()
	now := time.Now()
	const names = 4096
	keys := make([][]byte, names)
	for i := range keys {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("d%d._device.devices.test.", i), dns.TypeTLSA)
		m.SetEdns0(1232, true)
		k, _ := c.key(m, true, 1232)
		c.put(k, make([]byte, 300), 1, now)
		keys[i] = []byte(k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 512)
		i := 0
		for pb.Next() {
			if c.getBytes(keys[i%names], 1, 1, now, buf) == nil {
				b.Error("miss")
				return
			}
			i++
		}
	})
}
