package zone

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// benchZone is a zone with n identities.
func benchZone(b *testing.B, n int) *Zone {
	b.Helper()
	z, _ := newZone(b, newClock())
	var cs []Change
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("d%d._device.devices.test.", i)
		cs = append(cs, Change{Mode: change.Add, Name: name, Records: []dns.RR{rr(b, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, i))}})
	}
	for i := 0; i < len(cs); i += 5000 {
		if _, err := z.Apply(cs[i:min(i+5000, len(cs))]); err != nil {
			b.Fatal(err)
		}
	}
	return z
}

func BenchmarkQueryTLSA(b *testing.B) {
	z := benchZone(b, 10000)
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("d%d._device.devices.test.", i*7)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a, err := z.Query(names[i%len(names)], dns.TypeTLSA, QueryOptions{DNSSEC: true})
			if err != nil || a.Outcome != Success {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkQueryNXDOMAIN(b *testing.B) {
	z := benchZone(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a, err := z.Query(fmt.Sprintf("nobody%d._device.devices.test.", i), dns.TypeTLSA, QueryOptions{DNSSEC: true})
			if err != nil || a.Outcome != NameError {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkApplyOne is one durable change (one fsync) per operation.
func BenchmarkApplyOne(b *testing.B) {
	z := benchZone(b, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("n%d._device.devices.test.", i)
		if _, err := z.Apply([]Change{{Mode: change.Add, Name: name, Records: []dns.RR{rr(b, name+" 300 IN TLSA 3 1 1 abcd")}}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyBatch5000 is one import batch per operation.
func BenchmarkApplyBatch5000(b *testing.B) {
	z := benchZone(b, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cs := make([]Change, 5000)
		for j := range cs {
			name := fmt.Sprintf("b%d-%d._device.devices.test.", i, j)
			cs[j] = Change{Mode: change.Add, Name: name, Records: []dns.RR{rr(b, name+" 300 IN TLSA 3 1 1 abcd")}}
		}
		if _, err := z.Apply(cs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransfer10k(b *testing.B) {
	z := benchZone(b, 10000)
	if _, err := z.transferImage(); err != nil { // first signing
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := z.transferImage(); err != nil {
			b.Fatal(err)
		}
	}
}

// heapProfile names the file BenchmarkHeap writes its heap profile to.
var heapProfile = flag.String("heapprofile", "", "BenchmarkHeap writes a heap profile of the presigned zone to this file")

// importN is how many identities BenchmarkImportPresign imports.
var importN = flag.Int("importn", 100000, "identities BenchmarkImportPresign imports")

// writeHeapProfile writes the heap profile, as of the last collection, to
// path.
func writeHeapProfile(b *testing.B, path string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHeap reports what a presigned zone costs the garbage collector
// per identity: live heap objects and bytes after a full collection, and
// the wall time of one forced collection. These figures, not query
// latency, decide how long collections take at a million identities.
//
//	go test -run '^$' -bench Heap -benchtime 1x ./zone/
//
// With -heapprofile it also writes a heap profile while the presigned
// zone is held, to read what each identity's bytes are:
//
//	go test -run '^$' -bench Heap -benchtime 1x -memprofilerate 512 ./zone/ -args -heapprofile heap.out
//	go tool pprof -sample_index inuse_space -top heap.out
func BenchmarkHeap(b *testing.B) {
	const n = 100000
	for i := 0; i < b.N; i++ {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		z := benchZone(b, n)
		if _, err := z.Presign(context.Background()); err != nil {
			b.Fatal(err)
		}
		var after runtime.MemStats
		runtime.GC()
		t0 := time.Now()
		runtime.GC()
		gc := time.Since(t0)
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/n, "objects/identity")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/identity")
		b.ReportMetric(float64(z.ArenaBytes())/n, "arena-bytes/identity")
		b.ReportMetric(float64(gc.Microseconds())/1000, "gc-ms")
		if *heapProfile != "" {
			writeHeapProfile(b, *heapProfile)
		}
		runtime.KeepAlive(z)
	}
}

// BenchmarkImportPresign is a bulk import as the server runs it: 100,000
// identities applied in batches of 5,000 (the admin API's import batch)
// while presigning runs after every change, coalesced as the server's
// loop does, then presigning to the end; looked/identity is the names
// and chain entries the runs looked at, per identity imported. With
// -cpuprofile it shows where import and presigning spend their CPU.
//
//	go test -run '^$' -bench ImportPresign -benchtime 1x -cpuprofile cpu.out ./zone/
//
// With -importn it imports that many identities instead (-args -importn
// 1000000 for the size the server's figures are given at).
func BenchmarkImportPresign(b *testing.B) {
	const batch = 5000
	n := *importN
	for i := 0; i < b.N; i++ {
		z := benchZone(b, 0)
		looked0 := z.presignNames.Load() + z.presignEntries.Load()
		kick := make(chan struct{}, 1)
		stop := z.Watch(func(uint32) {
			select {
			case kick <- struct{}{}:
			default:
			}
		})
		done := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			defer close(done)
			for {
				select {
				case <-ctx.Done():
					return
				case <-kick:
				}
				if _, err := z.PresignAhead(ctx); err != nil && ctx.Err() == nil {
					b.Error(err)
				}
			}
		}()
		for j := 0; j < n; j += batch {
			cs := make([]Change, batch)
			for k := range cs {
				name := fmt.Sprintf("d%d._device.devices.test.", j+k)
				cs[k] = Change{Mode: change.Add, Name: name, Records: []dns.RR{rr(b, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, j+k+1))}}
			}
			if _, err := z.Apply(cs); err != nil {
				b.Fatal(err)
			}
		}
		cancel()
		<-done
		stop()
		if _, err := z.Presign(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(z.presignNames.Load()+z.presignEntries.Load()-looked0)/float64(n), "looked/identity")
	}
}

// BenchmarkPresignAheadAfterOneChange is the background presign run
// after one identity is added to a presigned zone of 100,000 identities:
// PresignAhead, which looks at what the change touched, against Presign,
// which walks every name and the whole chain (as every run after a change
// did before the runs were incremental). The change is outside the
// timer; looked/op is the names and chain entries a run looked at.
//
//	go test -run '^$' -bench PresignAheadAfterOneChange -benchtime 200x ./zone/
func BenchmarkPresignAheadAfterOneChange(b *testing.B) {
	const n = 100000
	z := benchZone(b, n)
	if _, err := z.PresignAhead(context.Background()); err != nil {
		b.Fatal(err)
	}
	next := n
	for _, bm := range []struct {
		name string
		run  func(context.Context) (int, error)
	}{{"walk", z.Presign}, {"ahead", func(ctx context.Context) (int, error) {
		run, err := z.PresignAhead(ctx)
		return run.Signatures, err
	}}} {
		b.Run(bm.name, func(b *testing.B) {
			looked0 := z.presignNames.Load() + z.presignEntries.Load()
			made := 0
			for b.Loop() {
				b.StopTimer()
				name := fmt.Sprintf("d%d._device.devices.test.", next)
				if _, err := z.Apply([]Change{{Mode: change.Add, Name: name, Records: []dns.RR{rr(b, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, next))}}}); err != nil {
					b.Fatal(err)
				}
				next++
				b.StartTimer()
				m, err := bm.run(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				made += m
			}
			b.ReportMetric(float64(z.presignNames.Load()+z.presignEntries.Load()-looked0)/float64(b.N), "looked/op")
			b.ReportMetric(float64(made)/float64(b.N), "sigs/op")
		})
	}
}

var answerN = flag.Int("answern", 200000, "identities BenchmarkAppendAnswerLarge answers from")

// BenchmarkAppendAnswerLarge builds direct answers to TLSA+DO queries for
// random names of a presigned zone far larger than the processor's
// caches (200,000 identities by default, -answern): what a positive UDP
// answer costs when the name map's entry, the node and its signature
// record must each come from memory, as at a million identities.
func BenchmarkAppendAnswerLarge(b *testing.B) {
	z := benchZone(b, *answerN)
	if _, err := z.Presign(context.Background()); err != nil {
		b.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	qnames := make([][]byte, 1<<16)
	for i := range qnames {
		var buf [256]byte
		n, err := dns.PackDomainName(fmt.Sprintf("d%d._device.devices.test.", rnd.IntN(*answerN)), buf[:], 0, nil, false)
		if err != nil {
			b.Fatal(err)
		}
		qnames[i] = buf[:n:n]
	}
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, _, ok := z.appendAnswer(dst[:0], qnames[i%len(qnames)], dns.TypeTLSA, true)
		if !ok {
			b.Fatal("no direct answer")
		}
		dst = out
	}
}
