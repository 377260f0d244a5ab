package postgres

import (
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/proxyhub/proxyhub/internal/store"
)

// The heartbeat-token cache.
//
// Every heartbeat authenticates with a token, looked up by the hash of its
// secret. Asking the database each time costs a round trip and a backend's
// CPU per heartbeat, more than the heartbeat's share of its batch. So
// TokenByHash keeps the tokens it found, for Options.TokenCacheTTL, in a
// bounded LRU cache (Options.TokenCacheSize entries).
//
// A cached token can be stale in one way only: revoked since (on this hub
// or another; a token's tenant, proxy binding, source networks and expiry
// never change after creation). That is caught where it matters: every
// heartbeat batch checks, in the statement that writes it, that each
// heartbeat's token is still live (batchsql.go), and refuses the ones whose
// token is not with store.ErrTokenRevoked (answered 401) without writing
// them. Such a refusal, and RevokeToken on this hub, drop the token from the
// cache, so the next lookup asks the database. What a stale entry can still
// do until it expires: pass authentication for requests that write nothing
// (they fail at the write), or record a denied heartbeat under a token
// revoked on another hub moments before.
//
// Unknown hashes are never cached: failed authentications are rate-limited
// per client address before the lookup instead.
type tokenCache struct {
	ttl   time.Duration
	mu    sync.Mutex                      // guards byID; held around every change of lru
	lru   *lru.Cache[string, cachedToken] // by hash
	byID  map[tokenKey]string             // hash of each cached token
	clock func() time.Time
}

// tokenKey names a token: ids are unique within a tenant.
type tokenKey struct{ tenant, id string }

// cachedToken is a token and when it was read.
type cachedToken struct {
	tok  store.Token
	read time.Time
}

// newTokenCache returns a cache of size entries kept for ttl; size or ttl
// <= 0 returns nil, which caches nothing (every method of a nil cache is a
// no-op).
func newTokenCache(size int, ttl time.Duration) *tokenCache {
	if size <= 0 || ttl <= 0 {
		return nil
	}
	c := &tokenCache{ttl: ttl, byID: map[tokenKey]string{}, clock: time.Now}
	// The eviction callback runs inside the cache's own lock, from Add and
	// Remove, which are only called with c.mu held.
	c.lru, _ = lru.NewWithEvict(size, func(hash string, v cachedToken) {
		delete(c.byID, tokenKey{v.tok.TenantID, v.tok.ID})
	})
	return c
}

// get returns the token with this hash if it was read within the TTL.
func (c *tokenCache) get(hash string) (store.Token, bool) {
	if c == nil {
		return store.Token{}, false
	}
	v, ok := c.lru.Get(hash)
	if !ok || c.clock().Sub(v.read) >= c.ttl {
		return store.Token{}, false
	}
	return cloneToken(v.tok), true
}

// put caches a token read from the database at read.
func (c *tokenCache) put(tok store.Token, read time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Add(tok.Hash, cachedToken{tok: cloneToken(tok), read: read})
	c.byID[tokenKey{tok.TenantID, tok.ID}] = tok.Hash
}

// drop forgets the token id of tenant, if it is cached.
func (c *tokenCache) drop(tenant, id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if hash, ok := c.byID[tokenKey{tenant, id}]; ok {
		c.lru.Remove(hash) // the eviction callback deletes byID's entry
	}
}

// cloneToken copies t so that callers cannot change the cached one.
func cloneToken(t store.Token) store.Token {
	t.AllowedCIDRs = slices.Clone(t.AllowedCIDRs)
	return t
}
