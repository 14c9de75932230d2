package dotgate

import "github.com/prometheus/client_golang/prometheus"

const (
	metricsNamespace = "dance"
	metricsSubsystem = "dotgate"
)

// Results of handshakes_total.
const (
	handshakeOK      = "ok"
	handshakeFailed  = "failed" // refused by the verifier, or broken
	handshakeTimeout = "timeout"
	handshakeNoRule  = "not_in_policy"
)

// Results of queries_total.
const (
	queryForwarded     = "forwarded"
	queryRefusedZone   = "refused_zone"
	queryRefusedRate   = "refused_rate"
	queryRefusedOther  = "refused_other" // zone transfers, classes other than IN
	queryNotImpl       = "notimp"
	queryFormErr       = "formerr"
	queryUpstreamError = "upstream_error"
)

// Reasons of connections_closed_total beyond the ordinary end.
const (
	closeMalformed  = "malformed"
	closeOversize   = "oversize"
	closeMaxQueries = "max_queries"
	closeIdle       = "idle"
	closeExpired    = "expired"     // the identity's verdict expired
	closeSlowReader = "slow_reader" // an answer not taken within IdleTimeout
)

// Results of upstream_dials_total.
const (
	dialOK     = "ok"
	dialFailed = "failed"
)

type metrics struct {
	upInFlight prometheus.Gauge
	upDials    *prometheus.CounterVec
	upRetries  prometheus.Counter
	accepted   prometheus.Counter
	active     prometheus.Gauge
	handshakes *prometheus.CounterVec
	queries    *prometheus.CounterVec
	closed     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		upInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "upstream_queries_in_flight",
			Help: "Queries waiting for the upstream's answer, all clients together.",
		}),
		upRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "upstream_retries_total",
			Help: "Queries sent to the upstream again because their connection broke before the answer came.",
		}),
		upDials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "upstream_dials_total",
			Help: "Connections opened to the upstream (the pool's, each carrying many queries), by result: ok, failed.",
		}, []string{"result"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "connections_total",
			Help: "Client connections accepted under the connection cap.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "connections_open",
			Help: "Client connections open, handshakes included.",
		}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "handshakes_total",
			Help: "TLS handshakes with clients, by result: ok, failed (refused or broken), timeout, not_in_policy.",
		}, []string{"result"}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "queries_total",
			Help: "Queries from authenticated clients, by result: forwarded, refused_zone, refused_rate, refused_other, notimp, formerr, upstream_error.",
		}, []string{"result"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "connections_cut_total",
			Help: "Authenticated connections closed by the gate, by reason: malformed, oversize, max_queries, idle, expired, slow_reader.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.upInFlight, m.upDials, m.upRetries, m.accepted, m.active, m.handshakes, m.queries, m.closed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
