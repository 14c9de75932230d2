package proxy

import "github.com/prometheus/client_golang/prometheus"

const (
	metricsNamespace = "dance"
	metricsSubsystem = "proxy"
)

// Results of handshakes_total.
const (
	handshakeOK      = "ok"
	handshakeFailed  = "failed" // refused or broken
	handshakeTimeout = "timeout"
)

type metrics struct {
	accepted         prometheus.Counter
	active           prometheus.Gauge
	handshakes       *prometheus.CounterVec
	handshakeSeconds prometheus.Histogram
	forwarded        *prometheus.CounterVec
	backendErrors    prometheus.Counter

	// The children of the vectors above for the labels in use, resolved
	// once rather than looked up per connection or request.
	handshakeOK, handshakeFailed, handshakeTimeout prometheus.Counter
	forwardedMode                                  prometheus.Counter // the server's mode
}

func newMetrics(reg prometheus.Registerer, mode Mode) (*metrics, error) {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "connections_total",
			Help: "Client connections accepted.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "connections_open",
			Help: "Client connections open, handshakes included.",
		}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "handshakes_total",
			Help: "TLS handshakes with clients, by result: ok, failed (refused or broken), timeout.",
		}, []string{"result"}),
		handshakeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "handshake_duration_seconds",
			Help:    "Duration of TLS handshakes with clients, verification included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "forwarded_total",
			Help: "Requests (HTTP modes) or connections (tcp mode) forwarded to the backend, by mode.",
		}, []string{"mode"}),
		backendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "backend_errors_total",
			Help: "Failures to reach the backend or to get its answer.",
		}),
	}
	m.handshakeOK = m.handshakes.WithLabelValues(handshakeOK)
	m.handshakeFailed = m.handshakes.WithLabelValues(handshakeFailed)
	m.handshakeTimeout = m.handshakes.WithLabelValues(handshakeTimeout)
	m.forwardedMode = m.forwarded.WithLabelValues(mode.String())
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.accepted, m.active, m.handshakes, m.handshakeSeconds, m.forwarded, m.backendErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
