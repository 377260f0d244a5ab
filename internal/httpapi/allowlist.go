package httpapi

import (
	"context"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
)

// AllowlistsOutput wraps a tenant's allowlists.
type AllowlistsOutput struct{ Body api.Allowlists }

func allowlistsOut(t hub.Tenant) *AllowlistsOutput {
	out := &AllowlistsOutput{Body: api.Allowlists{CIDRs: prefixStrings(t.Allowlist), AdminCIDRs: prefixStrings(t.AdminAllowlist)}}
	if out.Body.CIDRs == nil {
		out.Body.CIDRs = []string{}
	}
	return out
}

func (h *handlers) getAllowlists(ctx context.Context, in *TenantPath) (*AllowlistsOutput, error) {
	t, err := h.Hub.Tenant(ctx, in.Tenant)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return allowlistsOut(t), nil
}

// PutAllowlistsInput replaces a tenant's allowlists.
type PutAllowlistsInput struct {
	TenantPath
	Body api.Allowlists
}

func (h *handlers) putAllowlists(ctx context.Context, in *PutAllowlistsInput) (*AllowlistsOutput, error) {
	t, err := h.Hub.SetAllowlists(ctx, in.Tenant, in.Body.CIDRs, in.Body.AdminCIDRs)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return allowlistsOut(t), nil
}
