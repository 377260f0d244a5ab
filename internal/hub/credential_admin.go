package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// NewToken is what a token creation asks for.
type NewToken struct {
	Label        string
	Proxy        string    // optional: the only name the token may heartbeat
	ExpiresAt    time.Time // optional
	AllowedCIDRs []string  // optional: the token's own source networks (CIDR notation)
}

// CreateToken makes a heartbeat token for the tenant and returns its record
// and its secret, which is never available again.
func (s *Service) CreateToken(ctx context.Context, tenantID string, in NewToken) (Token, string, error) {
	if n := len(in.Label); n < 1 || n > 100 {
		return Token{}, "", &FieldError{"body.label", "1-100 characters"}
	}
	if in.Proxy != "" && !ValidName(in.Proxy) {
		return Token{}, "", &FieldError{"body.proxy", "a proxy name: " + NameRule}
	}
	cidrs, err := ParseCIDRs("body.allowed_cidrs", in.AllowedCIDRs)
	if err != nil {
		return Token{}, "", err
	}
	now := s.timestamp()
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		return Token{}, "", &FieldError{"body.expires_at", "must be in the future"}
	}
	secret, err := auth.NewSecret(auth.PrefixHeartbeatToken)
	if err != nil {
		return Token{}, "", err
	}
	tok := Token{
		ID:           auth.NewID(auth.PrefixTokenID),
		TenantID:     tenantID,
		Label:        in.Label,
		Hash:         auth.HashSecret(secret),
		Proxy:        in.Proxy,
		AllowedCIDRs: cidrs,
		ExpiresAt:    in.ExpiresAt.UTC().Truncate(time.Microsecond),
		CreatedAt:    now,
	}
	if err := s.store.CreateToken(ctx, tok); err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", err)
	}
	return tok, secret, nil
}

// Tokens returns the tenant's heartbeat tokens (without secrets), oldest
// first, revoked ones included.
func (s *Service) Tokens(ctx context.Context, tenantID string) ([]Token, error) {
	return s.store.ListTokens(ctx, tenantID)
}

// Credentials returns the tenant's admin API credentials (without
// secrets), oldest first.
func (s *Service) Credentials(ctx context.Context, tenantID string) ([]Credential, error) {
	return s.store.ListCredentials(ctx, tenantID)
}

// Credential returns the tenant's admin API credential id (without its
// secret); ErrNotFound when the tenant has no such credential.
func (s *Service) Credential(ctx context.Context, tenantID, id string) (Credential, error) {
	c, err := s.store.CredentialByID(ctx, id)
	switch {
	case err != nil:
		return Credential{}, err
	case c.TenantID != tenantID:
		return Credential{}, fmt.Errorf("credential %s: %w", id, ErrNotFound)
	}
	c.SecretHash = ""
	return c, nil
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
func (s *Service) CreateCredential(ctx context.Context, tenantID string, role auth.Role, label string) (Credential, string, error) {
	if role != auth.RoleOwner && role != auth.RoleAdmin && role != auth.RoleViewer {
		return Credential{}, "", &FieldError{"body.role", "owner, admin or viewer"}
	}
	if n := len(label); n < 1 || n > 100 {
		return Credential{}, "", &FieldError{"body.label", "1-100 characters"}
	}
	secret, err := auth.NewSecret(auth.PrefixClientSecret)
	if err != nil {
		return Credential{}, "", err
	}
	c := Credential{
		ID:         auth.NewID(auth.PrefixClientID),
		TenantID:   tenantID,
		Role:       string(role),
		Label:      label,
		SecretHash: auth.HashSecret(secret),
		CreatedAt:  s.timestamp(),
	}
	if err := s.store.CreateCredential(ctx, c); err != nil {
		return Credential{}, "", fmt.Errorf("create credential: %w", err)
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
	case errors.Is(err, ErrNotFound):
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

// HeartbeatToken returns the principal of the live heartbeat token whose
// secret hashes to hash (auth.Lookup): known, the same hash (compared in
// constant time), and live at the hub's clock (Token.LiveAt). A refusal
// wraps auth.ErrUnauthenticated with the reason, for the log.
func (s *Service) HeartbeatToken(ctx context.Context, hash string) (auth.Principal, error) {
	tok, err := s.store.TokenByHash(ctx, hash)
	switch {
	case errors.Is(err, ErrNotFound):
		return auth.Principal{}, fmt.Errorf("%w: unknown heartbeat token", auth.ErrUnauthenticated)
	case err != nil:
		return auth.Principal{}, fmt.Errorf("look up heartbeat token: %w", err)
	case !auth.EqualHashes(tok.Hash, hash):
		return auth.Principal{}, fmt.Errorf("%w: token hash mismatch", auth.ErrUnauthenticated)
	case !tok.LiveAt(s.now()):
		return auth.Principal{}, fmt.Errorf("%w: heartbeat token %s revoked or expired", auth.ErrUnauthenticated, tok.ID)
	}
	return auth.Principal{ID: tok.ID, TenantID: tok.TenantID, Proxy: tok.Proxy, AllowedCIDRs: tok.AllowedCIDRs}, nil
}

// CheckCredential confirms that the admin API credential id exists, is
// not revoked, and still carries tenant and role (auth.Lookup): JWTs minted
// for a credential die with it. A refusal wraps auth.ErrUnauthenticated.
func (s *Service) CheckCredential(ctx context.Context, id, tenant string, role auth.Role) error {
	c, err := s.store.CredentialByID(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: credential %s gone", auth.ErrUnauthenticated, id)
	case err != nil:
		return fmt.Errorf("look up credential: %w", err)
	case !c.RevokedAt.IsZero() || c.TenantID != tenant || c.Role != string(role):
		return fmt.Errorf("%w: credential %s revoked or changed", auth.ErrUnauthenticated, id)
	}
	return nil
}
