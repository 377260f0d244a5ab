package postgres

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// The heartbeat-token cache.
//
// Every heartbeat authenticates with a token, looked up by the hash of its
// secret. Asking the database each time costs a round trip and a backend's
// CPU per heartbeat, more than the heartbeat's share of its batch. So
// TokenByHash keeps the tokens it found, for Options.TokenCacheTTL, in a
// bounded LRU cache (Options.TokenCacheSize entries).
//
// A cached token can be stale in one way only: revoked since (a token's
// tenant, proxy binding, source networks and expiry never change after
// creation). Three things keep that from mattering:
//
//   - Writes are checked in the database: every heartbeat batch checks, in
//     the statement that writes it, that each heartbeat's token is still
//     live (batchsql.go), and refuses the ones whose token is not with
//     hub.ErrTokenRevoked (answered 401) without writing them. Every
//     heartbeat that reaches the database after a revocation has committed
//     is refused; one whose statement was already running (it arrived
//     before) may still be written.
//   - RevokeToken notifies every hub (NOTIFY proxyhub_tokens, at commit),
//     and each store drops the token from its cache when told
//     (watchTokenRevocations); whenever that LISTEN connection is
//     (re)established, notifications may have been missed, so the whole
//     cache is emptied.
//   - A refusal at write, and RevokeToken on this hub, drop the entry too;
//     a lookup that was reading the database while an entry was dropped
//     does not cache what it read (generations), so a read from before a
//     revocation cannot outlive it in the cache.
//
// What a stale entry can still do, between a revocation's commit and its
// notification reaching a hub (milliseconds): authenticate a request that
// writes nothing (GET /status), or one whose heartbeat is then refused.
//
// Unknown hashes are never cached: failed authentications are rate-limited
// per client address before the lookup instead.
type tokenCache struct {
	ttl  time.Duration
	mu   sync.Mutex                      // guards byID and gen; held around every change of lru
	lru  *lru.Cache[string, cachedToken] // by hash
	byID map[tokenKey]string             // hash of each cached token
	gen  uint64                          // counts drops and purges
}

// tokenKey names a token: ids are unique within a tenant.
type tokenKey struct{ tenant, id string }

// cachedToken is a token and when it was read.
type cachedToken struct {
	tok  hub.Token
	read time.Time
}

// newTokenCache returns a cache of size entries kept for ttl; size or ttl
// <= 0 returns nil, which caches nothing (every method of a nil cache is a
// no-op).
func newTokenCache(size int, ttl time.Duration) *tokenCache {
	if size <= 0 || ttl <= 0 {
		return nil
	}
	c := &tokenCache{ttl: ttl, byID: map[tokenKey]string{}}
	// The eviction callback runs inside the cache's own lock, from Add and
	// Remove, which are only called with c.mu held.
	c.lru, _ = lru.NewWithEvict(size, func(hash string, v cachedToken) {
		delete(c.byID, tokenKey{v.tok.TenantID, v.tok.ID})
	})
	return c
}

// get returns the token with this hash if it was read within the TTL.
func (c *tokenCache) get(hash string) (hub.Token, bool) {
	if c == nil {
		return hub.Token{}, false
	}
	v, ok := c.lru.Get(hash)
	if !ok || time.Since(v.read) >= c.ttl {
		return hub.Token{}, false
	}
	return cloneToken(v.tok), true
}

// generation returns the cache's generation, to be passed to put by a
// lookup that is about to read the database.
func (c *tokenCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches a token read from the database at read, unless an entry was
// dropped (or the cache purged) since generation gen: then what was read
// may be what was dropped.
func (c *tokenCache) put(tok hub.Token, read time.Time, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
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
	c.gen++
	if hash, ok := c.byID[tokenKey{tenant, id}]; ok {
		c.lru.Remove(hash) // the eviction callback deletes byID's entry
	}
}

// purge forgets every token.
func (c *tokenCache) purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Purge()
	clear(c.byID)
}

// tokensChannel is the NOTIFY channel of token revocations; the payload is
// "tenant/token id" (tenant ids never contain a slash).
const tokensChannel = "proxyhub_tokens"

// watchTokenRevocations drops revoked tokens from the cache as other hubs
// (and this one) revoke them, until the store is closed. Run by start when
// there is a cache.
func (s *Store) watchTokenRevocations() {
	_ = s.listenLoop(context.Background(), "proxyhub-tokens", tokensChannel,
		func(_ context.Context, first bool) {
			s.tokens.purge()
			if first {
				close(s.tokenWatchReady)
			}
		},
		func(payload string) {
			if tenant, id, ok := strings.Cut(payload, "/"); ok {
				s.tokens.drop(tenant, id)
			}
		})
}

// cloneToken copies t so that callers cannot change the cached one.
func cloneToken(t hub.Token) hub.Token {
	t.AllowedCIDRs = slices.Clone(t.AllowedCIDRs)
	return t
}
