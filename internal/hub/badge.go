package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// A status badge shows one proxy's or a whole tenant's state in a word
// ("up", "3 down", "late") to whoever holds its key, typically embedded in
// a README or a wiki page. The key is the only secret in the badge's URL:
// random, stored hashed, revocable, and it shows nothing else.

// Badge is a status badge's key.
type Badge struct {
	ID       string
	TenantID string
	// Proxy is the one proxy the badge shows; empty: the whole tenant.
	Proxy     string
	Label     string
	KeyHash   string // auth.HashSecret of the key
	CreatedAt time.Time
	RevokedAt time.Time // zero while the badge works
}

// BadgeStore keeps badges.
type BadgeStore interface {
	// CreateBadge stores a new badge; ErrConflict when its id or key hash
	// exists, ErrNotFound when the tenant does not.
	CreateBadge(ctx context.Context, b Badge) error
	// BadgeByKeyHash finds a badge of any tenant by its key's hash,
	// revoked or not; ErrNotFound when none matches.
	BadgeByKeyHash(ctx context.Context, hash string) (Badge, error)
	// ListBadges returns the tenant's badges, oldest first, revoked
	// included.
	ListBadges(ctx context.Context, tenantID string) ([]Badge, error)
	// RevokeBadge marks a badge revoked; revoking twice keeps the first
	// time. ErrNotFound when it is not the tenant's.
	RevokeBadge(ctx context.Context, tenantID, id string, at time.Time) error
}

// MaxBadgeLabel is the longest badge label, in bytes.
const MaxBadgeLabel = 100

// ErrInvalidBadge reports a badge request that breaks a rule (its label).
var ErrInvalidBadge = errors.New("invalid badge")

// CreateBadge makes a badge for the tenant, or for one of its proxies when
// proxy is set (the proxy must exist). It returns the badge and its key,
// which is shown only this once.
func (s *Service) CreateBadge(ctx context.Context, tenantID, proxy, label string) (Badge, string, error) {
	if len(label) > MaxBadgeLabel {
		return Badge{}, "", fmt.Errorf("%w: label longer than %d bytes", ErrInvalidBadge, MaxBadgeLabel)
	}
	if proxy != "" {
		if !ValidName(proxy) {
			return Badge{}, "", ErrInvalidName
		}
		if _, err := s.store.GetProxy(ctx, tenantID, proxy); err != nil {
			return Badge{}, "", fmt.Errorf("proxy of badge: %w", err)
		}
	}
	key, err := auth.NewSecret(auth.PrefixBadgeKey)
	if err != nil {
		return Badge{}, "", err
	}
	b := Badge{ID: auth.NewID(auth.PrefixBadgeID), TenantID: tenantID, Proxy: proxy, Label: label,
		KeyHash: auth.HashSecret(key), CreatedAt: s.timestamp()}
	if err := s.store.CreateBadge(ctx, b); err != nil {
		return Badge{}, "", fmt.Errorf("create badge: %w", err)
	}
	return b, key, nil
}

// Badges lists the tenant's badges, oldest first.
func (s *Service) Badges(ctx context.Context, tenantID string) ([]Badge, error) {
	return s.store.ListBadges(ctx, tenantID)
}

// RevokeBadge revokes a badge: its URL answers 404 from then on.
func (s *Service) RevokeBadge(ctx context.Context, tenantID, id string) error {
	if err := s.store.RevokeBadge(ctx, tenantID, id, s.timestamp()); err != nil {
		return fmt.Errorf("revoke badge: %w", err)
	}
	s.badges.forgetAll() // its key's hash is not at hand: start over
	return nil
}

// BadgeState is what a badge shows.
type BadgeState struct {
	// Label is the badge's own label, or "proxies" (a tenant's badge) or
	// "status" (one proxy's) when it has none.
	Label string
	// Message is "up", "late", "paused", "N down" (a tenant) or "down" (a
	// proxy), or "no proxies".
	Message string
	// Color is the shields.io colour name of the message.
	Color string
}

// LateFraction is how much of its offline timeout a proxy may go without a
// heartbeat before its badge says "late" (it is not offline yet).
const LateFraction = 0.75

// BadgeStatus returns what the badge whose key is given shows now.
// ErrNotFound for a malformed, unknown or revoked key, or a proxy that no
// longer exists: the caller learns nothing else.
func (s *Service) BadgeStatus(ctx context.Context, key string) (BadgeState, error) {
	if !auth.WellFormed(auth.PrefixBadgeKey, key) {
		return BadgeState{}, ErrNotFound
	}
	hash := auth.HashSecret(key)
	if st, ok := s.badges.get(hash, s.now()); ok {
		return st, nil
	}
	b, err := s.store.BadgeByKeyHash(ctx, hash)
	if err != nil {
		return BadgeState{}, err
	}
	if !b.RevokedAt.IsZero() {
		return BadgeState{}, ErrNotFound
	}
	t, err := s.tenant(ctx, b.TenantID)
	if err != nil {
		return BadgeState{}, err
	}
	var ps []Proxy
	if b.Proxy != "" {
		p, err := s.store.GetProxy(ctx, b.TenantID, b.Proxy)
		if err != nil {
			return BadgeState{}, err
		}
		ps = []Proxy{p}
	} else if ps, err = s.store.ListProxies(ctx, b.TenantID, ProxyQuery{}); err != nil {
		return BadgeState{}, err
	}
	st, err := s.badgeState(b, t, ps)
	if err != nil {
		return BadgeState{}, err
	}
	st.Label = b.Label
	if st.Label == "" {
		st.Label = "proxies"
		if b.Proxy != "" {
			st.Label = "status"
		}
	}
	s.badges.put(hash, st, s.now())
	return st, nil
}

// BadgeCacheTTL is how long a badge's state is reused: a badge is public,
// and a tenant's state costs a read of all its proxies.
const BadgeCacheTTL = 10 * time.Second

// badgeCacheMax bounds the cache; when full it starts over.
const badgeCacheMax = 10000

// badgeCache keeps recent badge states by key hash, by the service clock.
type badgeCache struct {
	mu sync.Mutex
	m  map[string]cachedBadge
}

type cachedBadge struct {
	st BadgeState
	at time.Time
}

func (c *badgeCache) get(hash string, now time.Time) (BadgeState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || now.Before(e.at) || now.Sub(e.at) >= BadgeCacheTTL {
		return BadgeState{}, false
	}
	return e.st, true
}

func (c *badgeCache) put(hash string, st BadgeState, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= badgeCacheMax {
		c.m = map[string]cachedBadge{}
	}
	c.m[hash] = cachedBadge{st, now}
}

// forgetAll empties the cache (a badge was revoked).
func (c *badgeCache) forgetAll() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// badgeState sums up ps, the proxies badge b shows.
func (s *Service) badgeState(b Badge, t Tenant, ps []Proxy) (BadgeState, error) {
	now := s.now()
	var down, late, paused int
	for _, p := range ps {
		v := s.view(p, t, now)
		switch {
		case v.Paused:
			paused++
		case v.Status == Offline:
			down++
		case now.Sub(v.LastSeen) > time.Duration(float64(v.Timeout)*LateFraction):
			late++
		}
	}
	switch {
	case len(ps) == 0:
		return BadgeState{Message: "no proxies", Color: "lightgrey"}, nil
	case down > 0 && b.Proxy != "":
		return BadgeState{Message: "down", Color: "red"}, nil
	case down > 0:
		return BadgeState{Message: fmt.Sprintf("%d down", down), Color: "red"}, nil
	case late > 0:
		return BadgeState{Message: "late", Color: "orange"}, nil
	case paused == len(ps):
		return BadgeState{Message: "paused", Color: "lightgrey"}, nil
	}
	return BadgeState{Message: "up", Color: "brightgreen"}, nil
}
