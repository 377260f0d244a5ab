package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
)

// NewToken is what a token creation asks for.
type NewToken struct {
	Label        string
	Proxy        string         // optional: the only name the token may heartbeat
	ExpiresAt    time.Time      // optional
	AllowedCIDRs []netip.Prefix // optional: the token's own source networks
}

// CreateToken makes a heartbeat token for the tenant and returns its record
// and its secret, which is never available again.
func (s *Service) CreateToken(ctx context.Context, tenantID string, in NewToken) (hub.Token, string, error) {
	if n := len(in.Label); n < 1 || n > 100 {
		return hub.Token{}, "", &FieldError{"body.label", "1-100 characters"}
	}
	if in.Proxy != "" && !hub.ValidName(in.Proxy) {
		return hub.Token{}, "", &FieldError{"body.proxy", "a proxy name: 1-100 characters, a letter or digit first, then letters, digits, '.', '_', '-'"}
	}
	now := s.timestamp()
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		return hub.Token{}, "", &FieldError{"body.expires_at", "must be in the future"}
	}
	secret, err := auth.NewSecret(auth.PrefixHeartbeatToken)
	if err != nil {
		return hub.Token{}, "", err
	}
	tok := hub.Token{
		ID:           auth.NewID(auth.PrefixTokenID),
		TenantID:     tenantID,
		Label:        in.Label,
		Hash:         auth.HashSecret(secret),
		Proxy:        in.Proxy,
		AllowedCIDRs: in.AllowedCIDRs,
		ExpiresAt:    in.ExpiresAt.UTC().Truncate(time.Microsecond),
		CreatedAt:    now,
	}
	if err := s.store.CreateToken(ctx, tok); err != nil {
		return hub.Token{}, "", fmt.Errorf("create token: %w", err)
	}
	return tok, secret, nil
}

// RevokeToken revokes a token of the tenant at once.
func (s *Service) RevokeToken(ctx context.Context, tenantID, id string) error {
	if err := s.store.RevokeToken(ctx, tenantID, id, s.timestamp()); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// CreateCredential makes an admin API credential (client id and secret)
// for the tenant and role, returning the secret once.
func (s *Service) CreateCredential(ctx context.Context, tenantID string, role auth.Role, label string) (hub.Credential, string, error) {
	if role != auth.RoleOwner && role != auth.RoleAdmin && role != auth.RoleViewer {
		return hub.Credential{}, "", &FieldError{"body.role", "owner, admin or viewer"}
	}
	if n := len(label); n < 1 || n > 100 {
		return hub.Credential{}, "", &FieldError{"body.label", "1-100 characters"}
	}
	secret, err := auth.NewSecret(auth.PrefixClientSecret)
	if err != nil {
		return hub.Credential{}, "", err
	}
	c := hub.Credential{
		ID:         auth.NewID(auth.PrefixClientID),
		TenantID:   tenantID,
		Role:       string(role),
		Label:      label,
		SecretHash: auth.HashSecret(secret),
		CreatedAt:  s.timestamp(),
	}
	if err := s.store.CreateCredential(ctx, c); err != nil {
		return hub.Credential{}, "", fmt.Errorf("create credential: %w", err)
	}
	return c, secret, nil
}

// RevokeCredential revokes an admin credential; JWTs already minted for it
// stop working too (the authenticator checks the credential).
func (s *Service) RevokeCredential(ctx context.Context, tenantID, id string) error {
	if err := s.store.RevokeCredential(ctx, tenantID, id, s.timestamp()); err != nil {
		return fmt.Errorf("revoke credential: %w", err)
	}
	return nil
}

// ExchangeClientCredentials checks a client id and secret (OAuth2 client
// credentials grant) and returns a JWT for the credential's tenant and
// role, valid for AccessTokenTTL. Every refusal is ErrInvalidClient.
func (s *Service) ExchangeClientCredentials(ctx context.Context, clientID, secret string) (string, time.Duration, error) {
	if s.signer == nil {
		return "", 0, fmt.Errorf("%w: no signing key", ErrInvalidClient)
	}
	if !auth.WellFormed(auth.PrefixClientSecret, secret) {
		return "", 0, fmt.Errorf("%w: malformed secret", ErrInvalidClient)
	}
	c, err := s.store.CredentialByID(ctx, clientID)
	switch {
	case errors.Is(err, hub.ErrNotFound):
		return "", 0, fmt.Errorf("%w: unknown client", ErrInvalidClient)
	case err != nil:
		return "", 0, fmt.Errorf("look up credential: %w", err)
	case !auth.EqualHashes(c.SecretHash, auth.HashSecret(secret)):
		return "", 0, fmt.Errorf("%w: wrong secret for %s", ErrInvalidClient, clientID)
	case !c.RevokedAt.IsZero():
		return "", 0, fmt.Errorf("%w: %s revoked", ErrInvalidClient, clientID)
	}
	jwt, err := s.signer.Sign(c.ID, c.TenantID, auth.Role(c.Role), AccessTokenTTL)
	if err != nil {
		return "", 0, fmt.Errorf("sign access token: %w", err)
	}
	if err := s.store.TouchCredential(ctx, c.TenantID, c.ID, s.timestamp()); err != nil {
		return "", 0, fmt.Errorf("touch credential: %w", err)
	}
	return jwt, AccessTokenTTL, nil
}
