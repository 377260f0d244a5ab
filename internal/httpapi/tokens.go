package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

func (h *handlers) registerTokens(api huma.API) {
	huma.Register(api, secured(huma.Operation{
		OperationID: "create-token", Method: http.MethodPost, Path: "/tenants/{tenant}/tokens", DefaultStatus: http.StatusCreated, Tags: tagTokens,
		Summary: "Create a heartbeat token",
		Description: "Creates a token for cron curl. The secret is in this answer only; the hub keeps just its hash. " +
			"Bind it to one proxy name with `proxy`.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.TokenCreate, scopePath}), h.createToken)
	huma.Register(api, secured(huma.Operation{
		OperationID: "list-tokens", Method: http.MethodGet, Path: "/tenants/{tenant}/tokens", Tags: tagTokens,
		Summary: "List heartbeat tokens", Description: "The tenant's tokens without their secrets, revoked ones included.",
	}, access{policy.TokenList, scopePath}), h.listTokens)
	huma.Register(api, secured(huma.Operation{
		OperationID: "revoke-token", Method: http.MethodDelete, Path: "/tenants/{tenant}/tokens/{id}", Tags: tagTokens,
		Summary: "Revoke a heartbeat token",
		Description: "Every heartbeat with it that reaches the database after the revocation is refused (401), on every hub; " +
			"other hubs stop accepting it for reads within moments (their caches are told).",
	}, access{policy.TokenRevoke, scopePath}), h.revokeToken)
}

// ItemPath addresses one token or credential of a tenant.
type ItemPath struct {
	TenantPath
	ID string `path:"id" maxLength:"40" doc:"Token id or client id." example:"tok_7Hq2ZbKc9XwLmN4p"`
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

func (h *handlers) revokeToken(ctx context.Context, in *ItemPath) (*struct{}, error) {
	if err := h.Hub.RevokeToken(ctx, in.Tenant, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}
