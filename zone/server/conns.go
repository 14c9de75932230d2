package server

import (
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/internal/connlimit"
)

// DefaultMaxTCPConns is the default cap on the connections open at once on
// each stream listener (DNS over TCP, DNS over TLS). A connection holds a
// file descriptor and a goroutine until the client closes it or the read
// (tcpReadTimeout) and idle (tcpIdleTimeout) timeouts cut it; the cap
// bounds what many such clients hold meanwhile. NSD serves 100 TCP
// connections by default (tcp-count) and BIND 150 (tcp-clients); an
// identity zone's TCP clients are resolvers retrying truncated answers,
// secondaries and update clients, which 256 leaves room for.
const DefaultMaxTCPConns = 256

// capListener caps ln at the server's MaxTCPConns and keeps it for the
// metrics under transport ("tcp", "tls" or "xot").
func (s *Server) capListener(ln net.Listener, transport string) *connlimit.Listener {
	n := s.cfg.MaxTCPConns
	if n <= 0 {
		n = DefaultMaxTCPConns
	}
	l := connlimit.New(ln, n, s.log.With("transport", transport))
	switch transport {
	case "tls":
		s.limits.tlsLn.Store(l)
	case "xot":
		s.limits.xotLn.Store(l)
	default:
		s.limits.tcpLn.Store(l)
	}
	return l
}

var (
	descTCPRefused = prometheus.NewDesc("dance_zone_tcp_refused_total",
		"Connections closed at accept because the listener's connection cap was reached, by transport (tcp, tls, xot).", []string{"transport"}, nil)
	descTCPOpen = prometheus.NewDesc("dance_zone_tcp_connections",
		"Connections open under the listener's connection cap, by transport (tcp, tls, xot).", []string{"transport"}, nil)
)

// collectConns adds the stream listeners' counters, once Serve runs.
func (c limitCollector) collectConns(ch chan<- prometheus.Metric) {
	for _, x := range []struct {
		l         *connlimit.Listener
		transport string
	}{{c.l.tcpLn.Load(), "tcp"}, {c.l.tlsLn.Load(), "tls"}, {c.l.xotLn.Load(), "xot"}} {
		if x.l == nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descTCPRefused, prometheus.CounterValue, float64(x.l.Refused()), x.transport)
		ch <- prometheus.MustNewConstMetric(descTCPOpen, prometheus.GaugeValue, float64(x.l.Open()), x.transport)
	}
}
