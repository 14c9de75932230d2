package message

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/verify"
)

// decodeGeneral decodes a countersigned message for a test to tamper with.
func decodeGeneral(t *testing.T, msg []byte) *jwsJSON {
	t.Helper()
	var j jwsJSON
	if err := json.Unmarshal(msg, &j); err != nil {
		t.Fatal(err)
	}
	return &j
}

func (j *jwsJSON) bytes(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCountersign(t *testing.T, s *Signer, msg []byte) []byte {
	t.Helper()
	out, err := s.Countersign(msg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCountersign checks the sensor → gateway → cloud message: both
// signers authenticated by their own names, and every way of getting a
// message past the cloud without both refused.
func TestCountersign(t *testing.T) {
	w := newWorld(t)
	sensor := w.signer(nFull, w.full, false)
	gateway := w.signer(nDigest, w.digest, true)
	impostor := testident.SelfSigned(t, nFull, identity.KeyECDSAP256)
	fakeGateway := testident.SelfSigned(t, nDigest, identity.KeyECDSAP256)
	reading, other := []byte(`{"t":21.5}`), []byte(`{"t":99}`)

	good := func() []byte { return mustCountersign(t, gateway, mustSign(t, sensor, reading, JWSCompact)) }
	// overOther is a gateway signature that names sensorMsg's signature
	// but signs another payload.
	overOther := func() []byte {
		sensorMsg := mustSign(t, sensor, reading, JWSJSON)
		first, _, err := splitJWS(sensorMsg)
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := b64(first.Signature, "")
		h, err := gateway.header()
		if err != nil {
			t.Fatal(err)
		}
		h.countersigns = digest(sig)
		own, err := gateway.signJWS(other, JWSJSON, h)
		if err != nil {
			t.Fatal(err)
		}
		j := decodeGeneral(t, mustCountersign(t, gateway, sensorMsg))
		o := decodeGeneral(t, own)
		j.Signatures[1] = jwsJSONSigPart{Protected: o.Protected, Signature: o.Signature}
		return j.bytes(t)
	}
	tests := []countersignCase{
		{"good", good, 0, 0},
		{"good, sensor sent jws-json", func() []byte { return mustCountersign(t, gateway, mustSign(t, sensor, reading, JWSJSON)) }, 0, 0},
		{"forged sensor signature", func() []byte {
			return mustCountersign(t, gateway, mustSign(t, w.signer(nFull, impostor, false), reading, JWSCompact))
		}, ReasonBadSignature, 0},
		{"forged sensor certificate", func() []byte {
			return mustCountersign(t, gateway, mustSign(t, w.signer(nFull, impostor, true), reading, JWSCompact))
		}, ReasonSigner, verify.ReasonNoMatch},
		{"forged gateway", func() []byte {
			return mustCountersign(t, w.signer(nDigest, fakeGateway, true), mustSign(t, sensor, reading, JWSCompact))
		}, ReasonSigner, verify.ReasonNoMatch},
		{"tampered gateway signature", func() []byte {
			j := decodeGeneral(t, good())
			s := []byte(j.Signatures[1].Signature)
			if s[3] == 'A' {
				s[3] = 'B'
			} else {
				s[3] = 'A'
			}
			j.Signatures[1].Signature = string(s)
			return j.bytes(t)
		}, ReasonBadSignature, 0},
		{"gateway signature over another payload", overOther, ReasonBadSignature, 0},
		{"payload changed", func() []byte {
			j := decodeGeneral(t, good())
			p := b64u.EncodeToString(other)
			j.Payload = &p
			return j.bytes(t)
		}, ReasonBadSignature, 0},
		{"second signature stripped", func() []byte {
			j := decodeGeneral(t, good())
			j.Signatures = j.Signatures[:1]
			return j.bytes(t)
		}, ReasonCountersignature, 0},
		{"sensor message alone", func() []byte { return mustSign(t, sensor, reading, JWSJSON) }, ReasonCountersignature, 0},
		{"sensor compact alone", func() []byte { return mustSign(t, sensor, reading, JWSCompact) }, ReasonCountersignature, 0},
		{"signatures swapped", func() []byte {
			j := decodeGeneral(t, good())
			j.Signatures[0], j.Signatures[1] = j.Signatures[1], j.Signatures[0]
			return j.bytes(t)
		}, ReasonCountersignature, 0},
		{"first signature replaced by another of the sensor's", func() []byte {
			j := decodeGeneral(t, good())
			again := decodeGeneral(t, mustCountersign(t, gateway, mustSign(t, sensor, reading, JWSCompact)))
			j.Signatures[0] = again.Signatures[0]
			return j.bytes(t)
		}, ReasonCountersignature, 0},
		{"gateway signed without naming the sensor's signature", func() []byte {
			j := decodeGeneral(t, good())
			o := decodeGeneral(t, mustSign(t, gateway, reading, JWSJSON))
			j.Signatures[1] = jwsJSONSigPart{Protected: o.Protected, Signature: o.Signature}
			return j.bytes(t)
		}, ReasonCountersignature, 0},
		{"revoked sensor", func() []byte {
			return mustCountersign(t, gateway, mustSign(t, w.signer(nRevoked, w.full, false), reading, JWSCompact))
		}, ReasonSigner, 0},
		{"three signatures", func() []byte {
			j := decodeGeneral(t, good())
			j.Signatures = append(j.Signatures, j.Signatures[1])
			return j.bytes(t)
		}, ReasonCountersignature, 0},
	}
	runCountersignCases(t, w.verifier(t, Config{}), JWSJSON, reading, tests)
}

// countersignCase is a message handed to VerifyCountersigned and the
// reason it must be refused for (0: accepted), with the core's reason
// when it is ReasonSigner and the case names one.
type countersignCase struct {
	name string
	msg  func() []byte
	want Reason
	core verify.Reason
}

// runCountersignCases runs each case through v: an accepted message must
// come out with the sensor (nFull, its key from its record) as signer in
// format f, the gateway (nDigest, its key from its certificate) as
// countersigner, and reading; a refused one with the reasons wanted.
func runCountersignCases(t *testing.T, v *Verifier, f Format, reading []byte, tests []countersignCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := v.VerifyCountersigned(ctx, tc.msg())
			if tc.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if m.Signer.Signer.Name != nFull || m.Countersigner.Signer.Name != nDigest || string(m.Payload) != string(reading) {
					t.Fatalf("got signer %s, countersigner %s, payload %q", m.Signer.Signer.Name, m.Countersigner.Signer.Name, m.Payload)
				}
				if m.Signer.Format != f || m.Signer.KeyFrom != "record" || m.Countersigner.KeyFrom != "certificate" {
					t.Fatalf("format %v, keys from %s and %s", m.Signer.Format, m.Signer.KeyFrom, m.Countersigner.KeyFrom)
				}
				return
			}
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("reason %v (%v), want %v", got, err, tc.want)
			}
			if tc.core != 0 && verify.ReasonOf(err) != tc.core {
				t.Fatalf("core reason %v (%v), want %v", verify.ReasonOf(err), err, tc.core)
			}
		})
	}
}

// TestCountersignReplay checks that a countersigned message is accepted
// once, that a refused one leaves no id behind, and that a gateway cannot
// re-publish a sensor's message under a fresh countersignature.
func TestCountersignReplay(t *testing.T) {
	w := newWorld(t)
	sensor := w.signer(nFull, w.full, false)
	gateway := w.signer(nDigest, w.digest, true)
	v := w.verifier(t, Config{})
	sensorMsg := mustSign(t, sensor, []byte("1"), JWSCompact)
	msg := mustCountersign(t, gateway, sensorMsg)

	broken := decodeGeneral(t, msg)
	broken.Signatures[1].Signature = broken.Signatures[0].Signature
	if _, err := v.VerifyCountersigned(ctx, broken.bytes(t)); ReasonOf(err) != ReasonBadSignature {
		t.Fatalf("broken countersignature: %v", err)
	}
	if _, err := v.VerifyCountersigned(ctx, msg); err != nil {
		t.Fatalf("after a refused copy: %v", err)
	}
	if _, err := v.VerifyCountersigned(ctx, msg); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := v.VerifyCountersigned(ctx, mustCountersign(t, gateway, sensorMsg)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("sensor's message countersigned again: %v", err)
	}
}

// TestCountersignInput checks what Countersign refuses to sign.
func TestCountersignInput(t *testing.T) {
	w := newWorld(t)
	sensor := w.signer(nFull, w.full, false)
	gateway := w.signer(nDigest, w.digest, true)
	twice := mustCountersign(t, gateway, mustSign(t, sensor, []byte("1"), JWSCompact))
	for name, msg := range map[string][]byte{
		"empty":              nil,
		"two parts":          []byte("a.b"),
		"bad base64":         []byte("eyJ.!!.AA"),
		"countersigned":      twice,
		"cose countersigned": mustCountersign(t, gateway, mustSign(t, w.signer(nEd, w.ed, false), []byte("1"), COSE)),
		"cose not canonical": append([]byte{0xd8, 0x12}, mustSign(t, w.signer(nEd, w.ed, false), []byte("1"), COSE)[1:]...),
		"duplicate members":  []byte(`{"payload":"MQ","payload":"Mg","protected":"e30","signature":"AA"}`),
	} {
		if _, err := gateway.Countersign(msg); err == nil {
			t.Errorf("%s: countersigned", name)
		}
	}
}

// sameID is a Signer.Rand that gives every message the same id (all
// zeros), as a signer replaying its own ids would.
type sameID struct{}

func (sameID) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestCountersignReplayedIDSpendsNothing checks that a countersignature
// refused for its own id leaves the genuine message's id unspent: another
// identity the cloud accepts as a countersigner, countersigning a genuine
// sensor message with an id it has used before, must not make the
// gateway's genuine copy of that message a replay.
func TestCountersignReplayedIDSpendsNothing(t *testing.T) {
	for _, f := range []Format{JWSCompact, COSE} {
		t.Run(f.String(), func(t *testing.T) {
			w := newWorld(t)
			sensor := w.signer(nFull, w.full, false)
			gateway := w.signer(nDigest, w.digest, true)
			rogue := w.signer(nEd, w.ed, false) // on the allow-list, keys of its own
			rogue.Rand = sameID{}
			v := w.verifier(t, Config{})

			// The rogue countersigner's id is spent once, legitimately.
			if _, err := v.VerifyCountersigned(ctx, mustCountersign(t, rogue, mustSign(t, sensor, []byte("1"), f))); err != nil {
				t.Fatal(err)
			}
			genuine := mustSign(t, sensor, []byte("2"), f)
			_, err := v.VerifyCountersigned(ctx, mustCountersign(t, rogue, genuine))
			if !errors.Is(err, ErrReplayed) || !strings.HasPrefix(err.Error(), "countersignature: ") {
				t.Fatalf("countersignature with a spent id: %v, want the countersignature refused as a replay", err)
			}
			m, err := v.VerifyCountersigned(ctx, mustCountersign(t, gateway, genuine))
			if err != nil {
				t.Fatalf("the gateway's genuine copy after the refused one: %v", err)
			}
			if m.Countersigner.Signer.Name != nDigest {
				t.Fatalf("countersigner %s", m.Countersigner.Signer.Name)
			}
		})
	}
}
