package message

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// Format is a message's serialisation.
type Format int

// Formats.
const (
	// JWSCompact is the JWS compact serialisation (RFC 7515 §7.1).
	JWSCompact Format = iota + 1
	// JWSJSON is the flattened JWS JSON serialisation (RFC 7515 §7.2.2).
	JWSJSON
	// COSE is a tagged COSE_Sign1 (RFC 9052 §4.2).
	COSE
)

var formatNames = map[Format]string{JWSCompact: "jws-compact", JWSJSON: "jws-json", COSE: "cose-sign1"}

// String returns "jws-compact", "jws-json" or "cose-sign1".
func (f Format) String() string {
	if s, ok := formatNames[f]; ok {
		return s
	}
	return fmt.Sprintf("format-%d", int(f))
}

// MarshalText implements encoding.TextMarshaler.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Defaults for the zero values of Config.
const (
	DefaultMaxSize         = 64 << 10
	DefaultMaxAge          = 5 * time.Minute
	DefaultSkew            = 30 * time.Second
	DefaultReplayEntries   = 100000
	DefaultReplayPerSigner = 10000
)

// maxChain bounds a carried certificate chain.
const maxChain = tlsa.MaxChainLength

// Config configures a Verifier. Core is required; every other zero value
// has the meaning its comment gives.
type Config struct {
	// Core authenticates signers: allow-list, validated TLSA lookup,
	// match. It is the only place that looks up and matches.
	Core *verify.Core
	// MaxSize bounds a message in bytes; 0 means DefaultMaxSize.
	MaxSize int
	// MaxAge is how long after its iat a message is accepted; 0 means
	// DefaultMaxAge.
	MaxAge time.Duration
	// Skew is the clock difference allowed with signers; 0 means
	// DefaultSkew, negative means none.
	Skew time.Duration
	// ReplayEntries bounds the message ids remembered in all, and
	// ReplayPerSigner those of one signer; 0 means DefaultReplayEntries
	// and DefaultReplayPerSigner. Ids are remembered until their message
	// could no longer be accepted; when full, messages are refused
	// (ReasonReplayFull).
	ReplayEntries, ReplayPerSigner int
	// Formats lists the formats accepted; nil means all.
	Formats []Format
	// Time returns the current time; nil means time.Now.
	Time func() time.Time
}

// Verifier verifies signed messages. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	now    func() time.Time
	replay *replayCache
}

// NewVerifier checks cfg and returns a Verifier.
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.Core == nil {
		return nil, errors.New("message: Config.Core is required")
	}
	if cfg.MaxSize < 0 || cfg.MaxAge < 0 || cfg.ReplayEntries < 0 || cfg.ReplayPerSigner < 0 {
		return nil, errors.New("message: negative limit in Config")
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultSkew
	} else if cfg.Skew < 0 {
		cfg.Skew = 0
	}
	if cfg.ReplayEntries == 0 {
		cfg.ReplayEntries = DefaultReplayEntries
	}
	if cfg.ReplayPerSigner == 0 {
		cfg.ReplayPerSigner = DefaultReplayPerSigner
	}
	v := &Verifier{cfg: cfg, now: cfg.Time, replay: newReplayCache(cfg.ReplayEntries, cfg.ReplayPerSigner)}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Verified is an accepted message.
type Verified struct {
	// Payload is the signed content.
	Payload []byte `json:"-"`
	// Signer is the authenticated signer, as the verification core found
	// it: name, kind, the TLSA record that matched.
	Signer *verify.Identity `json:"signer"`
	// Format is the message's serialisation.
	Format Format `json:"format"`
	// Algorithm is the signature algorithm.
	Algorithm Algorithm `json:"alg"`
	// KeyFrom says where the key came from: "record" (a 3 1 0 record) or
	// "certificate" (the carried chain's leaf).
	KeyFrom string `json:"key_from"`
	// IssuedAt is the message's iat; Expires its exp (zero without one).
	IssuedAt time.Time `json:"issued_at"`
	Expires  time.Time `json:"expires,omitzero"`
	// ID is the message id: jti, or cti in hexadecimal.
	ID string `json:"id"`
	// Seq is the message's place in its signer's stream, when the signer
	// numbers its messages (Signer.Seq); nil otherwise. It is
	// authenticated with the rest of the protected header.
	Seq *Seq `json:"seq,omitempty"`
}

// parsed is a decoded message whose header passed the rules, before any
// key is known.
type parsed struct {
	format        Format
	alg           Algorithm
	name          string
	chain         []*x509.Certificate
	iat, exp, nbf time.Time
	id            string
	seq           *Seq
	// check verifies the signature with pub and returns the payload.
	check func(pub crypto.PublicKey) ([]byte, error)
	// counter, for a COSE_Sign1 that carries a countersignature, parses
	// the countersignature (header rules, a check bound to this message);
	// nil otherwise.
	counter func() (*parsed, error)
}

// Verify authenticates a message in any accepted format: decode, header
// rules, key, signer, time window, replay. It refuses a countersigned
// message (VerifyCountersigned authenticates both signatures). The error holds an *Error
// whose Reason says why it was refused (ReasonSigner wraps the core's
// *verify.Error).
func (v *Verifier) Verify(ctx context.Context, msg []byte) (*Verified, error) {
	out, until, err := v.verify(ctx, msg)
	if err != nil {
		return nil, err
	}
	if err := v.replay.add(out.Signer.Name, out.ID, until, v.now()); err != nil {
		return nil, err
	}
	return out, nil
}

// verify is Verify without the replay step: it returns the message and
// until when it could be accepted.
func (v *Verifier) verify(ctx context.Context, msg []byte) (*Verified, time.Time, error) {
	var zero time.Time
	if len(msg) > v.cfg.MaxSize {
		return nil, zero, fail(ReasonTooLarge, "%d bytes, at most %d", len(msg), v.cfg.MaxSize)
	}
	if len(msg) == 0 {
		return nil, zero, fail(ReasonMalformed, "empty message")
	}
	p, err := parse(msg)
	if err != nil {
		return nil, zero, err
	}
	if p.counter != nil {
		// As for a JWS with two signatures: a signature this step does
		// not check never rides along on an accepted message, and a
		// copy with one attached cannot spend the signer's message id.
		return nil, zero, fail(ReasonCountersignature, "a COSE_Sign1 that carries a countersignature is authenticated whole (VerifyCountersigned) or not at all")
	}
	return v.authenticate(ctx, p)
}

// parse decodes a message in any format and applies the header rules.
func parse(msg []byte) (*parsed, error) {
	if len(msg) == 0 {
		return nil, fail(ReasonMalformed, "empty message")
	}
	if msg[0] == '{' || isBase64URL(msg[0]) {
		return parseJWS(msg)
	}
	return parseCOSE(msg)
}

// authenticate takes a parsed message through the steps that follow the
// header rules: claims present, key, signer, time window.
func (v *Verifier) authenticate(ctx context.Context, p *parsed) (*Verified, time.Time, error) {
	var zero time.Time
	var err error
	if !v.accepts(p.format) {
		return nil, zero, fail(ReasonMalformed, "%s messages are not accepted here", p.format)
	}
	// Claims are checked for presence now (no lookup for a message that
	// can never be accepted) and for time once they are authenticated.
	if p.iat.IsZero() {
		return nil, zero, fail(ReasonMissingClaim, "no iat: the message's age cannot be bounded")
	}
	if p.id == "" {
		return nil, zero, fail(ReasonMissingClaim, "no message id (jti, cti): replays cannot be told apart")
	}
	out := &Verified{Format: p.format, Algorithm: p.alg, IssuedAt: p.iat, Expires: p.exp, ID: p.id, Seq: p.seq}
	if len(p.chain) > 0 {
		// The carried leaf's key is checked before any DNS traffic.
		leaf := p.chain[0]
		if err := fits(p.alg, leaf.PublicKey); err != nil {
			return nil, zero, err
		}
		if out.Payload, err = p.check(leaf.PublicKey); err != nil {
			return nil, zero, badSignature(err)
		}
		id, err := v.cfg.Core.Verify(ctx, p.name, verify.Presented{Chain: p.chain})
		if err != nil {
			return nil, zero, &Error{Reason: ReasonSigner, Err: err}
		}
		out.Signer, out.KeyFrom = id, "certificate"
	} else {
		keys, err := v.cfg.Core.PublishedKeys(ctx, p.name)
		if verify.ReasonOf(err) == verify.ReasonNoUsableRecords {
			return nil, zero, &Error{Reason: ReasonNoKey, Err: err}
		}
		if err != nil {
			return nil, zero, &Error{Reason: ReasonSigner, Err: err}
		}
		// Each published key comes with the core's verdict for it (its
		// record matched by the core, allow-list and all), so the key
		// that verifies the signature has its identity in hand.
		var id *verify.Identity
		fitted := false
		for _, k := range keys {
			if fits(p.alg, k.Key) != nil {
				continue
			}
			fitted = true
			if payload, err := p.check(k.Key); err == nil {
				out.Payload, id = payload, k.Identity
				break
			}
		}
		switch {
		case !fitted:
			return nil, zero, fail(ReasonKeyMismatch, "alg %s fits none of the %d keys published for %s", p.alg, len(keys), p.name)
		case id == nil:
			return nil, zero, fail(ReasonBadSignature, "the signature verifies under none of the keys published for %s", p.name)
		}
		out.Signer, out.KeyFrom = id, "record"
	}
	until, err := v.window(p, v.now())
	if err != nil {
		return nil, zero, err
	}
	return out, until, nil
}

func badSignature(err error) error {
	if ReasonOf(err) != 0 && ReasonOf(err) != ReasonBadSignature {
		return err
	}
	return &Error{Reason: ReasonBadSignature, Err: err}
}

func (v *Verifier) accepts(f Format) bool {
	if v.cfg.Formats == nil {
		return true
	}
	for _, a := range v.cfg.Formats {
		if a == f {
			return true
		}
	}
	return false
}

// window checks the message's times against now and returns until when it
// could be accepted: iat + MaxAge (or exp, if sooner) + Skew.
func (v *Verifier) window(p *parsed, now time.Time) (time.Time, error) {
	skew := v.cfg.Skew
	if p.iat.After(now.Add(skew)) {
		return time.Time{}, fail(ReasonNotYetValid, "issued at %s, in the future", p.iat.UTC().Format(time.RFC3339))
	}
	if !p.nbf.IsZero() && p.nbf.After(now.Add(skew)) {
		return time.Time{}, fail(ReasonNotYetValid, "not before %s", p.nbf.UTC().Format(time.RFC3339))
	}
	until := p.iat.Add(v.cfg.MaxAge)
	if !p.exp.IsZero() && p.exp.Before(until) {
		until = p.exp
	}
	until = until.Add(skew)
	if !now.Before(until) {
		return time.Time{}, fail(ReasonExpired, "accepted until %s", until.UTC().Format(time.RFC3339))
	}
	return until, nil
}

// isBase64URL reports whether c can start a compact JWS.
func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// ClaimedName returns the signer a message names (the DANCE owner name of
// its dns: URI) after decoding it and applying the header rules, without
// verifying anything: for choosing an allow-list or routing, never for
// trusting the message. For a countersigned message it is the first
// signer's name; ClaimedNames gives both.
func ClaimedName(msg []byte) (string, error) {
	signer, _, err := ClaimedNames(msg)
	return signer, err
}

// ClaimedNames returns the names a message claims for its signer and, for
// a countersigned message (what Signer.Countersign makes), its
// countersigner; countersigner is empty for a message with one
// signature. Like ClaimedName it verifies nothing: for log lines and
// routing, never for trusting the message.
func ClaimedNames(msg []byte) (signer, countersigner string, err error) {
	if len(msg) > 0 && msg[0] == '{' {
		if j, err := decodeJWSJSON(msg); err == nil && len(j.Signatures) == 2 {
			first, second := j.Signatures[0], j.Signatures[1]
			p, err := jwsParts(first.Protected, *j.Payload, first.Signature, first.Header)
			if err != nil {
				return "", "", err
			}
			q, err := jwsParts(second.Protected, *j.Payload, second.Signature, second.Header)
			if err != nil {
				return p.name, "", fmt.Errorf("countersignature: %w", err)
			}
			return p.name, q.name, nil
		}
	}
	p, err := parse(msg)
	if err != nil {
		return "", "", err
	}
	if p.counter != nil {
		c, err := p.counter()
		if err != nil {
			return p.name, "", fmt.Errorf("countersignature: %w", err)
		}
		return p.name, c.name, nil
	}
	return p.name, "", nil
}
