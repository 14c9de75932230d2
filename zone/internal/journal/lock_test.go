package journal

import (
	"testing"
	"time"

	"github.com/dnsbound/dance/zone/internal/image"
)

// gatedSource is a zone read in order whose reading waits at its first
// RR until gate is closed, and says so on reading.
type gatedSource struct {
	source
	reading chan struct{}
	gate    chan struct{}
}

func (g *gatedSource) Each(fn func(rr []byte) error) error {
	select {
	case g.reading <- struct{}{}:
	default:
	}
	<-g.gate
	return g.source.Each(fn)
}

// Recording a version compares it with the previous one without holding
// the journal's lock: IXFR answers (Since, Serial) go on while a long
// comparison (a zone loaded from the file against the first snapshot,
// both read whole) runs; the version is recorded when it ends.
func TestRecordZoneComparesWithoutTheLock(t *testing.T) {
	j := New(0, 0)
	if _, err := j.Record(zoneOf(t, 1, []string{tlsa("a", 300, 1)})); err != nil {
		t.Fatal(err)
	}
	im, err := image.Pack(zoneOf(t, 2, []string{tlsa("a", 300, 2)}))
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedSource{source: source{im}, reading: make(chan struct{}, 1), gate: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := j.RecordZone(g)
		done <- err
	}()
	select {
	case <-g.reading:
	case <-time.After(30 * time.Second):
		t.Fatal("the new version is never read")
	}
	answered := make(chan uint32, 1)
	go func() {
		if vs, ok := j.Since(1); !ok || len(vs) != 0 {
			t.Errorf("serial 1 while serial 2 is compared: %d versions, %v; want 1 current", len(vs), ok)
		}
		s, _ := j.Serial()
		answered <- s
	}()
	select {
	case s := <-answered:
		if s != 1 {
			t.Errorf("serial %d while serial 2 is compared, want 1", s)
		}
	case <-time.After(30 * time.Second):
		close(g.gate)
		<-done
		<-answered
		t.Fatal("the journal's lock is held while versions are compared")
	}
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	vs, ok := j.Since(1)
	if !ok || len(vs) != 1 || vs[0].To.Serial != 2 || len(vs[0].Deleted) != 1 || len(vs[0].Added) != 1 {
		t.Fatalf("after the comparison: %v %v", vs, ok)
	}
}
