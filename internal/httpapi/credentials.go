package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/policy"
)

func (h *handlers) registerCredentials(api huma.API) {
	huma.Register(api, secured(huma.Operation{
		OperationID: "create-credential", Method: http.MethodPost, Path: "/tenants/{tenant}/credentials", DefaultStatus: http.StatusCreated, Tags: tagCredentials,
		Summary: "Create an admin API credential",
		Description: "Creates a client_id and client_secret for the OAuth2 client credentials exchange at /v1/auth/token. " +
			"The secret is in this answer only. Nobody can grant a role above their own.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.CredentialCreate, scopePath}), h.createCredential)
	huma.Register(api, secured(huma.Operation{
		OperationID: "list-credentials", Method: http.MethodGet, Path: "/tenants/{tenant}/credentials", Tags: tagCredentials,
		Summary: "List admin API credentials", Description: "The tenant's credentials without their secrets.",
	}, access{policy.CredentialList, scopePath}), h.listCredentials)
	huma.Register(api, secured(huma.Operation{
		OperationID: "revoke-credential", Method: http.MethodDelete, Path: "/tenants/{tenant}/credentials/{id}", Tags: tagCredentials,
		Summary:     "Revoke an admin API credential",
		Description: "The credential and every access token obtained with it stop working at once.",
	}, access{policy.CredentialRevoke, scopePath}), h.revokeCredential)
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
	// Whom the credential is for decides who may revoke it: nobody revokes
	// the credential of a role above their own (an admin an owner's).
	c, err := h.Hub.Credential(ctx, in.Tenant, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	p, _ := auth.PrincipalFrom(ctx)
	if err := h.Authz.Authorize(ctx, p, policy.CredentialRevoke, policy.Resource{TenantID: in.Tenant, GrantRole: auth.Role(c.Role)}); err != nil {
		return nil, h.problem(ctx, err)
	}
	if err := h.Hub.RevokeCredential(ctx, in.Tenant, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}
