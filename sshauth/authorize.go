package sshauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/dnsbound/dance/verify"
)

// DefaultDeadline bounds one run of Authorize. sshd holds the client's
// authentication while its AuthorizedKeysCommand runs; a validated lookup
// from a warm resolver takes milliseconds, and a cold one a few round trips.
const DefaultDeadline = 3 * time.Second

// CommentPrefix starts the comment of each authorized_keys line, before the
// DNS name that published the key, so sshd's logs say where it came from.
const CommentPrefix = "dance:"

// ErrDeadline is the refusal of a name whose records were not validated
// before the deadline.
var ErrDeadline = errors.New("sshauth: deadline passed before the records were validated")

// Verifier is what Authorize needs of the verification core; *verify.Core
// implements it.
type Verifier interface {
	Verify(ctx context.Context, name string, p verify.Presented) (*verify.Identity, error)
	PublishedKeys(ctx context.Context, name string) ([]verify.PublishedKey, error)
}

var _ Verifier = (*verify.Core)(nil)

// Key is a key a name authorizes.
type Key struct {
	Name     string
	Key      ssh.PublicKey
	Identity *verify.Identity
}

// Refusal is a name that authorizes no key, and why.
type Refusal struct {
	Name string
	Err  error
}

// Result is the outcome of Authorize, in the order of the names.
type Result struct {
	Keys    []Key
	Refused []Refusal
}

type outcome struct {
	keys []Key
	err  error
}

// Authorize returns the keys the names authorize now. With offered (the key
// sshd passes as %t %k) each name is asked whether it publishes that key in
// any form, and only offered can come back; with offered nil each name's
// "3 1 0" keys are listed. The names are looked up at once, and Authorize
// returns within deadline (DefaultDeadline if 0): a name not settled by then
// is refused with ErrDeadline and its lookup cancelled.
func Authorize(ctx context.Context, v Verifier, names []string, offered ssh.PublicKey, deadline time.Duration) Result {
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	var res Result
	var spki []byte
	if offered != nil {
		var err error
		if spki, err = SPKI(offered); err != nil {
			for _, n := range names {
				res.Refused = append(res.Refused, Refusal{Name: n, Err: err})
			}
			return res
		}
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	type done struct {
		i int
		o outcome
	}
	ch := make(chan done, len(names)) // buffered: late lookups never block
	for i, n := range names {
		go func() { ch <- done{i, authorizeName(ctx, v, n, offered, spki)} }()
	}
	outs := make([]*outcome, len(names))
collect:
	for left := len(names); left > 0; left-- {
		select {
		case d := <-ch:
			outs[d.i] = &d.o
		case <-ctx.Done():
			break collect
		}
	}
	for i, n := range names {
		o := outs[i]
		switch {
		case o == nil:
			res.Refused = append(res.Refused, Refusal{Name: n, Err: fmt.Errorf("%w (%v)", ErrDeadline, deadline)})
		case o.err != nil:
			res.Refused = append(res.Refused, Refusal{Name: n, Err: o.err})
		default:
			res.Keys = append(res.Keys, o.keys...)
		}
	}
	return res
}

func authorizeName(ctx context.Context, v Verifier, name string, offered ssh.PublicKey, spki []byte) outcome {
	if offered != nil {
		id, err := v.Verify(ctx, name, verify.Presented{RawPublicKey: spki})
		if err != nil {
			return outcome{err: err}
		}
		return outcome{keys: []Key{{Name: id.Name, Key: offered, Identity: id}}}
	}
	pks, err := v.PublishedKeys(ctx, name)
	if err != nil {
		return outcome{err: err}
	}
	var o outcome
	var firstErr error
	for _, pk := range pks {
		k, err := FromSPKI(pk.SPKI)
		if err != nil {
			// A key of a type SSH cannot use (a short RSA key, an
			// X25519 key): skipped, the others still count.
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		o.keys = append(o.keys, Key{Name: pk.Identity.Name, Key: k, Identity: pk.Identity})
	}
	if len(o.keys) == 0 {
		if firstErr == nil {
			firstErr = errors.New("no key")
		}
		o.err = fmt.Errorf("%s: %w", name, firstErr)
	}
	return o
}

// AuthorizedKeysLine returns the authorized_keys line of a key (sshd(8),
// AUTHORIZED_KEYS FILE FORMAT): type, base64 key and a comment naming the
// DNS name that published it, without options.
func AuthorizedKeysLine(k Key) string {
	line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k.Key)), "\n")
	return line + " " + CommentPrefix + k.Name
}

// WriteAuthorizedKeys writes one authorized_keys line per key of res.
func WriteAuthorizedKeys(w io.Writer, res Result) error {
	var b strings.Builder
	for _, k := range res.Keys {
		b.WriteString(AuthorizedKeysLine(k))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
