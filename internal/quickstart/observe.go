package quickstart

import (
	"context"
	"crypto/x509"
	"errors"
	"sync"
	"time"

	"github.com/dnsbound/dance/verify"
)

// verdict is what the verification core decided about one claimed name.
type verdict struct {
	id     *verify.Identity // nil when refused
	reason verify.Reason
	detail string
	at     time.Time
}

// observer is the Verifier the proxy uses: it hands every question to the
// real core and remembers the last answer per claimed name, so that the
// quickstart can say why a client was refused, as the proxy's operator
// would read it in the logs. It decides nothing itself.
type observer struct {
	core *verify.Core

	mu   sync.Mutex
	last map[string]verdict
}

var _ verify.CertificateVerifier = (*observer)(nil)

func newObserver(core *verify.Core) *observer {
	return &observer{core: core, last: map[string]verdict{}}
}

// Verify implements verify.Verifier.
func (o *observer) Verify(ctx context.Context, claimed string, p verify.Presented) (*verify.Identity, error) {
	id, err := o.core.Verify(ctx, claimed, p)
	o.note(claimed, id, err)
	return id, err
}

// VerifyCertificate implements verify.CertificateVerifier: the core finds
// the claimed name in the certificate, as it does for the proxy without
// an observer.
func (o *observer) VerifyCertificate(ctx context.Context, chain []*x509.Certificate) (*verify.Identity, error) {
	id, err := o.core.VerifyCertificate(ctx, chain)
	name := ""
	if id != nil {
		name = id.Name
	} else if len(chain) > 0 {
		// The name the certificate claims, for a refusal; when it claims
		// none the refusal is filed under "".
		name, _ = verify.ClaimedName(chain[0])
	}
	o.note(name, id, err)
	return id, err
}

func (o *observer) note(name string, id *verify.Identity, err error) {
	v := verdict{id: id, at: time.Now()}
	if err != nil {
		v.id = nil
		v.reason = verify.ReasonOf(err)
		v.detail = err.Error()
		var ve *verify.Error
		if errors.As(err, &ve) && ve.Err != nil {
			v.detail = ve.Err.Error()
		}
	}
	o.mu.Lock()
	o.last[name] = v
	o.mu.Unlock()
}

// lastVerdict returns the last verdict on name.
func (o *observer) lastVerdict(name string) (verdict, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.last[name]
	return v, ok
}

// forget drops what is known about name, before a new attempt.
func (o *observer) forget(name string) {
	o.mu.Lock()
	delete(o.last, name)
	o.mu.Unlock()
}
