package httpapi

import (
	"context"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/tenancy"
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
	t, err := h.Store.GetTenant(ctx, in.Tenant)
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
	hb, err := tenancy.ParseCIDRs("body.cidrs", in.Body.CIDRs)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	admin, err := tenancy.ParseCIDRs("body.admin_cidrs", in.Body.AdminCIDRs)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	t, err := h.Tenancy.SetAllowlists(ctx, in.Tenant, hb, admin)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return allowlistsOut(t), nil
}
