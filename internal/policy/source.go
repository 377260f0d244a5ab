package policy

import (
	"context"
	"reflect"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

var _ hub.SourcePolicy = (*Engine)(nil)

// AllowSource implements hub.SourcePolicy with the heartbeat decision.
func (e *Engine) AllowSource(ctx context.Context, req hub.SourceRequest) (bool, string, error) {
	d, err := e.Heartbeat(ctx, HeartbeatInput{TenantID: req.TenantID, TokenID: req.TokenID, Proxy: req.Proxy, TokenCIDRs: req.TokenCIDRs, IP: req.IP})
	return d.Allow, d.Reason, err
}

// TenantLister lists every tenant (the store does).
type TenantLister interface {
	ListTenants(ctx context.Context) ([]hub.Tenant, error)
}

// Load loads every tenant's data now (before serving).
func (e *Engine) Load(ctx context.Context, src TenantLister) error {
	last, err := e.reload(ctx, src, nil)
	if err != nil {
		return err
	}
	e.synced = last
	return nil
}

// Resync loads every tenant's data again every interval until ctx ends, so
// changes made through other hubs sharing the database reach this one. A
// reload that finds nothing changed leaves the engine (and its decision
// caches) alone. Changes made through this hub arrive at once through
// SetTenant. Failures are logged and retried at the next tick. It returns
// when ctx ends; call it after Load, from one goroutine.
func (e *Engine) Resync(ctx context.Context, src TenantLister, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if next, err := e.reload(ctx, src, e.synced); err != nil {
				e.log.WarnContext(ctx, "policy data reload failed", "error", err.Error())
			} else {
				e.synced = next
			}
		}
	}
}

// reload loads the tenants when their policy data differs from last.
func (e *Engine) reload(ctx context.Context, src TenantLister, last []map[string]any) ([]map[string]any, error) {
	ts, err := src.ListTenants(ctx)
	if err != nil {
		return last, err
	}
	docs := make([]map[string]any, len(ts))
	for i, t := range ts {
		docs[i] = tenantDoc(t)
		docs[i]["id"] = t.ID
	}
	if last != nil && slices.EqualFunc(docs, last, func(a, b map[string]any) bool { return reflect.DeepEqual(a, b) }) {
		return last, nil
	}
	return docs, e.LoadTenants(ctx, ts)
}
