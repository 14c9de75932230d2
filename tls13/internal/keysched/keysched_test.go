package keysched

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdh"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/trace"
)

const testdata = "../../testdata/"

var quotedLabel = regexp.MustCompile(`"tls13 ([^"]+)"`)

// checkTrace re-derives every value of a trace that is a pure function of
// the values printed beside it, and returns how many it checked.
func checkTrace(t *testing.T, tr *trace.Trace) int {
	t.Helper()
	h := crypto.SHA256 // every RFC 8448 trace uses TLS_AES_128_GCM_SHA256
	n := 0
	eq := func(s *trace.Step, what string, got, want []byte) {
		t.Helper()
		n++
		if !bytes.Equal(got, want) {
			t.Errorf("{%s} %s: %s\n got %x\nwant %x", s.Who, s.Action, what, got, want)
		}
	}
	for _, s := range tr.Steps {
		v := s.Values
		switch {
		case strings.HasPrefix(s.Action, "extract secret") && v["secret"] != nil:
			eq(s, "secret", Extract(h, v["salt"], v["IKM"]), v["secret"])
		case strings.HasPrefix(s.Action, "derive secret") && v["expanded"] != nil:
			m := quotedLabel.FindStringSubmatch(s.Action)
			if m == nil {
				t.Fatalf("no label in %q", s.Action)
			}
			eq(s, "info", HkdfLabel(m[1], v["hash"], len(v["expanded"])), v["info"])
			eq(s, "expanded", DeriveSecret(h, v["PRK"], m[1], v["hash"]), v["expanded"])
		case strings.Contains(s.Action, "traffic keys") && v["key expanded"] != nil:
			key, iv := TrafficKeys(h, v["PRK"], len(v["key expanded"]))
			eq(s, "key info", HkdfLabel("key", nil, len(v["key expanded"])), v["key info"])
			eq(s, "iv info", HkdfLabel("iv", nil, IVLength), v["iv info"])
			eq(s, "key", key, v["key expanded"])
			eq(s, "iv", iv, v["iv expanded"])
		case strings.HasPrefix(s.Action, "calculate") && v["expanded"] != nil:
			// Finished keys, and PSK binders (a Finished MAC over the
			// truncated ClientHello, RFC 8446 §4.2.11.2).
			fk := FinishedKey(h, v["PRK"])
			eq(s, "finished key", fk, v["expanded"])
			if bh := v["binder hash"]; bh != nil {
				sum := h.New()
				sum.Write(v["ClientHello prefix"])
				eq(s, "binder hash", sum.Sum(nil), bh)
				eq(s, "binder", FinishedMAC(h, fk, bh), v["finished"])
			}
		case strings.HasPrefix(s.Action, "generate resumption secret") && v["expanded"] != nil:
			eq(s, "resumption PSK", ResumptionPSK(h, v["PRK"], v["hash"]), v["expanded"])
		}
	}
	return n
}

func TestTraces(t *testing.T) {
	for _, tc := range []struct {
		file string
		min  int // checks the file must yield, so a parser slip cannot pass silently
	}{
		{"rfc8448-section3.txt", 24},
		{"draft-tls13-vectors-simple.txt", 40},
		{"draft-tls13-vectors-resumed.txt", 40},
		{"draft-tls13-vectors-hrr.txt", 35},
		{"draft-tls13-vectors-clientauth.txt", 35},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			tr, err := trace.Load(testdata + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if n := checkTrace(t, tr); n < tc.min {
				t.Fatalf("%d values checked, want at least %d", n, tc.min)
			}
		})
	}
}

func mustValue(t *testing.T, tr *trace.Trace, who, prefix, label string) []byte {
	t.Helper()
	v, err := tr.Value(who, prefix, 0, label)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRFC8448Chain runs the Schedule through RFC 8448 §3 from the x25519
// private keys to the traffic keys and the server's Finished, checking every
// intermediate the RFC prints.
func TestRFC8448Chain(t *testing.T) {
	tr, err := trace.Load(testdata + "rfc8448-section3.txt")
	if err != nil {
		t.Fatal(err)
	}
	h := crypto.SHA256
	get := func(who, prefix, label string) []byte { return mustValue(t, tr, who, prefix, label) }
	check := func(what string, got, want []byte) {
		t.Helper()
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", what, got, want)
		}
	}

	clientPriv, err := ecdh.X25519().NewPrivateKey(get("client", "create an ephemeral x25519", "private key"))
	if err != nil {
		t.Fatal(err)
	}
	check("client public key", clientPriv.PublicKey().Bytes(), get("client", "create an ephemeral x25519", "public key"))
	serverPub, err := ecdh.X25519().NewPublicKey(get("server", "create an ephemeral x25519", "public key"))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := clientPriv.ECDH(serverPub)
	if err != nil {
		t.Fatal(err)
	}
	check("shared secret", shared, get("server", `extract secret "handshake"`, "IKM"))

	s := New(h, nil)
	check("early secret", s.Secret(), get("server", `extract secret "early"`, "secret"))
	s.Handshake(shared)
	check("handshake secret", s.Secret(), get("server", `extract secret "handshake"`, "secret"))

	th := h.New()
	th.Write(get("client", "construct a ClientHello", "ClientHello"))
	th.Write(get("server", "construct a ServerHello", "ServerHello"))
	chsh := th.Sum(nil)
	check("Transcript-Hash(ClientHello, ServerHello)", chsh, get("server", `derive secret "tls13 c hs traffic"`, "hash"))

	chs := s.Derive(LabelClientHandshake, chsh)
	shs := s.Derive(LabelServerHandshake, chsh)
	check("client handshake traffic secret", chs, get("server", `derive secret "tls13 c hs traffic"`, "expanded"))
	check("server handshake traffic secret", shs, get("server", `derive secret "tls13 s hs traffic"`, "expanded"))

	key, iv := TrafficKeys(h, shs, 16)
	check("server handshake key", key, get("server", "derive write traffic keys for handshake", "key expanded"))
	check("server handshake iv", iv, get("server", "derive write traffic keys for handshake", "iv expanded"))
	key, iv = TrafficKeys(h, chs, 16)
	check("client handshake key", key, get("server", "derive read traffic keys for handshake", "key expanded"))
	check("client handshake iv", iv, get("server", "derive read traffic keys for handshake", "iv expanded"))
	check("server finished key", FinishedKey(h, shs), get("server", "calculate finished", "expanded"))

	for _, m := range []string{"construct an EncryptedExtensions", "construct a Certificate handshake", "construct a CertificateVerify"} {
		s, ok := tr.Find("server", m, 0)
		if !ok {
			t.Fatalf("no %q", m)
		}
		th.Write(s.Values[s.Order[0]])
	}
	sfin := FinishedMAC(h, FinishedKey(h, shs), th.Sum(nil))
	check("server Finished", sfin, get("server", "calculate finished", "finished"))
	if !VerifyFinished(h, shs, th.Sum(nil), sfin) {
		t.Error("VerifyFinished refused the server's Finished")
	}
	th.Write(get("server", "construct a Finished", "Finished"))
	afterServerFinished := th.Sum(nil)
	check("client Finished", FinishedMAC(h, FinishedKey(h, chs), afterServerFinished), get("client", "calculate finished", "finished"))
	th.Write(get("client", "construct a Finished", "Finished"))
	afterClientFinished := th.Sum(nil)

	s.Master()
	check("master secret", s.Secret(), get("server", `extract secret "master"`, "secret"))
	if s.Stage() != StageMaster {
		t.Fatalf("stage = %v", s.Stage())
	}
	check("client application traffic secret", s.Derive(LabelClientAppTraffic, afterServerFinished), get("server", `derive secret "tls13 c ap traffic"`, "expanded"))
	check("server application traffic secret", s.Derive(LabelServerAppTraffic, afterServerFinished), get("server", `derive secret "tls13 s ap traffic"`, "expanded"))
	check("exporter master secret", s.Derive(LabelExporterMaster, afterServerFinished), get("server", `derive secret "tls13 exp master"`, "expanded"))
	res := s.Derive(LabelResumptionMaster, afterClientFinished)
	check("resumption master secret", res, get("client", `derive secret "tls13 res master"`, "expanded"))
	check("resumption PSK", ResumptionPSK(h, res, []byte{0, 0}), get("server", "generate resumption secret", "expanded"))
}

// TestScheduleOrder: a step out of order is a programming error and panics
// rather than deriving from the wrong secret.
func TestScheduleOrder(t *testing.T) {
	for name, f := range map[string]func(*Schedule){
		"master before handshake": func(s *Schedule) { s.Master() },
		"handshake twice":         func(s *Schedule) { s.Handshake(nil); s.Handshake(nil) },
		"binder after handshake":  func(s *Schedule) { s.Handshake(nil); s.BinderKey(false) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f(New(crypto.SHA256, nil))
		})
	}
	defer func() {
		if recover() == nil {
			t.Fatal("New with SHA-1 did not panic")
		}
	}()
	New(crypto.SHA1, nil)
}

func loadNamed(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		b, err := hex.DecodeString(val)
		if !ok || err != nil {
			t.Fatalf("bad line %q", line)
		}
		out[name] = b
	}
	return out
}

// TestSHA384 checks the whole schedule with SHA-384 against values OpenSSL
// computed (testdata/sha384-openssl.sh).
func TestSHA384(t *testing.T) {
	v := loadNamed(t, testdata+"sha384-openssl.txt")
	h := crypto.SHA384
	check := func(name string, got []byte) {
		t.Helper()
		want, ok := v[name]
		if !ok {
			t.Fatalf("no %s in vector file", name)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", name, got, want)
		}
	}
	s := New(h, nil)
	check("early_secret", s.Secret())
	check("binder_key_res", s.BinderKey(false))
	check("binder_key_ext", s.BinderKey(true))
	s.Handshake(v["dhe"])
	check("handshake_secret", s.Secret())
	chs := s.Derive(LabelClientHandshake, v["th_client_hello_server_hello"])
	shs := s.Derive(LabelServerHandshake, v["th_client_hello_server_hello"])
	check("client_handshake_traffic", chs)
	check("server_handshake_traffic", shs)
	key, iv := TrafficKeys(h, shs, 32)
	check("server_handshake_key", key)
	check("server_handshake_iv", iv)
	check("client_finished_key", FinishedKey(h, chs))
	s.Master()
	check("master_secret", s.Secret())
	cap := s.Derive(LabelClientAppTraffic, v["th_server_finished"])
	check("client_app_traffic", cap)
	check("server_app_traffic", s.Derive(LabelServerAppTraffic, v["th_server_finished"]))
	check("exporter_master", s.Derive(LabelExporterMaster, v["th_server_finished"]))
	res := s.Derive(LabelResumptionMaster, v["th_client_finished"])
	check("resumption_master", res)
	check("client_app_traffic_next", NextTrafficSecret(h, cap))
	check("resumption_psk", ResumptionPSK(h, res, v["ticket_nonce"]))
	exp := s.Derive(LabelExporterMaster, v["th_server_finished"])
	check("exporter_output", Export(h, exp, "EXPORTER-dance-test", v["exporter_context"], 32))
}

func TestVerifyFinished(t *testing.T) {
	h := crypto.SHA256
	base := bytes.Repeat([]byte{7}, 32)
	th := bytes.Repeat([]byte{9}, 32)
	mac := FinishedMAC(h, FinishedKey(h, base), th)
	if !VerifyFinished(h, base, th, mac) {
		t.Fatal("own MAC refused")
	}
	for i := range mac {
		bad := bytes.Clone(mac)
		bad[i] ^= 1
		if VerifyFinished(h, base, th, bad) {
			t.Fatalf("MAC with byte %d flipped accepted", i)
		}
	}
	if VerifyFinished(h, base, th, mac[:31]) {
		t.Fatal("truncated MAC accepted")
	}
}

// BenchmarkFullSchedule derives what one full handshake needs: the chain,
// four traffic secrets with their keys, two Finished keys and the
// resumption master secret.
func BenchmarkFullSchedule(b *testing.B) {
	h := crypto.SHA256
	dhe := bytes.Repeat([]byte{3}, 32)
	th := bytes.Repeat([]byte{4}, 32)
	b.ReportAllocs()
	for b.Loop() {
		s := New(h, nil)
		s.Handshake(dhe)
		chs, shs := s.Derive(LabelClientHandshake, th), s.Derive(LabelServerHandshake, th)
		TrafficKeys(h, chs, 16)
		TrafficKeys(h, shs, 16)
		FinishedKey(h, chs)
		FinishedKey(h, shs)
		s.Master()
		TrafficKeys(h, s.Derive(LabelClientAppTraffic, th), 16)
		TrafficKeys(h, s.Derive(LabelServerAppTraffic, th), 16)
		s.Derive(LabelResumptionMaster, th)
	}
}
