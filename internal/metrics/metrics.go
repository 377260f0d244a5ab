// Package metrics exposes proxyhub's Prometheus metrics. Labels are bounded:
// operation ids and status codes, never proxy names, tenants or tokens.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the hub's collectors in their own registry.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	heartbeats prometheus.Counter
	created    prometheus.Counter
	ipChanges  prometheus.Counter
}

// New registers every collector, plus the Go runtime and process
// collectors, in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxyhub_http_requests_total",
			Help: "HTTP requests by operation id and status code.",
		}, []string{"operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxyhub_http_request_duration_seconds",
			Help:    "HTTP request latency by operation id.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"operation"}),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxyhub_heartbeats_total",
			Help: "Heartbeats recorded.",
		}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxyhub_proxies_registered_total",
			Help: "Proxies seen for the first time.",
		}),
		ipChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxyhub_ip_changes_total",
			Help: "IP changes recorded.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.heartbeats, m.created, m.ipChanges,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest counts one finished HTTP request.
func (m *Metrics) ObserveRequest(operation string, code int, d time.Duration) {
	m.requests.WithLabelValues(operation, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(operation).Observe(d.Seconds())
}

// HeartbeatRecorded counts one recorded heartbeat (hub.Observer).
func (m *Metrics) HeartbeatRecorded(created, changed bool) {
	m.heartbeats.Inc()
	if created {
		m.created.Inc()
	}
	if changed {
		m.ipChanges.Inc()
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
