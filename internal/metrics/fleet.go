package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// FleetSource counts the fleet across tenants (hub.FleetStore).
type FleetSource interface {
	FleetCounts(ctx context.Context, now time.Time) ([]hub.FleetCount, error)
	NotificationCounts(ctx context.Context) ([]hub.NotificationCount, error)
	ListWindows(ctx context.Context, tenantID string) ([]hub.MaintenanceWindow, error)
	ListProxies(ctx context.Context, tenantID string, q hub.ProxyQuery) ([]hub.Proxy, error)
}

// FleetCacheTTL is how long one reading of the fleet serves scrapes: a
// scrape costs two store queries at most this often, however many
// Prometheus servers scrape.
const FleetCacheTTL = 10 * time.Second

// fleetQueryTimeout bounds the store queries of one reading.
const fleetQueryTimeout = 2 * time.Second

var (
	descProxies = prometheus.NewDesc("proxyhub_tenant_proxies",
		"Proxies of a tenant by state: online, offline (deadline passed), paused (maintenance).", []string{"tenant", "state"}, nil)
	descPending = prometheus.NewDesc("proxyhub_notifications_pending",
		"Enabled notification targets of a tenant and kind with events not yet delivered.", []string{"tenant", "kind"}, nil)
	descFailing = prometheus.NewDesc("proxyhub_notifications_failing",
		"Enabled notification targets of a tenant and kind retrying a failed delivery.", []string{"tenant", "kind"}, nil)
	descOldest = prometheus.NewDesc("proxyhub_notifications_oldest_pending_seconds",
		"Age of the oldest event a tenant's targets of this kind have yet to deliver (0: none pending).", []string{"tenant", "kind"}, nil)
	descInMaintenance = prometheus.NewDesc("proxyhub_tenant_proxies_in_maintenance",
		"Proxies of a tenant a maintenance window covers now (also counted by state in proxyhub_tenant_proxies).", []string{"tenant"}, nil)
	descFleetUp = prometheus.NewDesc("proxyhub_fleet_metrics_up",
		"1 when the fleet gauges were read from the store, 0 when the latest reading failed (the gauges are then absent).", nil, nil)
)

// fleetCollector reads the fleet gauges from the store, at most once per
// FleetCacheTTL. Labels are tenants and kinds, never proxies: the number
// of series is bounded by the number of tenants.
type fleetCollector struct {
	src FleetSource
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	readAt  time.Time
	metrics []prometheus.Metric
	ok      bool
}

// WatchFleet adds the per-tenant fleet and notification gauges, read from
// src when scraped (cached for FleetCacheTTL).
func (m *Metrics) WatchFleet(src FleetSource, now func() time.Time, log *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	m.reg.MustRegister(&fleetCollector{src: src, now: now, log: log})
}

// Describe implements prometheus.Collector.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProxies, descInMaintenance, descPending, descFailing, descOldest, descFleetUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.readAt.IsZero() || now.Sub(c.readAt) >= FleetCacheTTL || now.Before(c.readAt) {
		c.metrics, c.ok = c.read(now)
		c.readAt = now
	}
	for _, m := range c.metrics {
		ch <- m
	}
	up := 0.0
	if c.ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descFleetUp, prometheus.GaugeValue, up)
}

func (c *fleetCollector) read(now time.Time) ([]prometheus.Metric, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), fleetQueryTimeout)
	defer cancel()
	fleet, err := c.src.FleetCounts(ctx, now)
	if err != nil {
		c.log.Warn("fleet metrics: store query failed", "error", err.Error())
		return nil, false
	}
	notes, err := c.src.NotificationCounts(ctx)
	if err != nil {
		c.log.Warn("fleet metrics: store query failed", "error", err.Error())
		return nil, false
	}
	out := make([]prometheus.Metric, 0, 3*len(fleet)+3*len(notes))
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	for _, f := range fleet {
		gauge(descProxies, float64(f.Online), f.TenantID, "online")
		gauge(descProxies, float64(f.Offline), f.TenantID, "offline")
		gauge(descProxies, float64(f.Paused), f.TenantID, "paused")
		n, err := c.inMaintenance(ctx, f.TenantID, now)
		if err != nil {
			c.log.Warn("fleet metrics: store query failed", "error", err.Error())
			return nil, false
		}
		gauge(descInMaintenance, float64(n), f.TenantID)
	}
	for _, n := range notes {
		gauge(descPending, float64(n.Pending), n.TenantID, n.Kind)
		gauge(descFailing, float64(n.Failing), n.TenantID, n.Kind)
		age := 0.0
		if !n.OldestPending.IsZero() {
			age = max(0, now.Sub(n.OldestPending).Seconds())
		}
		gauge(descOldest, age, n.TenantID, n.Kind)
	}
	return out, true
}

// inMaintenance counts the tenant's proxies a window covers at now; the
// proxies are read only for tenants with a window active then.
func (c *fleetCollector) inMaintenance(ctx context.Context, tenantID string, now time.Time) (int, error) {
	ws, err := c.src.ListWindows(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	active := ws[:0:0]
	for _, w := range ws {
		if _, _, ok := w.Occurrence(now); ok {
			active = append(active, w)
		}
	}
	if len(active) == 0 {
		return 0, nil
	}
	ps, err := c.src.ListProxies(ctx, tenantID, hub.ProxyQuery{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		if hub.InMaintenance(active, p.Name, now) {
			n++
		}
	}
	return n, nil
}
