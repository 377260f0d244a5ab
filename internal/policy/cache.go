package policy

import (
	"net/netip"
	"sync"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// cacheSize bounds each decision cache. A fleet's proxies usually keep their
// address, so one heartbeat entry per (token, proxy, address) in use, and one
// authorization entry per (principal, action, resource, address) in use,
// covers steady traffic.
const cacheSize = 16384

// heartbeatKey identifies a heartbeat decision: every field of the input.
// cidrs is the token's networks in their binary form, so two tokens with the
// same id but different networks (which the store never produces) still do
// not share an entry.
type heartbeatKey struct {
	tenant, token, proxy, cidrs string
	ip                          netip.Addr
	// anyIP marks a key that stands for every valid address: the embedded
	// policy accepts any address for a tenant without an allowlist and a
	// token without networks (see Engine.heartbeatKey).
	anyIP bool
}

// authorizeKey identifies an authorization decision: every field of the
// admin policy's input (adminInput) it may read. id is the principal's id
// only when the policies may read input.principal.id (readsPrincipalID);
// otherwise it stays empty, so principals alike in everything else share an
// entry. ip is the client IP without its zone (what client_ip is written
// from), the zero Addr when unknown (client_ip absent).
type authorizeKey struct {
	kind      auth.Kind
	id        string
	tenant    string
	role      auth.Role
	proxy     string
	action    Action
	resTenant string
	grantRole auth.Role
	resProxy  string
	ip        netip.Addr
}

// decisionCache is a bounded map of decisions, valid until tenant data
// changes. The engine keeps one per decision type (heartbeat, authorize), and
// every data write clears them all.
//
// Invalidation is by generation: clear bumps gen and empties the map. A
// decision computed while data changed is not stored, because its caller
// read gen before evaluating and put refuses an entry whose generation is no
// longer current. (Writers commit to the store before calling clear, and a
// read transaction that saw old data began before that commit, hence before
// the bump.)
//
// A nil *decisionCache caches nothing: get always misses, put and clear do
// nothing. The engine uses nil when its policies call a non-deterministic
// built-in such as time.now_ns, whose answers no key can capture.
type decisionCache[K comparable, V any] struct {
	mu  sync.RWMutex
	gen uint64
	max int
	m   map[K]V
}

func newDecisionCache[K comparable, V any](max int) *decisionCache[K, V] {
	return &decisionCache[K, V]{max: max, m: make(map[K]V)}
}

// get returns the cached decision for k, if any, and the current generation
// to pass to put.
func (c *decisionCache[K, V]) get(k K) (V, uint64, bool) {
	if c == nil {
		var zero V
		return zero, 0, false
	}
	c.mu.RLock()
	v, ok := c.m[k]
	gen := c.gen
	c.mu.RUnlock()
	return v, gen, ok
}

// put stores v for k when gen is still current. When the cache is full an
// arbitrary entry is evicted (Go's map iteration starts at a random place).
func (c *decisionCache[K, V]) put(k K, v V, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}

// clear forgets every decision and starts a new generation.
func (c *decisionCache[K, V]) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen++
	clear(c.m)
	c.mu.Unlock()
}

// len returns the number of cached decisions.
func (c *decisionCache[K, V]) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
