package main

import (
	"fmt"
	"log/slog"
	"net/http"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/message"
)

// mqttMetricsHelp is what the MQTT roles' --help says of --metrics.
const mqttMetricsHelp = `With --metrics ADDR, Prometheus metrics are served on http://ADDR/metrics (namespace
"dance"): dance_mqtt_* counters labelled with the role (messages received, verified,
refused by reason, forwarded, readings lost from numbered streams, readings published),
and for a gateway or the cloud the verification core's dance_verify_* metrics. GET
/healthz answers 200 while the connection to the broker is open, 503 otherwise. The
--metrics server ` + "%s"

// mqttMetrics are the counters of an MQTT role (namespace "dance",
// subsystem "mqtt", each series labelled role="sensor", "gateway" or
// "cloud"). A role updates only those that apply to it: the sensor
// publishes; the gateway and the cloud receive, verify or refuse, and
// count lost readings; the gateway forwards.
type mqttMetrics struct {
	published, received, verified, forwarded, lost prometheus.Counter
	refused                                        *prometheus.CounterVec
}

// newMQTTMetrics registers role's counters with reg.
func newMQTTMetrics(reg prometheus.Registerer, role string) (*mqttMetrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "dance", Subsystem: "mqtt", Name: name, Help: help,
			ConstLabels: prometheus.Labels{"role": role}})
	}
	m := &mqttMetrics{
		published: counter("published_total", "Readings signed and published (acknowledged by the broker)."),
		received:  counter("received_total", "Messages received from the broker."),
		verified:  counter("verified_total", "Messages authenticated: the sensor's signature (gateway), or the sensor's and the gateway's (cloud)."),
		forwarded: counter("forwarded_total", "Messages countersigned and published to the cloud topic."),
		lost:      counter("lost_total", "Numbered readings that never arrived (a gap left open in a sensor's stream)."),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dance", Subsystem: "mqtt", Name: "refused_total",
			Help: "Messages refused, by reason.", ConstLabels: prometheus.Labels{"role": role}}, []string{"reason"}),
	}
	var cs []prometheus.Collector
	switch role {
	case "sensor":
		cs = []prometheus.Collector{m.published}
	case "gateway":
		cs = []prometheus.Collector{m.received, m.verified, m.refused, m.forwarded, m.lost}
	default:
		cs = []prometheus.Collector{m.received, m.verified, m.refused, m.lost}
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

// refuse counts a refused message under its reason (message.Label: the
// message's refusal reason, or the verification core's).
func (m *mqttMetrics) refuse(err error) { m.refused.WithLabelValues(message.Label(err)).Inc() }

// serveMQTTMetrics starts the --metrics listener of an MQTT role, when
// addr is set, with a health check that says whether c's connection to
// the broker is open. The returned function stops it.
func serveMQTTMetrics(env *cli.Env, addr string, reg prometheus.Gatherer, c mqtt.Client) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	health := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !c.IsConnectionOpen() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "unhealthy: not connected to the broker")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv, err := serveMetrics(env, addr, reg, health, slog.New(slog.NewTextHandler(env.Stderr, nil)))
	if err != nil {
		return nil, cli.Fail(err)
	}
	return func() { srv.Close() }, nil
}
