package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestZoneIdentitySigValidity: dance zone init --identity-sig-validity
// stores the validity of identity signatures, dance zone serve's flag
// overrides it, values outside 12h..336h are usage errors, and the help
// texts state what revocation guarantees.
func TestZoneIdentitySigValidity(t *testing.T) {
	for _, args := range [][]string{{"zone", "--help"}, {"zone", "serve", "--help"}} {
		var o, e bytes.Buffer
		run(context.Background(), args, nil, &o, &e)
		text := strings.Join(strings.Fields(o.String()+e.String()), " ")
		for _, want := range []string{"revokes it for resolvers once the record's TTL has passed", "at most the identity signature validity after the removal"} {
			if !strings.Contains(text, want) {
				t.Errorf("%v: help does not say %q", args, want)
			}
		}
	}
	dir := filepath.Join(t.TempDir(), "z")
	for _, bad := range []string{"1h", "15d", "400h"} {
		var e bytes.Buffer
		if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir, "--identity-sig-validity", bad}, nil, &bytes.Buffer{}, &e); code != 2 {
			t.Errorf("init --identity-sig-validity %s: exit %d, %s", bad, code, e.String())
		}
	}
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir, "--identity-sig-validity", "24h"}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("init failed")
	}
	var e bytes.Buffer
	if code := run(context.Background(), []string{"zone", "serve", "--dir", dir, "--identity-sig-validity", "2h"}, nil, &bytes.Buffer{}, &e); code != 2 {
		t.Errorf("serve --identity-sig-validity 2h: exit %d, %s", code, e.String())
	}
	for _, tt := range []struct {
		flags []string
		want  time.Duration
	}{
		{nil, 24 * time.Hour},
		{[]string{"--identity-sig-validity", "13h"}, 13 * time.Hour},
	} {
		addr, api, stop := startServeStop(t, dir, tt.flags...)
		var o, e bytes.Buffer
		if code := run(context.Background(), []string{"zone", "add", "--api", api, "--dir", dir, "s1._device.devices.test", "TLSA", "3 1 1 0102"}, nil, &o, &e); code != 0 {
			t.Fatalf("zone add: %s", e.String())
		}
		for _, q := range []struct {
			name  string
			qtype uint16
			want  time.Duration
		}{{"s1._device.devices.test.", dns.TypeTLSA, tt.want}, {"devices.test.", dns.TypeSOA, 14 * 24 * time.Hour}} {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			m.SetEdns0(1232, true)
			r, err := dns.Exchange(m, addr)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, rr := range r.Answer {
				if sig, ok := rr.(*dns.RRSIG); ok {
					n++
					// Inception is backdated an hour.
					if got := time.Duration(sig.Expiration-sig.Inception)*time.Second - time.Hour; got != q.want {
						t.Errorf("%v: %s signature valid for %v, want %v", tt.flags, dns.TypeToString[q.qtype], got, q.want)
					}
				}
			}
			if n == 0 {
				t.Fatalf("%v: no signature over %s", tt.flags, dns.TypeToString[q.qtype])
			}
		}
		if code := run(context.Background(), []string{"zone", "remove", "--api", api, "--dir", dir, "s1._device.devices.test"}, nil, &o, &e); code != 0 {
			t.Fatalf("zone remove: %s", e.String())
		}
		stop()
	}
}
