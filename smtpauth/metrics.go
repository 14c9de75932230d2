package smtpauth

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of dance_smtp_sessions_total.
const (
	sessionNoTLS         = "no_tls"
	sessionAuthenticated = "authenticated"
	sessionRefused       = "refused"
)

// Metrics counts a Backend's sessions and refusals (dance_smtp_*). Make
// one with NewMetrics and set it as Backend.Metrics; the verification
// core counts its own verdicts (dance_verify_*).
type Metrics struct {
	sessions *prometheus.CounterVec
	refusals *prometheus.CounterVec
}

// NewMetrics registers the counters with reg.
//
//   - dance_smtp_sessions_total{result}: sessions started, one at each EHLO
//     (go-smtp starts one before STARTTLS and another after it): no_tls
//     (before STARTTLS: MAIL gets 530), authenticated, refused.
//   - dance_smtp_refusals_total{reason}: refused sessions by reason:
//     no-certificate, or the verification core's reason (not-allowed,
//     no-match, revoked, insecure, lookup-timeout, ...).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dance", Subsystem: "smtp", Name: "sessions_total",
			Help: "SMTP sessions started (one at each EHLO, before STARTTLS and after), by result: no_tls, authenticated, refused.",
		}, []string{"result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dance", Subsystem: "smtp", Name: "refusals_total",
			Help: "SMTP sessions refused after STARTTLS, by reason: no-certificate or the verification core's reason.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return nil, errors.New("smtpauth: NewMetrics needs a Registerer")
	}
	for _, c := range []prometheus.Collector{m.sessions, m.refusals} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) session(result string) {
	if m != nil {
		m.sessions.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) refusal(reason string) {
	if m != nil {
		m.sessions.WithLabelValues(sessionRefused).Inc()
		m.refusals.WithLabelValues(reason).Inc()
	}
}
