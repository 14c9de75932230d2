package quickstart

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/message"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone/admin"
	"github.com/dnsbound/dance/zone/change"
)

// gatewayLabel is the gateway of the message step.
const gatewayLabel = "gw1"

// step 8: the sensor → gateway → cloud flow of signed readings (package
// message), in-process: the sensor signs, the gateway authenticates the
// sensor and countersigns, the cloud authenticates both, each by its own
// TLSA records through a verification core of its own. The by-hand
// commands run the same through a mosquitto broker.
func (q *qs) messages(ctx context.Context, _ int) error {
	gwName := q.deviceName(gatewayLabel)
	n, err := identity.ParseName(gwName)
	if err != nil {
		return err
	}
	rec, err := q.selfSigned(gatewayLabel, n)
	if err != nil {
		return err
	}
	if _, err := q.api.Publish(ctx, gwName, []admin.Record{{Type: "TLSA", Data: rec.String()}}, change.Add); err != nil {
		return fmt.Errorf("admin API: %s: %w", gwName, err)
	}
	q.p.line("%-40s %-9s the gateway, self-signed, TLSA %s published", gwName, gatewayLabel+"/", rec.String()[:5])

	devices := "*._device." + q.cfg.Zone
	allow, err := verify.ParseAllowList([]string{devices})
	if err != nil {
		return err
	}
	verifier := func(component string) (*message.Verifier, error) {
		core, err := verify.New(verify.Config{Allow: allow, Resolver: q.resolver, Logger: q.log.With("component", component)})
		if err != nil {
			return nil, err
		}
		return message.NewVerifier(message.Config{Core: core})
	}
	gwVerifier, err := verifier("gateway")
	if err != nil {
		return err
	}
	cloud, err := verifier("cloud")
	if err != nil {
		return err
	}
	signer := func(dir, name string) (*message.Signer, error) {
		kb, err := os.ReadFile(q.path(dir, danetls.KeyFile))
		if err != nil {
			return nil, err
		}
		k, err := identity.ParsePrivateKey(kb)
		if err != nil {
			return nil, err
		}
		cb, err := os.ReadFile(q.path(dir, danetls.CertFile))
		if err != nil {
			return nil, err
		}
		chain, err := identity.ParseCertificates(cb)
		if err != nil {
			return nil, err
		}
		return &message.Signer{Name: name, Key: k, Chain: []*x509.Certificate{chain[0]}}, nil
	}
	sensor, err := signer(dev1, q.deviceName(dev1))
	if err != nil {
		return err
	}
	if sensor.Seq, err = message.NewSequence(); err != nil {
		return err
	}
	gateway, err := signer(gatewayLabel, gwName)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		f       message.Format
		reading string
	}{{message.JWSCompact, "21.5"}, {message.COSE, "21.7"}} {
		msg, err := sensor.Sign([]byte(c.reading), c.f)
		if err != nil {
			return err
		}
		if _, err := gwVerifier.Verify(ctx, msg); err != nil {
			return fmt.Errorf("the gateway refused %s's %s reading: %w", dev1, c.f, err)
		}
		fwd, err := gateway.Countersign(msg)
		if err != nil {
			return err
		}
		m, err := cloud.VerifyCountersigned(ctx, fwd)
		if err != nil {
			return fmt.Errorf("the cloud refused the countersigned %s reading: %w", c.f, err)
		}
		if m.Signer.Signer.Name != q.deviceName(dev1) || m.Countersigner.Signer.Name != gwName || string(m.Payload) != c.reading {
			return fmt.Errorf("the cloud authenticated sensor %s, gateway %s, reading %q", m.Signer.Signer.Name, m.Countersigner.Signer.Name, m.Payload)
		}
		q.p.line("%-11s sensor=%s gateway=%s reading=%s (seq %d), each by its own TLSA record", c.f.String()+":", m.Signer.Signer.Name, m.Countersigner.Signer.Name, m.Payload, m.Signer.Seq.N)
	}
	// Signed under sensor1's name with another key, and by the revoked
	// sensor2: the gateway refuses both, and nothing reaches the cloud.
	forged, err := signer(devUnpublished, q.deviceName(dev1))
	if err != nil {
		return err
	}
	revoked, err := signer(dev2, q.deviceName(dev2))
	if err != nil {
		return err
	}
	for _, c := range []struct {
		who  string
		s    *message.Signer
		want verify.Reason
	}{{"forged " + dev1 + " (" + devUnpublished + "'s key)", forged, verify.ReasonNoMatch}, {"revoked " + dev2, revoked, verify.ReasonNoRecord}} {
		msg, err := c.s.Sign([]byte("66.6"), message.JWSCompact)
		if err != nil {
			return err
		}
		_, err = gwVerifier.Verify(ctx, msg)
		if verify.ReasonOf(err) != c.want {
			return fmt.Errorf("the gateway answered %v for the %s, want %s", err, c.who, c.want)
		}
		q.p.line("%-40s refused by the gateway: %s", c.who, message.Label(err))
	}

	anchors := []string{"--resolver", q.res.DNS, "--anchors", q.anchorsFile}
	conf := filepath.Join(q.dir, "mosquitto.conf")
	q.p.line("through a broker (Debian: mosquitto), each role its own process:")
	q.p.shell("printf 'listener 1883 127.0.0.1\\nallow_anonymous true\\nmax_queued_messages 0\\n' > " + shellQuote(conf) + " && mosquitto -c " + shellQuote(conf))
	q.p.dance(append([]string{"mqtt", "gateway", "--identity", q.path(gatewayLabel), "--allow", devices}, anchors...)...)
	q.p.dance(append([]string{"mqtt", "cloud", "--allow", devices, "--gateway", gwName, "--json"}, anchors...)...)
	q.p.dance("mqtt", "sensor", "--identity", q.path(dev1), "--format", "cose", "21.5")
	q.p.verdict("ok: readings authenticated by the cloud with sensor and gateway, in JWS and COSE; forged and revoked sensors refused by the gateway")
	return nil
}
