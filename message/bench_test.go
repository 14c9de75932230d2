package message

import (
	"fmt"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/veraison/go-cose"

	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/verify"
)

// BenchmarkVerify measures messages verified per second with a warm cache
// (the TLSA answer and the core's verdict cached), against bare signature
// verification of the same messages with the key already in hand: the
// ratio is what DANCE costs on top of the signature. Each message is
// distinct, since the replay memory refuses a second copy; signing them
// is outside the timer. bench/RESULTS.md has the figures and the command.
func BenchmarkVerify(b *testing.B) {
	w := newWorld(b)
	for _, c := range []struct {
		alg   Algorithm
		name  string
		cred  testident.Cred
		carry bool
	}{
		{ES256, nFull, w.full, false},
		{EdDSA, nEd, w.ed, false},
		{ES384, nES384, w.es384, false},
		{PS256, nRSA, w.rsa, false},
		{ES256, nDigest, w.digest, true},
	} {
		key := "record"
		if c.carry {
			key = "certificate"
		}
		for _, f := range []Format{JWSCompact, COSE} {
			if f == COSE && (c.alg == ES384 || c.alg == PS256) {
				continue
			}
			s := w.signer(c.name, c.cred, c.carry)
			msgs := func(n int) [][]byte {
				out := make([][]byte, n)
				for i := range out {
					out[i] = mustSign(b, s, []byte(`{"temperature":21.5}`), f)
				}
				return out
			}
			label := fmt.Sprintf("%s/%s/%s", c.alg, f, key)
			b.Run(label+"/dance", func(b *testing.B) {
				v := w.verifier(b, Config{ReplayEntries: 1 << 30, ReplayPerSigner: 1 << 30})
				if _, err := v.Verify(ctx, mustSign(b, s, []byte("warm"), f)); err != nil {
					b.Fatal(err)
				}
				ms := msgs(b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := v.Verify(ctx, ms[i]); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(label+"/bare", func(b *testing.B) {
				pub := c.cred.Key.Public()
				ms := msgs(b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					bareVerify(b, f, ms[i], pub)
				}
			})
		}
	}
}

// BenchmarkVerifyRatio runs the two of BenchmarkVerify in alternation,
// message by message, so that both see the same load on a shared machine,
// and reports each one's time per message and their ratio (bare / dance:
// 1 means DANCE costs nothing on top of the signature).
func BenchmarkVerifyRatio(b *testing.B) {
	w := newWorld(b)
	for _, c := range []struct {
		alg   Algorithm
		name  string
		cred  testident.Cred
		carry bool
	}{
		{ES256, nFull, w.full, false},
		{EdDSA, nEd, w.ed, false},
		{ES384, nES384, w.es384, false},
		{PS256, nRSA, w.rsa, false},
		{ES256, nDigest, w.digest, true},
		{EdDSA, nEd, w.ed, true},
	} {
		key := "record"
		if c.carry {
			key = "certificate"
		}
		for _, f := range []Format{JWSCompact, COSE} {
			if f == COSE && (c.alg == ES384 || c.alg == PS256) {
				continue
			}
			s := w.signer(c.name, c.cred, c.carry)
			pub := c.cred.Key.Public()
			b.Run(fmt.Sprintf("%s/%s/%s", c.alg, f, key), func(b *testing.B) {
				v := w.verifier(b, Config{ReplayEntries: 1 << 30, ReplayPerSigner: 1 << 30})
				if _, err := v.Verify(ctx, mustSign(b, s, []byte("warm"), f)); err != nil {
					b.Fatal(err)
				}
				ms := make([][]byte, b.N)
				for i := range ms {
					ms[i] = mustSign(b, s, []byte(`{"temperature":21.5}`), f)
				}
				var dance, bare time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					if _, err := v.Verify(ctx, ms[i]); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					bareVerify(b, f, ms[i], pub)
					bare += time.Since(t1)
					dance += t1.Sub(t0)
				}
				b.ReportMetric(float64(dance.Nanoseconds())/float64(b.N), "dance-ns/msg")
				b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "bare-ns/msg")
				b.ReportMetric(float64(bare)/float64(dance), "ratio")
			})
		}
	}
}

// bareVerify checks a message's signature with the key in hand, through
// the format library alone.
func bareVerify(b *testing.B, f Format, msg []byte, pub any) {
	if f == COSE {
		var m cose.Sign1Message
		if err := m.UnmarshalCBOR(msg); err != nil {
			b.Fatal(err)
		}
		alg, _ := m.Headers.Protected.Algorithm()
		ver, err := cose.NewVerifier(alg, pub)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Verify(nil, ver); err != nil {
			b.Fatal(err)
		}
		return
	}
	obj, err := jose.ParseSignedCompact(string(msg), joseAlgorithms)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := obj.Verify(pub); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStages times the steps Verify adds to the signature check, one
// at a time, for an ES256 compact JWS whose key is in a 3 1 0 record (warm
// caches): where the DANCE overhead of BenchmarkVerifyRatio goes.
func BenchmarkStages(b *testing.B) {
	w := newWorld(b)
	s := w.signer(nFull, w.full, false)
	jws := mustSign(b, s, []byte(`{"temperature":21.5}`), JWSCompact)
	cbor := mustSign(b, s, []byte(`{"temperature":21.5}`), COSE)
	keys, err := w.core.PublishedKeys(ctx, nFull)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("parse-jws", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := parseJWS(jws); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse-jws-library-only", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := jose.ParseSignedCompact(string(jws), joseAlgorithms); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse-cose", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := parseCOSE(cbor); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse-cose-library-only", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var m cose.Sign1Message
			if err := m.UnmarshalCBOR(cbor); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("published-keys", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := w.core.PublishedKeys(ctx, nFull); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("core-verify-cached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := w.core.Verify(ctx, nFull, verify.Presented{RawPublicKey: keys[0].SPKI}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("replay-add", func(b *testing.B) {
		b.ReportAllocs()
		r := newReplayCache(1<<30, 1<<30)
		now := time.Now()
		for i := 0; i < b.N; i++ {
			if err := r.add(nFull, fmt.Sprint(i), now.Add(time.Minute), now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// joseAlgorithms are the algorithms go-jose may parse in the bare
// baseline: the ones Verify accepts.
var joseAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA, jose.PS256}
