package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/daemon"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/server"
	"github.com/dnsbound/dance/zone/tsigkey"
)

const pubZone = "pub.test."

// startKnotPrimary runs Knot as the primary of pub.test, signing the zone
// itself (dnssec-signing: on) and taking updates signed with key.
func startKnotPrimary(t *testing.T, key *tsigkey.Key) string {
	return daemon.Run(t, daemon.Tool(t, "knotd"), func(cf string) []string { return []string{"-c", cf} }, "knot.conf", pubZone, 0,
		func(dir string, port int) string {
			for _, d := range []string{"storage", "run", "kasp"} {
				os.MkdirAll(filepath.Join(dir, d), 0o755)
			}
			zf := fmt.Sprintf("$ORIGIN %s\n@ 300 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60\n@ 300 IN NS ns.example.\n", pubZone)
			os.WriteFile(filepath.Join(dir, "storage", "pub.test.zone"), []byte(zf), 0o644)
			return fmt.Sprintf(`server:
    rundir: "%[1]s/run"
    listen: 127.0.0.1@%[2]d
log:
  - target: stderr
    any: info
database:
    storage: "%[1]s/kasp"
key:
  - id: %[3]s
    algorithm: %[4]s
    secret: %[5]s
acl:
  - id: updates
    address: 127.0.0.1
    key: %[3]s
    action: update
zone:
  - domain: %[6]s
    storage: "%[1]s/storage"
    file: pub.test.zone
    dnssec-signing: on
    acl: updates
    zonefile-sync: -1
`, dir, port, key.Name, key.Algorithm, key.Base64(), pubZone)
		})
}

func tlsaQuery(t *testing.T, addr, name string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTLSA)
	m.SetEdns0(1232, true)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func count(rrs []dns.RR, t uint16) int {
	n := 0
	for _, r := range rrs {
		if r.Header().Rrtype == t {
			n++
		}
	}
	return n
}

func TestPublishToKnot(t *testing.T) {
	key, _ := tsigkey.Generate("upd.pub.test.", tsigkey.HMACSHA256)
	addr := startKnotPrimary(t, key)
	ctx := context.Background()
	name := "sensor1._device.pub.test."
	rec := func(s string) dns.RR {
		r, err := dns.NewRR(name + " 300 IN TLSA " + s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	h1 := "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	h2 := "3 1 1 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"

	// Publish (zone found by an SOA query): Knot signs the new record.
	res, err := Publish(ctx, Request{Server: addr, Key: key, Name: name, Records: []dns.RR{rec(h1)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Zone != pubZone {
		t.Fatalf("zone %s", res.Zone)
	}
	r := tlsaQuery(t, addr, name)
	if count(r.Answer, dns.TypeTLSA) != 1 || count(r.Answer, dns.TypeRRSIG) == 0 {
		t.Fatalf("after publish: %v", r)
	}
	// Replace (rollover) leaves only the new record; Add keeps both.
	if _, err := Publish(ctx, Request{Server: addr, Key: key, Name: name, Records: []dns.RR{rec(h2)}, Mode: change.Replace, Zone: pubZone}); err != nil {
		t.Fatal(err)
	}
	if r := tlsaQuery(t, addr, name); count(r.Answer, dns.TypeTLSA) != 1 || r.Answer[0].(*dns.TLSA).Certificate != h2[6:] {
		t.Fatalf("after replace: %v", r.Answer)
	}
	if _, err := Publish(ctx, Request{Server: addr, Key: key, Name: name, Records: []dns.RR{rec(h1)}, Mode: change.Add}); err != nil {
		t.Fatal(err)
	}
	if r := tlsaQuery(t, addr, name); count(r.Answer, dns.TypeTLSA) != 2 {
		t.Fatalf("after add: %v", r.Answer)
	}
	// A wrong secret is refused and changes nothing.
	bad, _ := tsigkey.Generate("upd.pub.test.", tsigkey.HMACSHA256)
	_, err = Publish(ctx, Request{Server: addr, Key: bad, Name: name, Mode: change.Remove})
	var re *RcodeError
	if !errors.As(err, &re) || re.Rcode != dns.RcodeNotAuth || re.TSIGError != dns.RcodeBadSig {
		t.Fatalf("wrong secret: %v", err)
	}
	if r := tlsaQuery(t, addr, name); count(r.Answer, dns.TypeTLSA) != 2 {
		t.Fatalf("after refused removal: %v", r.Answer)
	}
	// Remove (revocation): the name is gone, with a signed denial.
	if _, err := Publish(ctx, Request{Server: addr, Key: key, Name: name, Mode: change.Remove}); err != nil {
		t.Fatal(err)
	}
	r = tlsaQuery(t, addr, name)
	if len(r.Answer) != 0 || count(r.Ns, dns.TypeRRSIG) == 0 {
		t.Fatalf("after remove: %v", r)
	}
}

func TestPublishInputErrors(t *testing.T) {
	ctx := context.Background()
	r, _ := dns.NewRR("a.example. 300 IN TLSA 3 1 1 abcd")
	for _, req := range []Request{
		{Server: "no-port", Name: "a.example."},
		{Server: "127.0.0.1:53", Name: "bad..name"},
		{Server: "127.0.0.1:53", Name: "b.example.", Records: []dns.RR{r}},
		{Server: "127.0.0.1:53", Name: "a.example."},
		{Server: "127.0.0.1:53", Name: "a.example.", Records: []dns.RR{r}, Zone: "other.example."},
	} {
		if _, err := Publish(ctx, req); err == nil {
			t.Errorf("%+v: no error", req)
		}
	}
}

// TestPublishToZoneServer publishes to this project's own zone server.
func TestPublishToZoneServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	res, err := zone.Init(dir, zone.InitOptions{Origin: "devices.test."})
	if err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	srv, err := server.New(server.Config{Zone: z, UpdateKeys: []*tsigkey.Key{res.TSIG}})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	defer func() { cancel(); <-done }()

	name := "s1._device.devices.test."
	r1, _ := dns.NewRR(name + " 300 IN TLSA 3 1 1 0102")
	if _, err := Publish(context.Background(), Request{Server: ls.Addr(), Key: res.TSIG, Name: name, Records: []dns.RR{r1}}); err != nil {
		t.Fatal(err)
	}
	if len(z.Get(name, dns.TypeTLSA)) != 1 {
		t.Fatal("not published")
	}
	// An A record is refused by the zone's policy.
	a, _ := dns.NewRR(name + " 300 IN A 192.0.2.1")
	var re *RcodeError
	if _, err := Publish(context.Background(), Request{Server: ls.Addr(), Key: res.TSIG, Name: name, Records: []dns.RR{a}}); !errors.As(err, &re) || re.Rcode != dns.RcodeRefused {
		t.Fatalf("A record: %v", err)
	}
	if _, err := Publish(context.Background(), Request{Server: ls.Addr(), Key: res.TSIG, Name: name, Mode: change.Remove}); err != nil {
		t.Fatal(err)
	}
	if z.Get(name, dns.TypeTLSA) != nil {
		t.Fatal("not removed")
	}
}

// TestPublishRefusesUnsignedAnswer: an answer without TSIG to a signed
// update (forged by anyone on the path) is not taken for success. Before,
// the dns library verified only a TSIG that was present, and a dropped
// revocation could be reported as done.
func TestPublishRefusesUnsignedAnswer(t *testing.T) {
	key, err := tsigkey.Generate("upd.pub.test.", tsigkey.HMACSHA256)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	got := make(chan *dns.Msg, 1)
	srv := &dns.Server{Listener: ls.TCP, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		select {
		case got <- r:
		default:
		}
		m := new(dns.Msg)
		m.SetReply(r) // NOERROR, no TSIG
		w.WriteMsg(m)
	}), MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }}
	go srv.ActivateAndServe()
	defer srv.Shutdown()
	rr, _ := dns.NewRR("s1._device.pub.test. 300 IN TLSA 3 1 1 0102")
	_, err = Publish(context.Background(), Request{Server: ls.Addr(), Key: key, Zone: pubZone, Name: "s1._device.pub.test.", Mode: change.Remove, Records: []dns.RR{rr}})
	if !errors.Is(err, ErrUnsignedResponse) {
		t.Fatalf("unsigned NOERROR answer: %v, want ErrUnsignedResponse", err)
	}
	select {
	case r := <-got:
		if r.Opcode != dns.OpcodeUpdate || r.IsTsig() == nil {
			t.Fatalf("the server got %v, want the signed update", r)
		}
	default:
		t.Fatal("the update did not reach the server")
	}
}

// TestRemoveUnderWildcardKnot: with Knot as the primary and a CA's
// record at *._device.ZONE, a Remove of a device's own record leaves Knot
// answering for the device from the wildcard, which the Result reports;
// a Replace with Revoke's records (the revocation marker) makes Knot
// answer with the marker alone, the wildcard shadowed.
func TestRemoveUnderWildcardKnot(t *testing.T) {
	key, _ := tsigkey.Generate("upd.pub.test.", tsigkey.HMACSHA256)
	addr := startKnotPrimary(t, key)
	ctx := context.Background()
	const (
		wild   = "*._device.pub.test."
		name   = "sensor1._device.pub.test."
		caData = "2 0 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		own    = "3 1 1 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	)
	rec := func(owner, data string) dns.RR {
		r, err := dns.NewRR(owner + " 300 IN TLSA " + data)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Without the wildcard, nothing answers after a removal.
	if _, err := Publish(ctx, Request{Server: addr, Key: key, Name: name, Records: []dns.RR{rec(name, own)}}); err != nil {
		t.Fatal(err)
	}
	res, err := Publish(ctx, Request{Server: addr, Key: key, Name: name, Mode: change.Remove})
	if err != nil || res.CheckErr != nil || len(res.StillAnswered) != 0 {
		t.Fatalf("remove without a wildcard: %+v, %v", res, err)
	}
	for _, r := range [][]dns.RR{{rec(wild, caData)}, {rec(name, own)}} {
		if _, err := Publish(ctx, Request{Server: addr, Key: key, Name: r[0].Header().Name, Records: r}); err != nil {
			t.Fatal(err)
		}
	}
	res, err = Publish(ctx, Request{Server: addr, Key: key, Name: name, Mode: change.Remove})
	if err != nil || res.CheckErr != nil {
		t.Fatalf("remove under the wildcard: %+v, %v", res, err)
	}
	if len(res.StillAnswered) != 1 || res.StillAnswered[0].(*dns.TLSA).Usage != 2 {
		t.Fatalf("remove under the wildcard: still answered %v, want the CA's record", res.StillAnswered)
	}
	marker, err := Revoke(name, 300)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Publish(ctx, Request{Server: addr, Key: key, Name: name, Records: marker, Mode: change.Replace}); err != nil {
		t.Fatal(err)
	}
	r := tlsaQuery(t, addr, name)
	if count(r.Answer, dns.TypeTLSA) != 1 || !dns.IsDuplicate(r.Answer[0], marker[0]) || count(r.Answer, dns.TypeRRSIG) == 0 {
		t.Fatalf("after revoke: %v", r.Answer)
	}
	for _, rr := range r.Answer {
		if sig, ok := rr.(*dns.RRSIG); ok && int(sig.Labels) != dns.CountLabel(name) {
			t.Errorf("the marker's signature has %d labels, want %d: a wildcard expansion", sig.Labels, dns.CountLabel(name))
		}
	}
	if r := tlsaQuery(t, addr, "sensor2._device.pub.test."); count(r.Answer, dns.TypeTLSA) != 1 || r.Answer[0].(*dns.TLSA).Usage != 2 {
		t.Errorf("another device under the wildcard: %v", r.Answer)
	}
}

// TestUnknownModeRefused: a mode outside change.Add, Replace and Remove
// is refused before anything is sent.
func TestUnknownModeRefused(t *testing.T) {
	rr, err := dns.NewRR("s1._device.pub.test. 300 IN TLSA 3 1 1 " + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	// Port 1 on loopback: any attempt to send would fail with a network
	// error instead of the mode error.
	_, err = Publish(t.Context(), Request{Server: "127.0.0.1:1", Zone: "pub.test.", Name: "s1._device.pub.test.",
		Records: []dns.RR{rr}, Mode: change.Remove + 1})
	if err == nil || !strings.Contains(err.Error(), "unknown mode Mode(4)") {
		t.Fatalf("err = %v, want an unknown mode", err)
	}
}
