// Package keysched implements the TLS 1.3 key schedule of RFC 8446 §7.1-7.3
// and §4.6.3, for the two hashes the cipher suites in scope use (SHA-256 and
// SHA-384): HKDF-Expand-Label, Derive-Secret, the early, handshake and master
// secrets and the secrets derived from each, traffic keys and IVs, Finished
// keys and MACs, the resumption PSK and the KeyUpdate successor of a traffic
// secret.
//
// Start with New, then Handshake and Master in that order; Derive gives the
// secrets of the current stage. Everything else is a plain function of a
// secret.
package keysched

import (
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	_ "crypto/sha256" // registers crypto.SHA256
	_ "crypto/sha512" // registers crypto.SHA384
	"fmt"
	"hash"
)

// Labels of Derive-Secret (RFC 8446 §7.1). The "tls13 " prefix is added by
// ExpandLabel.
const (
	LabelExternalBinder   = "ext binder"
	LabelResumptionBinder = "res binder"
	LabelClientEarly      = "c e traffic"
	LabelEarlyExporter    = "e exp master"
	LabelClientHandshake  = "c hs traffic"
	LabelServerHandshake  = "s hs traffic"
	LabelClientAppTraffic = "c ap traffic"
	LabelServerAppTraffic = "s ap traffic"
	LabelExporterMaster   = "exp master"
	LabelResumptionMaster = "res master"

	labelDerived    = "derived"
	labelKey        = "key"         // §7.3
	labelIV         = "iv"          // §7.3
	labelFinished   = "finished"    // §4.4.4
	labelTrafficUpd = "traffic upd" // §7.2
	labelResumption = "resumption"  // §4.6.1
	labelExporter   = "exporter"    // §7.5
	labelPrefix     = "tls13 "      // §7.1 HkdfLabel
)

// IVLength is the per-record nonce length of every TLS 1.3 AEAD in scope
// (RFC 8446 §5.3: iv_length is max(8 bytes, N_MIN) = 12 for AES-GCM and
// ChaCha20-Poly1305).
const IVLength = 12

// Hash is the hash of a cipher suite: crypto.SHA256 or crypto.SHA384.
type Hash = crypto.Hash

func newFunc(h Hash) func() hash.Hash {
	switch h {
	case crypto.SHA256, crypto.SHA384:
		return h.New
	}
	panic(fmt.Sprintf("keysched: hash %v is not a TLS 1.3 suite hash", h))
}

// ExpandLabel is HKDF-Expand-Label (RFC 8446 §7.1):
//
//	HKDF-Expand(Secret, HkdfLabel, Length), where HkdfLabel is
//	uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>.
//
// The label and context are ours, never a peer's, so an oversized one is a
// programming error and panics.
func ExpandLabel(h Hash, secret []byte, label string, context []byte, length int) []byte {
	if length <= h.Size() {
		return expandOneBlock(h, secret, label, context, length)
	}
	out, err := hkdf.Expand(newFunc(h), secret, string(HkdfLabel(label, context, length)), length)
	if err != nil {
		// Only an output longer than 255*HashLen fails; our lengths are
		// at most a hash length.
		panic("keysched: " + err.Error())
	}
	return out
}

// expandOneBlock is HKDF-Expand for an output of at most one hash length,
// every length the key schedule asks for: RFC 5869 §2.3's T(1) =
// HMAC-Hash(PRK, info | 0x01), truncated. It saves the allocations of the
// general path on every secret, key and IV of a handshake.
func expandOneBlock(h Hash, secret []byte, label string, context []byte, length int) []byte {
	return expandLabelSum(h, secret, label, context, length, make([]byte, 0, h.Size()))[:length]
}

// HkdfLabel returns the encoded HkdfLabel structure of RFC 8446 §7.1, the
// info argument of HKDF-Expand in ExpandLabel.
func HkdfLabel(label string, context []byte, length int) []byte {
	return appendHkdfLabel(nil, label, context, length)
}

// appendHkdfLabel appends HkdfLabel to dst.
func appendHkdfLabel(dst []byte, label string, context []byte, length int) []byte {
	n := len(labelPrefix) + len(label)
	if n > 255 || len(context) > 255 || length > 0xffff {
		panic("keysched: HkdfLabel field too long")
	}
	dst = append(dst, byte(length>>8), byte(length), byte(n))
	dst = append(dst, labelPrefix...)
	dst = append(dst, label...)
	dst = append(dst, byte(len(context)))
	return append(dst, context...)
}

// Extract is HKDF-Extract(salt, ikm) (RFC 5869). A nil salt or ikm stands
// for a string of Hash.length zero bytes, as RFC 8446 §7.1 prescribes for the
// first salt and for absent PSK or (EC)DHE input.
func Extract(h Hash, salt, ikm []byte) []byte {
	// RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM).
	if salt == nil {
		salt = zeros[:h.Size()]
	}
	if ikm == nil {
		ikm = zeros[:h.Size()]
	}
	return macSum(h, salt, ikm, make([]byte, 0, h.Size()))
}

// zeros stands for an absent salt or input keying material.
var zeros [64]byte

// DeriveSecret is Derive-Secret(Secret, Label, Messages) of RFC 8446 §7.1,
// given Transcript-Hash(Messages) rather than the messages.
func DeriveSecret(h Hash, secret []byte, label string, transcriptHash []byte) []byte {
	return ExpandLabel(h, secret, label, transcriptHash, h.Size())
}

// EmptyHash returns Transcript-Hash("") for h, the context of the "derived"
// secrets and of the binder keys.
// The result is shared: the caller must not modify it.
func EmptyHash(h Hash) []byte {
	switch h {
	case crypto.SHA256:
		return emptySHA256
	case crypto.SHA384:
		return emptySHA384
	}
	return newFunc(h)().Sum(nil)
}

var (
	emptySHA256 = crypto.SHA256.New().Sum(nil)
	emptySHA384 = crypto.SHA384.New().Sum(nil)
)

// Stage is where a Schedule is in RFC 8446 §7.1's chain.
type Stage int

// The three secrets of the chain.
const (
	StageEarly Stage = iota
	StageHandshake
	StageMaster
)

func (s Stage) String() string {
	switch s {
	case StageEarly:
		return "early"
	case StageHandshake:
		return "handshake"
	case StageMaster:
		return "master"
	}
	return fmt.Sprintf("stage(%d)", int(s))
}

// Schedule walks the secret chain of RFC 8446 §7.1: Early Secret, Handshake
// Secret, Master Secret. Each step replaces the secret it came from, which is
// then zeroed, so a Schedule holds one secret at a time.
type Schedule struct {
	hash   Hash
	stage  Stage
	secret []byte
}

// New starts a schedule with Early Secret = HKDF-Extract(0, PSK); a nil psk
// (no resumption, no external PSK) stands for Hash.length zero bytes.
func New(h Hash, psk []byte) *Schedule {
	newFunc(h)
	return &Schedule{hash: h, stage: StageEarly, secret: Extract(h, nil, psk)}
}

// Hash returns the schedule's hash.
func (s *Schedule) Hash() Hash { return s.hash }

// Stage returns the current stage.
func (s *Schedule) Stage() Stage { return s.stage }

// Secret returns the current stage's secret. The caller must not modify it.
func (s *Schedule) Secret() []byte { return s.secret }

// Derive is Derive-Secret(current secret, label, Messages) given
// Transcript-Hash(Messages).
func (s *Schedule) Derive(label string, transcriptHash []byte) []byte {
	return DeriveSecret(s.hash, s.secret, label, transcriptHash)
}

// BinderKey returns binder_key (RFC 8446 §7.1, §4.2.11.2): the "res binder"
// key for a resumption PSK, "ext binder" for an external one.
func (s *Schedule) BinderKey(external bool) []byte {
	s.must(StageEarly)
	label := LabelResumptionBinder
	if external {
		label = LabelExternalBinder
	}
	return s.Derive(label, EmptyHash(s.hash))
}

// Handshake advances from the Early Secret to the Handshake Secret =
// HKDF-Extract(Derive-Secret(Early, "derived", ""), (EC)DHE shared secret).
func (s *Schedule) Handshake(sharedSecret []byte) {
	s.must(StageEarly)
	s.advance(sharedSecret)
}

// Master advances from the Handshake Secret to the Master Secret =
// HKDF-Extract(Derive-Secret(Handshake, "derived", ""), 0).
func (s *Schedule) Master() {
	s.must(StageHandshake)
	s.advance(nil)
}

func (s *Schedule) advance(ikm []byte) {
	salt := s.Derive(labelDerived, EmptyHash(s.hash))
	next := Extract(s.hash, salt, ikm)
	clear(s.secret)
	clear(salt)
	s.secret = next
	s.stage++
}

func (s *Schedule) must(st Stage) {
	if s.stage != st {
		panic(fmt.Sprintf("keysched: at the %v secret, not the %v secret", s.stage, st))
	}
}

// TrafficKeys returns the write key and IV of a traffic secret (RFC 8446
// §7.3): HKDF-Expand-Label(Secret, "key", "", key_length) and
// HKDF-Expand-Label(Secret, "iv", "", iv_length).
func TrafficKeys(h Hash, trafficSecret []byte, keyLength int) (key, iv []byte) {
	return ExpandLabel(h, trafficSecret, labelKey, nil, keyLength),
		ExpandLabel(h, trafficSecret, labelIV, nil, IVLength)
}

// FinishedKey is HKDF-Expand-Label(BaseKey, "finished", "", Hash.length)
// (RFC 8446 §4.4.4); BaseKey is the sender's handshake traffic secret, or the
// binder key for a PSK binder.
func FinishedKey(h Hash, baseKey []byte) []byte {
	return ExpandLabel(h, baseKey, labelFinished, nil, h.Size())
}

// FinishedMAC is verify_data = HMAC(finished_key, Transcript-Hash(...))
// (RFC 8446 §4.4.4), also the PSK binder value (§4.2.11.2).
func FinishedMAC(h Hash, finishedKey, transcriptHash []byte) []byte {
	return macSum(h, finishedKey, transcriptHash, make([]byte, 0, h.Size()))
}

// VerifyFinished reports, in constant time, whether verifyData is the
// Finished MAC of transcriptHash under baseKey.
func VerifyFinished(h Hash, baseKey, transcriptHash, verifyData []byte) bool {
	want := FinishedMAC(h, FinishedKey(h, baseKey), transcriptHash)
	return hmac.Equal(want, verifyData)
}

// NextTrafficSecret is application_traffic_secret_N+1 =
// HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "",
// Hash.length) (RFC 8446 §7.2), the secret after a KeyUpdate.
func NextTrafficSecret(h Hash, secret []byte) []byte {
	return ExpandLabel(h, secret, labelTrafficUpd, nil, h.Size())
}

// ResumptionPSK is HKDF-Expand-Label(resumption_master_secret, "resumption",
// ticket_nonce, Hash.length) (RFC 8446 §4.6.1).
func ResumptionPSK(h Hash, resumptionMaster, ticketNonce []byte) []byte {
	return ExpandLabel(h, resumptionMaster, labelResumption, ticketNonce, h.Size())
}

// Export is TLS-Exporter(label, context_value, key_length) of RFC 8446 §7.5
// (RFC 5705 keying material exporters) from the exporter master secret:
//
//	HKDF-Expand-Label(Derive-Secret(Secret, label, ""), "exporter", Hash(context_value), key_length)
func Export(h Hash, exporterMaster []byte, label string, context []byte, length int) []byte {
	inner := DeriveSecret(h, exporterMaster, label, EmptyHash(h))
	defer clear(inner)
	ch := h.New()
	ch.Write(context)
	return ExpandLabel(h, inner, labelExporter, ch.Sum(nil), length)
}
