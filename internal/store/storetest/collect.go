package storetest

import (
	"context"

	"github.com/proxyhub/proxyhub/internal/store"
)

// CollectIPChanges gathers the records ScanIPChanges yields into a slice:
// for pages, where q.Limit bounds the size.
func CollectIPChanges(ctx context.Context, s store.AuditStore, tenantID string, q store.AuditQuery) ([]store.IPChange, error) {
	out := []store.IPChange{}
	err := s.ScanIPChanges(ctx, tenantID, q, func(c store.IPChange) error {
		out = append(out, c)
		return nil
	})
	return out, err
}

// CollectDenied gathers the records ScanDenied yields into a slice.
func CollectDenied(ctx context.Context, s store.AuditStore, tenantID string, q store.AuditQuery) ([]store.Denied, error) {
	out := []store.Denied{}
	err := s.ScanDenied(ctx, tenantID, q, func(d store.Denied) error {
		out = append(out, d)
		return nil
	})
	return out, err
}
