package policy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/open-policy-agent/opa/v1/storage"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// SetTenant stores t's allowlists under data.tenants[t.ID] (replacing what
// was there) for the decisions that follow, and forgets cached heartbeat and
// authorization decisions. The prepared queries are kept: only the data changes.
func (e *Engine) SetTenant(ctx context.Context, t hub.Tenant) error {
	if t.ID == "" {
		return errors.New("policy: tenant without an id")
	}
	e.setRestricted(func(m map[string]bool) { setOrDelete(m, t.ID, len(t.Allowlist) > 0) })
	return e.write(ctx, storage.AddOp, storage.Path{"tenants", t.ID}, tenantDoc(t))
}

// LoadTenants replaces the whole of data.tenants with ts, in one transaction
// (at start-up, or to resynchronise with the store): tenants absent from ts
// are forgotten.
func (e *Engine) LoadTenants(ctx context.Context, ts []hub.Tenant) error {
	docs := make(map[string]any, len(ts))
	for _, t := range ts {
		if t.ID == "" {
			return errors.New("policy: tenant without an id")
		}
		docs[t.ID] = tenantDoc(t)
	}
	e.setRestricted(func(m map[string]bool) {
		clear(m)
		for _, t := range ts {
			setOrDelete(m, t.ID, len(t.Allowlist) > 0)
		}
	})
	return e.write(ctx, storage.ReplaceOp, storage.Path{"tenants"}, docs)
}

// setRestricted updates which tenants have a heartbeat allowlist. It runs
// before the data write, whose cache clearing then drops every entry keyed
// on the old answer.
func (e *Engine) setRestricted(fn func(map[string]bool)) {
	e.restrictedMu.Lock()
	fn(e.restrictedTenants)
	e.restrictedMu.Unlock()
}

// restricted reports whether the tenant has a heartbeat allowlist.
func (e *Engine) restricted(id string) bool {
	e.restrictedMu.RLock()
	defer e.restrictedMu.RUnlock()
	return e.restrictedTenants[id]
}

func setOrDelete(m map[string]bool, k string, v bool) {
	if v {
		m[k] = true
	} else {
		delete(m, k)
	}
}

// write applies one change in a write transaction, then clears the decision
// caches, heartbeat and authorization (after the commit, so no decision
// computed on the old data survives).
func (e *Engine) write(ctx context.Context, op storage.PatchOp, path storage.Path, value any) error {
	err := storage.Txn(ctx, e.store, storage.WriteParams, func(txn storage.Transaction) error {
		return e.store.Write(ctx, txn, op, path, value)
	})
	if err != nil {
		return fmt.Errorf("policy: update %v: %w", path, err)
	}
	e.cache.clear()
	e.authzCache.clear()
	e.log.Debug("policy data updated", "op", op, "path", path.String())
	return nil
}

// tenantDoc is a tenant's document in data.tenants. Prefixes are written as
// text; an invalid one becomes "invalid Prefix", which contains no address,
// so a broken list refuses rather than accepts.
func tenantDoc(t hub.Tenant) map[string]any {
	return map[string]any{
		"allowlist":       prefixStrings(t.Allowlist),
		"admin_allowlist": prefixStrings(t.AdminAllowlist),
	}
}

func prefixStrings(ps []netip.Prefix) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
