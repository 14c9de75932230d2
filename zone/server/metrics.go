package server

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/zone"
)

// outcome is what became of one DNS request, the label of
// dance_zone_dns_requests_total. Every outcome is exported from the
// start, at zero, so that an alert on a rate sees the series before its
// first event.
type outcome uint8

// Outcomes of requests. A request may count twice: a cached or direct
// answer under cache_hit or direct and not again under its kind of
// answer; a transfer under xfr_done and under its form.
const (
	outcomeSuccess       outcome = iota // a positive answer
	outcomeNoData                       // the name exists without the type
	outcomeNXDomain                     // the name does not exist
	outcomeRefused                      // outside the zone, not class IN, AXFR over UDP, IXFR not allowed
	outcomeFormErr                      // malformed question or OPT
	outcomeServFail                     // the zone failed to answer
	outcomeCacheHit                     // answered from the response cache
	outcomeDirect                       // answered by the UDP fast path without parsing
	outcomeTSIGFailure                  // BADKEY, BADSIG
	outcomeTSIGBadTime                  // outside the request's fudge or the server's window
	outcomeTSIGReplay                   // a signed update seen before
	outcomeUpdateApplied                // an update applied
	outcomeUpdateRefused                // an update refused, for any reason
	outcomeXfrDone                      // a transfer sent completely
	outcomeXfrRefused                   // a transfer refused
	outcomeXfrFull                      // a transfer of the whole zone (AXFR, or IXFR fallback)
	outcomeXfrIncr                      // a transfer of differences (RFC 1995 §4)
	outcomeXfrCurrent                   // an IXFR answered with the SOA alone: the client is current
	outcomeNotifySent                   // a NOTIFY acknowledged by a secondary
	outcomeNotifyFailed                 // a NOTIFY given up on
	numOutcomes
)

var outcomeLabels = [numOutcomes]string{
	outcomeSuccess:       "success",
	outcomeNoData:        "nodata",
	outcomeNXDomain:      "nxdomain",
	outcomeRefused:       "refused",
	outcomeFormErr:       "formerr",
	outcomeServFail:      "servfail",
	outcomeCacheHit:      "cache_hit",
	outcomeDirect:        "direct",
	outcomeTSIGFailure:   "tsig_failure",
	outcomeTSIGBadTime:   "tsig_badtime",
	outcomeTSIGReplay:    "tsig_replay",
	outcomeUpdateApplied: "update_applied",
	outcomeUpdateRefused: "update_refused",
	outcomeXfrDone:       "xfr_done",
	outcomeXfrRefused:    "xfr_refused",
	outcomeXfrFull:       "xfr_full",
	outcomeXfrIncr:       "xfr_ixfr",
	outcomeXfrCurrent:    "xfr_current",
	outcomeNotifySent:    "notify_sent",
	outcomeNotifyFailed:  "notify_failed",
}

func (o outcome) String() string {
	if o < numOutcomes {
		return outcomeLabels[o]
	}
	return "unknown"
}

// queryOutcome is the outcome of a zone's answer.
func queryOutcome(o zone.Outcome) outcome {
	switch o {
	case zone.Success:
		return outcomeSuccess
	case zone.NoData:
		return outcomeNoData
	case zone.NameError:
		return outcomeNXDomain
	}
	return outcomeRefused
}

// metrics counts requests by outcome; counting is one atomic add on the
// query path.
type metrics struct {
	n [numOutcomes]atomic.Uint64
}

func (m *metrics) count(o outcome) { m.n[o].Add(1) }

// get returns the counter of the outcome labelled label (tests).
func (m *metrics) get(label string) uint64 {
	for o, l := range outcomeLabels {
		if l == label {
			return m.n[o].Load()
		}
	}
	return 0
}

var (
	descRequests = prometheus.NewDesc("dance_zone_dns_requests_total",
		"DNS requests by outcome (success, nodata, nxdomain, refused, formerr, servfail, cache_hit, direct, tsig_*, update_*, xfr_*, notify_*).",
		[]string{"outcome"}, nil)
	descSerial = prometheus.NewDesc("dance_zone_serial", "SOA serial of the zone.", nil, nil)
	descRRsets = prometheus.NewDesc("dance_zone_rrsets", "RRsets in the zone.", nil, nil)
	descArena  = prometheus.NewDesc("dance_zone_arena_bytes",
		"Bytes of the zone's arena mapped outside the Go heap (NSEC3 chain and cached signatures), including slabs older views still hold.", nil, nil)
)

// Collector returns the server's Prometheus metrics: the zone's serial
// and size (dance_zone_serial, dance_zone_rrsets, dance_zone_arena_bytes), DNS requests by outcome
// (dance_zone_dns_requests_total{outcome}), the response rate limit and
// the online signing ceiling (dance_zone_rrl_*, dance_zone_signing_*) and
// the TCP and TLS connections (dance_zone_tcp_*). Register it once.
func (s *Server) Collector() prometheus.Collector { return serverCollector{s} }

type serverCollector struct{ s *Server }

func (c serverCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSerial
	ch <- descRRsets
	ch <- descArena
	ch <- descRequests
	limitCollector{c.s.limits}.Describe(ch)
}

func (c serverCollector) Collect(ch chan<- prometheus.Metric) {
	z := c.s.cfg.Zone
	ch <- prometheus.MustNewConstMetric(descSerial, prometheus.GaugeValue, float64(z.Serial()))
	ch <- prometheus.MustNewConstMetric(descRRsets, prometheus.GaugeValue, float64(z.RRsetCount()))
	ch <- prometheus.MustNewConstMetric(descArena, prometheus.GaugeValue, float64(z.ArenaBytes()))
	for o := range numOutcomes {
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(c.s.metrics.n[o].Load()), o.String())
	}
	limitCollector{c.s.limits}.Collect(ch)
}
