package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestPutGetDelete(t *testing.T) {
	s, err := Create(filepath.Join(t.TempDir(), "z.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := mustRR(t, "Dev1._device.example.test. 300 IN TLSA 3 1 1 abcdef")
	b := mustRR(t, "dev1._device.example.test. 300 IN TLSA 3 1 1 012345")
	err = s.Update(func(tx *Tx) error {
		if err := tx.SetMeta("k", []byte("v")); err != nil {
			return err
		}
		return tx.Put("DEV1._device.example.test.", dns.TypeTLSA, []dns.RR{a, b})
	})
	if err != nil {
		t.Fatal(err)
	}
	// A failed transaction leaves nothing behind.
	boom := errors.New("boom")
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put("dev2._device.example.test.", dns.TypeTLSA, []dns.RR{a}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	s.View(func(tx *Tx) error {
		got, err := tx.Get("dev1._DEVICE.example.test.", dns.TypeTLSA)
		if err != nil || len(got) != 2 || !dns.IsDuplicate(got[0], a) || !dns.IsDuplicate(got[1], b) {
			t.Errorf("Get = %v, %v", got, err)
		}
		if got, err := tx.Get("dev2._device.example.test.", dns.TypeTLSA); err != nil || got != nil {
			t.Errorf("rolled-back RRset present: %v, %v", got, err)
		}
		if string(tx.Meta("k")) != "v" || tx.Meta("none") != nil {
			t.Error("meta mismatch")
		}
		n := 0
		tx.ForEach(func(name string, rrtype uint16, rrs []dns.RR) error {
			n++
			if name != "dev1._device.example.test." || rrtype != dns.TypeTLSA {
				t.Errorf("ForEach %s %d", name, rrtype)
			}
			return nil
		})
		if n != 1 || tx.Count() != 1 {
			t.Errorf("ForEach saw %d sets, Count %d", n, tx.Count())
		}
		return nil
	})
	if err := s.Update(func(tx *Tx) error { return tx.Put("dev1._device.example.test.", dns.TypeTLSA, nil) }); err != nil {
		t.Fatal(err)
	}
	s.View(func(tx *Tx) error {
		if got, _ := tx.Get("dev1._device.example.test.", dns.TypeTLSA); got != nil {
			t.Errorf("deleted set still present")
		}
		return nil
	})
}

const crashHelperEnv = "DANCE_STORE_CRASH_HELPER"

// TestCrashHelper is the child of TestKill9: it commits updates in a loop
// and prints "ack N" after each commit returns.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		return // only meaningful as TestKill9's child process
	}
	s, err := Create(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("d%d._device.example.test.", i)
		rr := mustRR(t, name+" 300 IN TLSA 3 1 1 abcdef")
		err := s.Update(func(tx *Tx) error {
			// Two writes per transaction: both or neither must survive.
			if err := tx.Put(name, dns.TypeTLSA, []dns.RR{rr}); err != nil {
				return err
			}
			return tx.SetMeta("last", []byte(strconv.Itoa(i)))
		})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("ack %d\n", i)
	}
}

// TestKill9 kills a writer with SIGKILL mid-stream and checks that every
// acknowledged change is in the reopened store, and no transaction is torn.
func TestKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	acked := -1
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(60 * time.Second)
	for acked < 40 && sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "ack "); ok {
			acked, _ = strconv.Atoi(n)
		} else if strings.HasPrefix(line, "error") {
			t.Fatal(line)
		}
		if time.Now().After(deadline) {
			t.Fatal("helper too slow")
		}
	}
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if acked < 40 {
		t.Fatalf("helper acknowledged only %d changes", acked)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	s.View(func(tx *Tx) error {
		last, err := strconv.Atoi(string(tx.Meta("last")))
		if err != nil || last < acked {
			t.Fatalf("last committed %q, acknowledged %d", tx.Meta("last"), acked)
		}
		// Every change up to the last committed one is there, and none beyond.
		for i := 0; i <= last+1; i++ {
			got, err := tx.Get(fmt.Sprintf("d%d._device.example.test.", i), dns.TypeTLSA)
			if err != nil {
				t.Fatal(err)
			}
			if (i <= last) != (len(got) == 1) {
				t.Fatalf("change %d: present=%v, last committed %d", i, len(got) == 1, last)
			}
		}
		return nil
	})
}

// Every committed Update gives the store a new generation; reading,
// reopening and a failed Update do not; another store never shares one.
func TestGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.db")
	s, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gen := func(s *Store) []byte {
		t.Helper()
		g, err := s.Generation()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := gen(s); g != nil {
		t.Fatalf("new store has generation %x", g)
	}
	put := func(s *Store, data string) error {
		return s.Update(func(tx *Tx) error {
			return tx.Put("a.example.test.", dns.TypeTLSA, []dns.RR{mustRR(t, "a.example.test. 300 IN TLSA 3 1 1 "+data)})
		})
	}
	if err := put(s, "01"); err != nil {
		t.Fatal(err)
	}
	g1 := gen(s)
	if len(g1) != generationLen {
		t.Fatalf("generation %x", g1)
	}
	s.View(func(tx *Tx) error { return nil })
	if err := s.Update(func(tx *Tx) error { return errors.New("refused") }); err == nil {
		t.Fatal("failed update reported success")
	}
	if g := gen(s); string(g) != string(g1) {
		t.Fatal("generation changed without a committed update")
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	if g := gen(s); string(g) != string(g1) {
		t.Fatal("reopening changed the generation")
	}
	if err := put(s, "01"); err != nil { // the same data again is still a write
		t.Fatal(err)
	}
	if g := gen(s); string(g) == string(g1) {
		t.Fatal("committed update kept the generation")
	}
	s.Close()
	other, err := Create(filepath.Join(t.TempDir(), "z.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := put(other, "01"); err != nil {
		t.Fatal(err)
	}
	if g := gen(other); string(g) == string(g1) {
		t.Fatal("two stores share a generation")
	}
}

// TestOpenMissing: Open does not create a database that is not there;
// Create does, and Open then opens it.
func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.db")
	if s, err := Open(path); !errors.Is(err, os.ErrNotExist) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open of a missing file: %v, want os.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created %s (%v)", path, err)
	}
	s, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	s.Close()
}
