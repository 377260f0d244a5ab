package storetest

import (
	"context"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// CollectIPChanges gathers the records ScanIPChanges yields into a slice:
// for pages, where q.Limit bounds the size.
func CollectIPChanges(ctx context.Context, s hub.AuditStore, tenantID string, q hub.AuditQuery) ([]hub.IPChange, error) {
	out := []hub.IPChange{}
	err := s.ScanIPChanges(ctx, tenantID, q, func(c hub.IPChange) error {
		out = append(out, c)
		return nil
	})
	return out, err
}

// CollectDenied gathers the records ScanDenied yields into a slice.
func CollectDenied(ctx context.Context, s hub.AuditStore, tenantID string, q hub.AuditQuery) ([]hub.Denied, error) {
	out := []hub.Denied{}
	err := s.ScanDenied(ctx, tenantID, q, func(d hub.Denied) error {
		out = append(out, d)
		return nil
	})
	return out, err
}
