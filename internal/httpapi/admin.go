package httpapi

import (
	"context"
	"time"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

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

// CreateTokenInput is a token creation.
type CreateTokenInput struct {
	TenantPath
	Body api.TokenCreate
}

// TokenCreatedOutput wraps a new token with its secret.
type TokenCreatedOutput struct{ Body api.TokenCreated }

func (h *handlers) createToken(ctx context.Context, in *CreateTokenInput) (*TokenCreatedOutput, error) {
	req := hub.NewToken{Label: in.Body.Label, Proxy: in.Body.Proxy, AllowedCIDRs: in.Body.AllowedCIDRs}
	if in.Body.ExpiresAt != nil {
		req.ExpiresAt = time.Time(*in.Body.ExpiresAt)
	}
	tok, secret, err := h.Hub.CreateToken(ctx, in.Tenant, req)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &TokenCreatedOutput{Body: api.TokenCreated{Token: tokenOut(tok), Secret: secret}}, nil
}

// TokenListOutput wraps a token list.
type TokenListOutput struct{ Body api.TokenList }

func (h *handlers) listTokens(ctx context.Context, in *TenantPath) (*TokenListOutput, error) {
	ts, err := h.Hub.Tokens(ctx, in.Tenant)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &TokenListOutput{Body: api.TokenList{Tokens: make([]api.Token, len(ts))}}
	for i, t := range ts {
		out.Body.Tokens[i] = tokenOut(t)
	}
	return out, nil
}

// ItemPath addresses one token or credential of a tenant.
type ItemPath struct {
	TenantPath
	ID string `path:"id" maxLength:"40" doc:"Token id or client id." example:"tok_7Hq2ZbKc9XwLmN4p"`
}

func (h *handlers) revokeToken(ctx context.Context, in *ItemPath) (*struct{}, error) {
	if err := h.Hub.RevokeToken(ctx, in.Tenant, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

// CreateCredentialInput is a credential creation.
type CreateCredentialInput struct {
	TenantPath
	Body api.CredentialCreate
}

// CredentialCreatedOutput wraps a new credential with its secret.
type CredentialCreatedOutput struct{ Body api.CredentialCreated }

func (h *handlers) createCredential(ctx context.Context, in *CreateCredentialInput) (*CredentialCreatedOutput, error) {
	role := auth.Role(in.Body.Role)
	p, _ := auth.PrincipalFrom(ctx)
	if err := h.Authz.Authorize(ctx, p, policy.CredentialCreate, policy.Resource{TenantID: in.Tenant, GrantRole: role}); err != nil {
		return nil, h.problem(ctx, err)
	}
	c, secret, err := h.Hub.CreateCredential(ctx, in.Tenant, role, in.Body.Label)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &CredentialCreatedOutput{Body: api.CredentialCreated{Credential: credentialOut(c), ClientSecret: secret}}, nil
}

// CredentialListOutput wraps a credential list.
type CredentialListOutput struct{ Body api.CredentialList }

func (h *handlers) listCredentials(ctx context.Context, in *TenantPath) (*CredentialListOutput, error) {
	cs, err := h.Hub.Credentials(ctx, in.Tenant)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &CredentialListOutput{Body: api.CredentialList{Credentials: make([]api.Credential, len(cs))}}
	for i, c := range cs {
		out.Body.Credentials[i] = credentialOut(c)
	}
	return out, nil
}

func (h *handlers) revokeCredential(ctx context.Context, in *ItemPath) (*struct{}, error) {
	if err := h.Hub.RevokeCredential(ctx, in.Tenant, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}
