package message

import (
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/verify"
)

// sign1 decodes a COSE_Sign1 for a test to tamper with.
func sign1(t *testing.T, msg []byte) *cose.Sign1Message {
	t.Helper()
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(msg); err != nil {
		t.Fatal(err)
	}
	return &m
}

func marshalSign1(t *testing.T, m *cose.Sign1Message) []byte {
	t.Helper()
	m.Headers.RawUnprotected = nil
	if cs, ok := m.Headers.Unprotected[labelCountersignatureV2].(*cose.Countersignature); ok {
		cs.Headers.RawUnprotected = nil
	}
	b, err := m.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// countersignatureOf returns the countersignature a countersigned
// COSE_Sign1 carries.
func countersignatureOf(t *testing.T, msg []byte) *cose.Countersignature {
	t.Helper()
	cs, ok := sign1(t, msg).Headers.Unprotected[labelCountersignatureV2].(*cose.Countersignature)
	if !ok {
		t.Fatal("no countersignature")
	}
	return cs
}

// TestCountersignCOSE is TestCountersign for COSE_Sign1 messages with an
// RFC 9338 countersignature: both signers authenticated by their own
// names, and every way of getting a message past the cloud without both
// refused.
func TestCountersignCOSE(t *testing.T) {
	w := newWorld(t)
	sensor := w.signer(nFull, w.full, false)
	gateway := w.signer(nDigest, w.digest, true)
	impostor := testident.SelfSigned(t, nFull, identity.KeyECDSAP256)
	fakeGateway := testident.SelfSigned(t, nDigest, identity.KeyECDSAP256)
	reading, other := []byte(`{"t":21.5}`), []byte(`{"t":99}`)

	good := func() []byte { return mustCountersign(t, gateway, mustSign(t, sensor, reading, COSE)) }
	// moved puts the countersignature of one countersigned message on
	// another message of the same sensor with the same payload.
	moved := func() []byte {
		cs := countersignatureOf(t, good())
		m := sign1(t, mustSign(t, sensor, reading, COSE))
		m.Headers.Unprotected[labelCountersignatureV2] = cs
		return marshalSign1(t, m)
	}
	tests := []countersignCase{
		{"good", good, 0, 0},
		{"forged sensor signature", func() []byte {
			return mustCountersign(t, gateway, mustSign(t, w.signer(nFull, impostor, false), reading, COSE))
		}, ReasonBadSignature, 0},
		{"forged sensor certificate", func() []byte {
			return mustCountersign(t, gateway, mustSign(t, w.signer(nFull, impostor, true), reading, COSE))
		}, ReasonSigner, verify.ReasonNoMatch},
		{"forged gateway", func() []byte {
			return mustCountersign(t, w.signer(nDigest, fakeGateway, true), mustSign(t, sensor, reading, COSE))
		}, ReasonSigner, verify.ReasonNoMatch},
		{"tampered gateway signature", func() []byte {
			m := sign1(t, good())
			m.Headers.Unprotected[labelCountersignatureV2].(*cose.Countersignature).Signature[3] ^= 1
			return marshalSign1(t, m)
		}, ReasonBadSignature, 0},
		{"payload changed", func() []byte {
			m := sign1(t, good())
			m.Payload = other
			return marshalSign1(t, m)
		}, ReasonBadSignature, 0},
		{"countersignature stripped", func() []byte {
			m := sign1(t, good())
			delete(m.Headers.Unprotected, labelCountersignatureV2)
			return marshalSign1(t, m)
		}, ReasonCountersignature, 0},
		{"sensor message alone", func() []byte { return mustSign(t, sensor, reading, COSE) }, ReasonCountersignature, 0},
		{"countersignature moved to another message", moved, ReasonBadSignature, 0},
		{"countersignature of another payload", func() []byte {
			cs := countersignatureOf(t, mustCountersign(t, gateway, mustSign(t, sensor, other, COSE)))
			m := sign1(t, mustSign(t, sensor, reading, COSE))
			m.Headers.Unprotected[labelCountersignatureV2] = cs
			return marshalSign1(t, m)
		}, ReasonBadSignature, 0},
		{"two countersignatures", func() []byte {
			m := sign1(t, good())
			cs := m.Headers.Unprotected[labelCountersignatureV2].(*cose.Countersignature)
			m.Headers.Unprotected[labelCountersignatureV2] = []*cose.Countersignature{cs, cs}
			return marshalSign1(t, m)
		}, ReasonCountersignature, 0},
		{"countersignature under the version 1 label", func() []byte {
			m := sign1(t, good())
			m.Headers.Unprotected[cose.HeaderLabelCounterSignature] = m.Headers.Unprotected[labelCountersignatureV2]
			delete(m.Headers.Unprotected, labelCountersignatureV2)
			return marshalSign1(t, m)
		}, ReasonCountersignature, 0},
		{"a second countersignature label", func() []byte {
			m := sign1(t, good())
			m.Headers.Unprotected[cose.HeaderLabelCounterSignature0V2] = []byte{1, 2, 3}
			return marshalSign1(t, m)
		}, ReasonCountersignature, 0},
		{"countersignature's identity unprotected", func() []byte {
			m := sign1(t, good())
			cs := m.Headers.Unprotected[labelCountersignatureV2].(*cose.Countersignature)
			cs.Headers.Unprotected = cose.UnprotectedHeader{labelX5U: "dns:gw9._device.example.test?type=TLSA"}
			return marshalSign1(t, m)
		}, ReasonCountersignature, 0},
		{"countersignature's protected header not deterministic CBOR", func() []byte {
			m := sign1(t, good())
			cs := m.Headers.Unprotected[labelCountersignatureV2].(*cose.Countersignature)
			var inner []byte
			if err := cbor.Unmarshal(cs.Headers.RawProtected, &inner); err != nil || len(inner) == 0 || inner[0]>>5 != 5 || inner[0]&0x1f >= 24 {
				t.Fatalf("protected header %x: %v", cs.Headers.RawProtected, err)
			}
			// The same map with its length in a longer head than needed.
			long := append([]byte{0xb8, inner[0] & 0x1f}, inner[1:]...)
			raw, err := cbor.Marshal(long)
			if err != nil {
				t.Fatal(err)
			}
			cs.Headers.RawProtected = raw
			return marshalSign1(t, m)
		}, ReasonMalformed, 0},
		{"revoked sensor", func() []byte {
			return mustCountersign(t, gateway, mustSign(t, w.signer(nRevoked, w.full, false), reading, COSE))
		}, ReasonSigner, 0},
	}
	runCountersignCases(t, w.verifier(t, Config{}), COSE, reading, tests)
}

// TestCountersignCOSEReplay: a countersigned COSE message is accepted
// once, and a gateway cannot re-publish a sensor's message under a fresh
// countersignature; the sensor's message still verifies alone.
func TestCountersignCOSEReplay(t *testing.T) {
	w := newWorld(t)
	sensor := w.signer(nEd, w.ed, true)
	gateway := w.signer(nDigest, w.digest, true)
	sensorMsg := mustSign(t, sensor, []byte("1"), COSE)
	msg := mustCountersign(t, gateway, sensorMsg)
	v := w.verifier(t, Config{})
	if _, err := v.VerifyCountersigned(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyCountersigned(ctx, msg); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := v.VerifyCountersigned(ctx, mustCountersign(t, gateway, sensorMsg)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("sensor's message countersigned again: %v", err)
	}
}

// TestVerifyRefusesCountersignedCOSE: Verify checks one signature, so it
// refuses a COSE_Sign1 that carries a countersignature under any label,
// as it refuses a JWS with two signatures; and a copy of a sensor's
// message with a junk countersignature attached, published ahead of the
// genuine one, does not spend the sensor's message id at a gateway.
func TestVerifyRefusesCountersignedCOSE(t *testing.T) {
	w := newWorld(t)
	sensor := w.signer(nEd, w.ed, true)
	gateway := w.signer(nDigest, w.digest, true)
	sensorMsg := mustSign(t, sensor, []byte("1"), COSE)
	v := w.verifier(t, Config{})
	if _, err := v.Verify(ctx, mustCountersign(t, gateway, sensorMsg)); ReasonOf(err) != ReasonCountersignature {
		t.Errorf("countersigned: %v", err)
	}
	if _, err := v.Verify(ctx, mustCountersign(t, gateway, mustSign(t, sensor, []byte("1"), JWSJSON))); ReasonOf(err) != ReasonMalformed {
		t.Errorf("countersigned JWS: %v", err)
	}
	cs := countersignatureOf(t, mustCountersign(t, gateway, mustSign(t, sensor, []byte("2"), COSE)))
	for _, l := range coseCountersignLabels {
		m := sign1(t, sensorMsg)
		var junk any = cs // a countersignature of another message
		if l == cose.HeaderLabelCounterSignature0 || l == cose.HeaderLabelCounterSignature0V2 {
			junk = []byte{1, 2, 3} // abbreviated: the signature alone
		}
		m.Headers.Unprotected[l] = junk
		if _, err := v.Verify(ctx, marshalSign1(t, m)); ReasonOf(err) != ReasonCountersignature {
			t.Errorf("junk at label %d: %v", l, err)
		}
	}
	if _, err := v.Verify(ctx, sensorMsg); err != nil {
		t.Fatalf("the sensor's message after the junk copies: %v", err)
	}
}

// TestClaimedNames checks the names a refusal line shows, for one and
// two signatures in each format.
func TestClaimedNames(t *testing.T) {
	w := newWorld(t)
	sensor := w.signer(nFull, w.full, false)
	gateway := w.signer(nDigest, w.digest, true)
	for _, f := range []Format{JWSCompact, JWSJSON, COSE} {
		msg := mustSign(t, sensor, []byte("1"), f)
		if s, c, err := ClaimedNames(msg); err != nil || s != nFull || c != "" {
			t.Errorf("%v: %q, %q, %v", f, s, c, err)
		}
		two := mustCountersign(t, gateway, msg)
		if s, c, err := ClaimedNames(two); err != nil || s != nFull || c != nDigest {
			t.Errorf("%v countersigned: %q, %q, %v", f, s, c, err)
		}
		if s, err := ClaimedName(two); err != nil || s != nFull {
			t.Errorf("%v countersigned, ClaimedName: %q, %v", f, s, err)
		}
	}
}
