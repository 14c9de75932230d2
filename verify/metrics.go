package verify

import (
	"time"

	"github.com/dnsbound/dance/resolver"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names: namespace and subsystems (CoreDNS style, counters end in
// _total).
const (
	metricsNamespace         = "dance"
	metricsSubsystem         = "verify"
	metricsResolverSubsystem = "resolver"
)

// resultOK is the verdicts_total label of an authenticated peer; refusals
// use their Reason's String.
const resultOK = "ok"

type metrics struct {
	verdicts  *prometheus.CounterVec
	cacheHits prometheus.Counter
	latency   prometheus.Histogram
	inflight  prometheus.Gauge
}

// statser is implemented by *resolver.Resolver.
type statser interface{ Stats() resolver.Stats }

func newMetrics(reg prometheus.Registerer, r Resolver, c *Core) (*metrics, error) {
	m := &metrics{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "verdicts_total",
			Help: "Verdicts on claimed identities, by result: ok or the reason for refusal.",
		}, []string{"result"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "cache_hits_total",
			Help: "Verdicts answered from the verdict cache.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "lookup_duration_seconds",
			Help:    "Time spent in TLSA lookups (cache misses of the verdict cache).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "in_flight",
			Help: "TLSA lookups in progress.",
		}),
	}
	m.verdicts.WithLabelValues(resultOK)
	for _, r := range Reasons() {
		m.verdicts.WithLabelValues(r.String())
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.verdicts, m.cacheHits, m.latency, m.inflight,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "cache_entries",
			Help: "Verdicts in the verdict cache.",
		}, func() float64 { return float64(c.cache.Len()) }),
	}
	if s, ok := r.(statser); ok {
		counter := func(name, help string, f func(resolver.Stats) uint64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace: metricsNamespace, Subsystem: metricsResolverSubsystem, Name: name, Help: help,
			}, func() float64 { return float64(f(s.Stats())) })
		}
		cs = append(cs,
			counter("lookups_total", "Resolver lookups.", func(s resolver.Stats) uint64 { return s.Lookups }),
			counter("cache_hits_total", "Resolver lookups answered from its cache.", func(s resolver.Stats) uint64 { return s.CacheHits }),
			counter("refused_overloaded_total", "Resolver lookups refused because too many were in flight.", func(s resolver.Stats) uint64 { return s.RefusedOverloaded }),
			counter("deadline_exceeded_total", "Resolver lookups that hit their deadline.", func(s resolver.Stats) uint64 { return s.DeadlineExceeded }),
			counter("upstream_queries_total", "Queries sent upstream, retries included.", func(s resolver.Stats) uint64 { return s.UpstreamQueries }),
			counter("upstream_errors_total", "Upstream queries without a usable answer.", func(s resolver.Stats) uint64 { return s.UpstreamErrors }),
		)
	}
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) verdict(result string, cached bool) {
	m.verdicts.WithLabelValues(result).Inc()
	if cached {
		m.cacheHits.Inc()
	}
}

func (m *metrics) observeLookup(d time.Duration) { m.latency.Observe(d.Seconds()) }

func (m *metrics) inFlight(delta float64) { m.inflight.Add(delta) }
