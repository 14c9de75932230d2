package danetls

import (
	"crypto/tls"
	"maps"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/tlsa"
)

// TestVerifyClientCertIfGiven: with the option a client without a
// certificate completes the handshake with no identity (and no
// verification is attempted), while a presented certificate is checked as
// always: a refused one fails the handshake, an accepted one gets its
// identity, on full handshakes and on resumed sessions. Without the option
// a certificate is required.
func TestVerifyClientCertIfGiven(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	stranger := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	outsider := selfSigned(t, "sensor1._device.other.test", identity.KeyECDSAP256)
	e := newEnv(t, []string{testident.EELine(t, dev.name, dev.key.Public())}, "*._device.example.test")
	sc, pool := testident.ServerCert(t)
	base := &tls.Config{Certificates: []tls.Certificate{sc}}
	rec, err := tlsa.ForPublicKey(dev.key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	devID := whoReply{OK: true, Name: dev.name, Record: rec.String()}

	// A per-client configuration (base's GetConfigForClient) that asks for
	// no certificate gets the option's treatment too.
	lax := &tls.Config{Certificates: []tls.Certificate{sc}, ClientAuth: tls.NoClientCert}
	perClient := &tls.Config{Certificates: []tls.Certificate{sc},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return lax, nil }}
	modes := []struct {
		name     string
		base     *tls.Config
		opts     []ServerOption
		optional bool
	}{
		{"required", base, nil, false},
		{"optional", base, []ServerOption{VerifyClientCertIfGiven()}, true},
		{"required, per-client configuration", perClient, nil, false},
		{"optional, per-client configuration", perClient, []ServerOption{VerifyClientCertIfGiven()}, true},
	}
	clients := []struct {
		name     string
		id       *ident
		want     whoReply // when accepted
		optional bool     // accepted only with the option
		refused  bool     // refused in both modes
	}{
		{name: "no certificate", want: whoReply{}, optional: true},
		{name: "published", id: &dev, want: devID},
		{name: "wrong key", id: &stranger, refused: true},
		{name: "not allowed", id: &outsider, refused: true},
	}
	for _, m := range modes {
		addr := startTLS(t, ServerConfig(m.base, e.core, m.opts...))
		for _, c := range clients {
			accepted := !c.refused && (!c.optional || m.optional)
			for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
				cfg := whoClient(t, pool, c.id, version)
				before := e.verdicts(t)
				for _, step := range []string{"full handshake", "second connection"} {
					got, resumed, err := whoOnce(t, addr, cfg)
					where := m.name + "/" + c.name + "/" + tls.VersionName(version) + "/" + step
					switch {
					case !accepted && err == nil:
						t.Errorf("%s: accepted as %v", where, got)
					case accepted && err != nil:
						t.Errorf("%s: %v", where, err)
					case accepted && got != c.want:
						t.Errorf("%s: %v, want %v", where, got, c.want)
					case accepted && step == "second connection" && !resumed:
						t.Errorf("%s: the session was not resumed", where)
					}
				}
				if c.id == nil && !maps.Equal(before, e.verdicts(t)) {
					t.Errorf("%s/%s: a client without a certificate was verified: verdicts %v -> %v", m.name, tls.VersionName(version), before, e.verdicts(t))
				}
			}
		}
	}
}

// TestVerifyClientCertIfGivenRevoked: with the certificate optional, a
// client whose identity is no longer accepted cannot resume its session as
// one without identity: the resumed handshake fails.
func TestVerifyClientCertIfGivenRevoked(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	e := newEnv(t, []string{testident.EELine(t, dev.name, dev.key.Public())}, "*._device.example.test")
	sc, pool := testident.ServerCert(t)
	addr := startTLS(t, ServerConfig(&tls.Config{Certificates: []tls.Certificate{sc}}, e.core, VerifyClientCertIfGiven()))
	cfg := whoClient(t, pool, &dev, tls.VersionTLS13)
	if got, _, err := whoOnce(t, addr, cfg); err != nil || !got.OK {
		t.Fatalf("before the revocation: %v, %v", got, err)
	}
	e.core.SetAllowList(mustAllow(t, "other._device.example.test"))
	w := mustDialWho(t, addr, cfg)
	if !w.tc.ConnectionState().DidResume {
		t.Fatal("the session was not resumed, the test proves nothing")
	}
	if got, err := w.query(); err == nil {
		t.Errorf("revoked identity resumed its session as %v", got)
	}
}
