package policy

import (
	"net/netip"
	"sync"
)

// cacheSize bounds the heartbeat decision cache. A fleet's proxies usually
// keep their address, so one entry per (token, proxy, address) in use covers
// steady traffic.
const cacheSize = 16384

// heartbeatKey identifies a heartbeat decision: every field of the input.
// cidrs is the token's networks in their binary form, so two tokens with the
// same id but different networks (which the store never produces) still do
// not share an entry.
type heartbeatKey struct {
	tenant, token, proxy, cidrs string
	ip                          netip.Addr
}

// decisionCache remembers heartbeat decisions until tenant data changes.
//
// Invalidation is by generation: clear bumps gen and empties the map. A
// decision computed while data changed is not stored, because its caller
// read gen before evaluating and put refuses an entry whose generation is no
// longer current. (Writers commit to the store before calling clear, and a
// read transaction that saw old data began before that commit, hence before
// the bump.)
type decisionCache struct {
	mu  sync.RWMutex
	gen uint64
	max int
	m   map[heartbeatKey]Decision
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{max: max, m: make(map[heartbeatKey]Decision)}
}

// get returns the cached decision for k, if any, and the current generation
// to pass to put.
func (c *decisionCache) get(k heartbeatKey) (Decision, uint64, bool) {
	c.mu.RLock()
	d, ok := c.m[k]
	gen := c.gen
	c.mu.RUnlock()
	return d, gen, ok
}

// put stores d for k when gen is still current. When the cache is full an
// arbitrary entry is evicted (Go's map iteration starts at a random place).
func (c *decisionCache) put(k heartbeatKey, d Decision, gen uint64) {
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
	c.m[k] = d
}

// clear forgets every decision and starts a new generation.
func (c *decisionCache) clear() {
	c.mu.Lock()
	c.gen++
	clear(c.m)
	c.mu.Unlock()
}

// len returns the number of cached decisions.
func (c *decisionCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
