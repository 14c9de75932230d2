package ldapauth

import "github.com/prometheus/client_golang/prometheus"

const (
	metricsNamespace = "dance"
	metricsSubsystem = "ldap"
)

// Results of binds_total.
const (
	bindOK            = "ok"
	bindAnonymous     = "anonymous"
	bindRefused       = "refused"        // the verifier refused the certificate
	bindNoCertificate = "no_certificate" // EXTERNAL without a client certificate
	bindUnavailable   = "unavailable"    // no verdict could be had (DNS)
	bindMethod        = "method"         // simple, anonymous or another mechanism
	bindAuthzRefused  = "authz_refused"  // an authorization identity not permitted
)

// Operations of operations_total.
const (
	opNameBind     = "bind"
	opNameSearch   = "search"
	opNameWhoAmI   = "whoami"
	opNameStartTLS = "starttls"
	opNameUnbind   = "unbind"
	opNameAbandon  = "abandon"
	opNameOther    = "other"
)

// Reasons of connections_cut_total.
const (
	closeProtocol         = "protocol_error"
	closeOversize         = "oversize"
	closeIdle             = "idle"
	closeExpired          = "expired" // the identity's verdict expired and did not hold
	closeHandshake        = "handshake"
	closeHandshakeTimeout = "handshake_timeout"
)

type metrics struct {
	accepted prometheus.Counter
	open     prometheus.Gauge
	binds    *prometheus.CounterVec
	ops      *prometheus.CounterVec
	closed   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "connections_total",
			Help: "Client connections accepted under the connection cap.",
		}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "connections_open",
			Help: "Client connections open.",
		}),
		binds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "binds_total",
			Help: "Bind requests by result: ok, anonymous, refused, no_certificate, unavailable, method, authz_refused.",
		}, []string{"result"}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "operations_total",
			Help: "Requests by operation: bind, search, whoami, starttls, unbind, abandon, other.",
		}, []string{"op"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "connections_cut_total",
			Help: "Connections closed by the server, by reason: protocol_error, oversize, idle, expired, handshake, handshake_timeout.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.accepted, m.open, m.binds, m.ops, m.closed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
