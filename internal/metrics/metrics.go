// Package metrics exposes proxyhub's Prometheus metrics. Labels are bounded:
// operation ids and status codes, never proxy names, tenants or tokens.
package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proxyhub/proxyhub/internal/buildinfo"
)

// Metrics holds the hub's collectors in their own registry.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	heartbeats prometheus.Counter
	created    prometheus.Counter
	ipChanges  prometheus.Counter
	offline    prometheus.Counter
	sweeps     prometheus.Histogram
	authFailed *prometheus.CounterVec
	shared     prometheus.Gauge
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
		offline: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxyhub_offline_flips_total",
			Help: "Proxies flipped offline by the sweeper.",
		}),
		sweeps: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "proxyhub_sweep_duration_seconds",
			Help:    "Time of one sweep for expired proxies.",
			Buckets: []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5},
		}),
		authFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxyhub_authentication_failures_total",
			Help: "Refused credentials by method: bearer (heartbeat tokens and admin JWTs) or client_credentials (the token endpoint).",
		}, []string{"method"}),
		shared: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "proxyhub_ratelimit_shared",
			Help: "1 while rate limits are shared across hubs through Redis; 0 while each hub limits on its own (no Redis configured, or unreachable).",
		}),
	}
	b := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "proxyhub_build_info",
		Help:        "Always 1; the labels say which build runs: version, commit, Go release.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
	})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.latency, m.heartbeats, m.created, m.ipChanges, m.offline, m.sweeps, m.authFailed, m.shared, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Authentication methods, as AuthenticationFailed counts them.
const (
	AuthBearer            = "bearer"
	AuthClientCredentials = "client_credentials"
)

// RateLimitsShared sets whether rate limits are shared through Redis.
func (m *Metrics) RateLimitsShared(up bool) {
	if up {
		m.shared.Set(1)
	} else {
		m.shared.Set(0)
	}
}

// AuthenticationFailed counts one refused credential of method.
func (m *Metrics) AuthenticationFailed(method string) { m.authFailed.WithLabelValues(method).Inc() }

// ObserveRequest counts one finished HTTP request.
func (m *Metrics) ObserveRequest(operation string, code int, d time.Duration) {
	m.requests.WithLabelValues(operation, statusLabel(code)).Inc()
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

// ProxiesFlipped counts one sweep (hub.FlipObserver).
func (m *Metrics) ProxiesFlipped(offline int, sweep time.Duration) {
	m.offline.Add(float64(offline))
	m.sweeps.Observe(sweep.Seconds())
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ProtectedHandler is Handler behind a bearer token (Prometheus's
// authorization: {credentials: …}); an empty token leaves it open. A
// missing or wrong token gets 401 problem+json. The comparison takes the
// same time whatever the token.
func (m *Metrics) ProtectedHandler(token string) http.Handler {
	h := m.Handler()
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte("Bearer " + token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"title":"Unauthorized","status":401,"detail":"/metrics needs the bearer token set by PROXYHUB_METRICS_TOKEN"}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// statusLabels are the status codes 100 to 599 as label values, made once.
var statusLabels = func() (l [500]string) {
	for i := range l {
		l[i] = strconv.Itoa(100 + i)
	}
	return l
}()

// statusLabel is code as a label value.
func statusLabel(code int) string {
	if code >= 100 && code < 600 {
		return statusLabels[code-100]
	}
	return strconv.Itoa(code)
}
