package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/tsigkey"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "dns.devices.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"dns.devices.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func tlsTransfer(t *testing.T, addr string, cfg *tls.Config, key *tsigkey.Key) ([]dns.RR, error) {
	t.Helper()
	return tlsXfr(t, addr, cfg, key, dns.TypeAXFR, 0)
}

// tlsXfr asks for an AXFR, or an IXFR from serial, over TLS.
func tlsXfr(t *testing.T, addr string, cfg *tls.Config, key *tsigkey.Key, qtype uint16, serial uint32) ([]dns.RR, error) {
	t.Helper()
	conn, err := dns.DialTimeoutWithTLS("tcp-tls", addr, cfg, 5*time.Second)
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetAxfr(origin)
	if qtype == dns.TypeIXFR {
		m.SetIxfr(origin, serial, "ns1.devices.test.", "hostmaster.devices.test.")
	}
	tr := &dns.Transfer{Conn: conn, ReadTimeout: 10 * time.Second}
	if key != nil {
		tr.TsigSecret = map[string]string{key.Name: key.Base64()}
		m.SetTsig(key.Name, key.WireAlgorithm(), 300, time.Now().Unix())
	}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	for env := range ch {
		if env.Error != nil {
			return out, env.Error
		}
		out = append(out, env.RR...)
	}
	return out, nil
}

func TestDoTAndXoT(t *testing.T) {
	cert, pool := selfSigned(t)
	xk, _ := tsigkey.Generate("xfr.devices.test.", tsigkey.HMACSHA256)
	ts := startServerTLS(t, func(c *Config) {
		c.TransferFrom = loopback
		c.TransferKeys = []*tsigkey.Key{xk}
		c.TransferTLSOnly = true
		c.MaxUDPSize = 4096 // room for differences over UDP, which must still not be sent
	}, &tls.Config{Certificates: []tls.Certificate{cert}})
	addRR(t, ts.zone, "s1._device.devices.test. 300 IN TLSA 3 1 1 0102")

	// DoT query, certificate verified.
	client := &tls.Config{RootCAs: pool, ServerName: "dns.devices.test", NextProtos: []string{"dot"}}
	c := &dns.Client{Net: "tcp-tls", TLSConfig: client, Timeout: 5 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion("s1._device.devices.test.", dns.TypeTLSA)
	m.SetEdns0(1232, true)
	r, _, err := c.Exchange(m, ts.tlsAddr)
	if err != nil || countType(r.Answer, dns.TypeTLSA) != 1 || countType(r.Answer, dns.TypeRRSIG) != 1 {
		t.Fatalf("DoT query: %v %v", err, r)
	}
	// kdig over TLS.
	host, port, _ := net.SplitHostPort(ts.tlsAddr)
	out, err := runTool(t, "", "kdig", "@"+host, "-p", port, "+tls", "+dnssec", "s1._device.devices.test", "TLSA")
	if err != nil || !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "TLS session (TLS1.3)") {
		t.Fatalf("kdig +tls: %v\n%s", err, out)
	}
	// XoT with TLS 1.3 and the transfer key.
	rrs, err := tlsTransfer(t, ts.tlsAddr, client, xk)
	if err != nil || countType(rrs, dns.TypeTLSA) != 1 || countType(rrs, dns.TypeNSEC3) == 0 {
		t.Fatalf("XoT: %v, %d records", err, len(rrs))
	}
	// After a change, IXFR over TLS from that serial: the differences.
	addRR(t, ts.zone, "s2._device.devices.test. 300 IN TLSA 3 1 1 0304")
	inc, err := tlsXfr(t, ts.tlsAddr, client, xk, dns.TypeIXFR, rrs[0].(*dns.SOA).Serial)
	if err != nil {
		t.Fatalf("IXFR over TLS: %v", err)
	}
	if vs := ixfrVersions(t, inc); len(vs) != 1 || countType(vs[0].Added, dns.TypeTLSA) != 1 {
		t.Fatalf("IXFR over TLS: %d versions", len(vs))
	}
	// Over UDP the same question gets the SOA alone: with TLS-only
	// transfers, differences never go in clear.
	m = new(dns.Msg)
	m.SetIxfr(origin, rrs[0].(*dns.SOA).Serial, "ns1.devices.test.", "hostmaster.devices.test.")
	m.SetEdns0(4096, false)
	m.SetTsig(xk.Name, dns.HmacSHA256, 300, time.Now().Unix())
	uc := &dns.Client{Net: "udp", TsigSecret: map[string]string{xk.Name: xk.Base64()}, Timeout: 5 * time.Second}
	if r, _, err := uc.Exchange(m, ts.addr); err != nil || len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("IXFR over UDP with TLS-only transfers: %v %v", err, r)
	}
	// TLS 1.2 is fine for queries but not for transfers (RFC 9103 §5.1).
	old := client.Clone()
	old.MaxVersion = tls.VersionTLS12
	if rrs, err := tlsTransfer(t, ts.tlsAddr, old, xk); err == nil && len(rrs) > 0 {
		t.Fatal("zone transferred over TLS 1.2")
	}
	// Plain TCP transfers are refused with TransferTLSOnly.
	if rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, xk); err == nil && len(rrs) > 0 {
		t.Fatal("zone transferred over plain TCP")
	}
}
