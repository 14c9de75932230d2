package message

import (
	"testing"
)

// The seed corpora are in testdata/fuzz: signed messages of every shape
// (key from the record, carried certificate, carried chain) and the RFC
// 9052 C.2.1 example. Run with
//
//	go test -fuzz FuzzParseJWS ./message
//	go test -fuzz FuzzParseCOSE ./message

// FuzzParseJWS feeds the JWS decoder and header rules arbitrary input:
// nothing may panic, and whatever passes names a signer, an accepted
// algorithm and a way to check its signature.
func FuzzParseJWS(f *testing.F) {
	f.Add([]byte(`{"payload":"eA","protected":"eyJhbGciOiJFUzI1NiJ9","signature":"eA"}`))
	f.Add([]byte("eyJhbGciOiJub25lIn0.eA."))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > DefaultMaxSize {
			return
		}
		p, err := parseJWS(data)
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		checkParsed(t, p)
	})
}

// FuzzParseCOSE does the same for the COSE_Sign1 decoder, including its
// deterministic-encoding and nesting checks and the header rules of a
// countersignature.
func FuzzParseCOSE(f *testing.F) {
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > DefaultMaxSize {
			return
		}
		p, err := parseCOSE(data)
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		checkParsed(t, p)
		if err := checkCBOR(data); err != nil {
			t.Fatalf("accepted CBOR the strict check refuses: %v", err)
		}
		if p.counter != nil {
			c, err := p.counter()
			if err != nil {
				if ReasonOf(err) == 0 {
					t.Fatalf("countersignature refused without a reason: %v", err)
				}
				return
			}
			checkParsed(t, c)
		}
	})
}

func checkParsed(t *testing.T, p *parsed) {
	t.Helper()
	if p.name == "" || p.check == nil || !jwsAlgorithms[p.alg] || len(p.chain) > maxChain {
		t.Fatalf("accepted a message without a signer, check or accepted algorithm: %+v", p)
	}
	if _, err := ParseURI(URIScheme + ":" + p.name + "?type=TLSA"); err != nil {
		t.Fatalf("accepted signer %q that does not parse back: %v", p.name, err)
	}
}

// FuzzParseCOSEAgainstLibrary holds parseCOSE's one-pass reading to the
// decoder it replaced (go-cose's maps and coseHeader's rules): whatever
// that one accepts, parseCOSE accepts with the same signer, algorithm,
// times, id, sequence, chain and countersignature; and what both accept
// they read alike. (parseCOSE may refuse more: an empty text label.)
func FuzzParseCOSEAgainstLibrary(f *testing.F) {
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > DefaultMaxSize {
			return
		}
		p, err := parseCOSE(data)
		lp, _, lerr := parseCOSELibrary(data)
		switch {
		case lerr == nil && err != nil:
			t.Fatalf("refused what the library decoder accepts: %v", err)
		case lerr == nil:
			if d := sameParsed(p, lp); d != "" {
				t.Fatalf("the readings differ in %s", d)
			}
		}
	})
}
