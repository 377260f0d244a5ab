package httpapi

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

func (h *handlers) registerTenants(api huma.API) {
	huma.Register(api, secured(huma.Operation{
		OperationID: "create-tenant", Method: http.MethodPost, Path: "/tenants", DefaultStatus: http.StatusCreated, Tags: tagTenants,
		Summary: "Create a tenant", Description: "Creates a team on the hub. Platform role only.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, access{policy.TenantCreate, scopeHub}), h.createTenant)
	huma.Register(api, secured(huma.Operation{
		OperationID: "list-tenants", Method: http.MethodGet, Path: "/tenants", Tags: tagTenants,
		Summary: "List tenants", Description: "Every tenant on the hub. Platform role only.",
	}, access{policy.TenantList, scopeHub}), h.listTenants)
	huma.Register(api, secured(huma.Operation{
		OperationID: "get-tenant", Method: http.MethodGet, Path: "/tenants/{tenant}", Tags: tagTenants,
		Summary: "Get a tenant", Description: "A tenant and its settings.",
	}, access{policy.TenantRead, scopePath}), h.getTenant)
	huma.Register(api, secured(huma.Operation{
		OperationID: "update-tenant", Method: http.MethodPatch, Path: "/tenants/{tenant}", Tags: tagTenants,
		Summary:     "Change tenant settings",
		Description: "Changes the given settings; absent fields stay as they are. Owner or admin.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, access{policy.TenantUpdate, scopePath}), h.updateTenant)
}

func (h *handlers) registerAllowlists(api huma.API) {
	huma.Register(api, secured(huma.Operation{
		OperationID: "get-allowlist", Method: http.MethodGet, Path: "/tenants/{tenant}/allowlist", Tags: tagTenants,
		Summary:     "Get the allowlists",
		Description: "The networks the tenant's heartbeats (cidrs) and admin calls (admin_cidrs) must come from; empty accepts any address.",
	}, access{policy.TenantRead, scopePath}), h.getAllowlists)
	huma.Register(api, secured(huma.Operation{
		OperationID: "put-allowlist", Method: http.MethodPut, Path: "/tenants/{tenant}/allowlist", Tags: tagTenants,
		Summary: "Replace the allowlists",
		Description: "Replaces both lists. Entries are validated and normalised (sorted, duplicates dropped, IPv4-mapped IPv6 folded); " +
			"an entry with host bits set (203.0.113.7/24) is refused with 400 naming it. At most 1000 entries each. " +
			"A heartbeat from outside the list answers 403 and is kept as a denied record. " +
			"Changing admin_cidrs is the owner's alone, and a list that excludes the caller's own address is refused (403) " +
			"unless force=true: it would lock the caller out.",
		Errors: []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	}, access{policy.TenantUpdate, scopePath}), h.putAllowlists)
}

// TenantPath addresses one tenant.
type TenantPath struct {
	Tenant string `path:"tenant" maxLength:"40" doc:"Tenant id." example:"acme"`
}

// TenantOutput wraps a tenant.
type TenantOutput struct{ Body api.Tenant }

// CreateTenantInput is a tenant creation.
type CreateTenantInput struct{ Body api.TenantCreate }

func (h *handlers) createTenant(ctx context.Context, in *CreateTenantInput) (*TenantOutput, error) {
	set := hub.TenantSettings{MaxProxies: in.Body.MaxProxies, AutoRegister: in.Body.AutoRegister, OfflineAfter: seconds(in.Body.OfflineAfter)}
	if in.Body.Name != "" {
		set.Name = &in.Body.Name
	}
	t, err := h.Hub.CreateTenant(ctx, in.Body.ID, set)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &TenantOutput{Body: tenantOut(t)}, nil
}

// TenantListOutput wraps the tenant list.
type TenantListOutput struct{ Body api.TenantList }

func (h *handlers) listTenants(ctx context.Context, _ *struct{}) (*TenantListOutput, error) {
	ts, err := h.Hub.Tenants(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &TenantListOutput{Body: api.TenantList{Tenants: make([]api.Tenant, len(ts))}}
	for i, t := range ts {
		out.Body.Tenants[i] = tenantOut(t)
	}
	return out, nil
}

func (h *handlers) getTenant(ctx context.Context, in *TenantPath) (*TenantOutput, error) {
	t, err := h.Hub.Tenant(ctx, in.Tenant)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &TenantOutput{Body: tenantOut(t)}, nil
}

// UpdateTenantInput is a tenant settings change.
type UpdateTenantInput struct {
	TenantPath
	Body api.TenantUpdate
}

func (h *handlers) updateTenant(ctx context.Context, in *UpdateTenantInput) (*TenantOutput, error) {
	t, err := h.Hub.UpdateTenant(ctx, in.Tenant, hub.TenantSettings{
		Name: in.Body.Name, OfflineAfter: seconds(in.Body.OfflineAfter), MaxProxies: in.Body.MaxProxies, AutoRegister: in.Body.AutoRegister,
	})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &TenantOutput{Body: tenantOut(t)}, nil
}

func seconds(n *int) *time.Duration {
	if n == nil {
		return nil
	}
	d := time.Duration(*n) * time.Second
	return &d
}

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
	Force bool `query:"force" doc:"Apply admin_cidrs even when they exclude the caller's own address (which would lock the caller out)."`
	Body  api.Allowlists
}

func (h *handlers) putAllowlists(ctx context.Context, in *PutAllowlistsInput) (*AllowlistsOutput, error) {
	if err := h.authorizeAdminAllowlist(ctx, in); err != nil {
		return nil, err
	}
	t, err := h.Hub.SetAllowlists(ctx, in.Tenant, in.Body.CIDRs, in.Body.AdminCIDRs)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return allowlistsOut(t), nil
}

// authorizeAdminAllowlist asks the policy about a change of the admin
// allowlist (the owner's alone; not onto a list that excludes the caller,
// unless forced). Leaving it as it is needs nothing more than
// tenant.update. A list that does not parse is left to SetAllowlists,
// which refuses it with the entry named.
func (h *handlers) authorizeAdminAllowlist(ctx context.Context, in *PutAllowlistsInput) error {
	t, err := h.Hub.Tenant(ctx, in.Tenant)
	if err != nil {
		return h.problem(ctx, err)
	}
	next, err := hub.ParseCIDRs("admin_cidrs", in.Body.AdminCIDRs)
	if err != nil {
		return nil
	}
	if samePrefixes(next, t.AdminAllowlist) {
		return nil
	}
	p, _ := auth.PrincipalFrom(ctx)
	err = h.Authz.Authorize(ctx, p, policy.AdminAllowlistUpdate, policy.Resource{TenantID: in.Tenant, AdminAllowlist: prefixStrings(next), Force: in.Force})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, policy.ErrForbidden) && !in.Force:
		// The caller should learn what force is for; the policy's own
		// reason says it (and names nothing the caller does not know).
		return huma.Error403Forbidden("admin_cidrs: " + strings.TrimPrefix(err.Error(), policy.ErrForbidden.Error()+": ") +
			" (changing admin_cidrs is the tenant owner's; a list that excludes your own address needs force=true)")
	}
	return h.problem(ctx, err)
}

// samePrefixes reports whether a and b hold the same networks.
func samePrefixes(a, b []netip.Prefix) bool { return maps.Equal(prefixSet(a), prefixSet(b)) }

func prefixSet(ps []netip.Prefix) map[netip.Prefix]bool {
	set := make(map[netip.Prefix]bool, len(ps))
	for _, p := range ps {
		set[p] = true
	}
	return set
}
