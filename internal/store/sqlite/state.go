package sqlite

import (
	"container/heap"
	"net/netip"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// state is the store's in-memory copy of the current state as the
// database last committed it: tenants, heartbeat tokens and proxies, with
// the deadline heap of the online proxies, and the last id handed out in
// each history table (plus the steady-state heartbeats answered before
// their log row, see Store.steadyLog). Only the writer changes it, after
// COMMIT or after deciding such heartbeats, with both
// Store.wmu and Store.mu held; readers hold Store.mu for reading, and the
// writer may read it holding Store.wmu alone.
type state struct {
	tenants      map[string]*tenantState
	tokensByHash map[string]*hub.Token
	deadlines    deadlineHeap
	seq          sequences
	// dirty are the proxies whose rows lag the state: steady-state
	// heartbeats in the heartbeat log have moved them since their row was
	// last written. A checkpoint writes them and empties the log.
	dirty map[*proxyRec]struct{}
	// logRows is how many heartbeat log rows the last checkpoint left.
	logRows int
}

// sequences are the last ids handed out. The writer assigns ids itself
// (there is only one), so that a batch knows them before it commits; the
// tables' AUTOINCREMENT sequences keep the highest id ever used, which is
// where the counters start again when the store opens.
type sequences struct {
	proxy, change, denied, event int64
	// batch is the heartbeat log position: the id of the last heartbeat
	// batch, whether or not it wrote a log row.
	batch int64
}

// tenantState is one tenant and what belongs to it.
type tenantState struct {
	rec       hub.Tenant
	proxies   map[string]*proxyRec
	tokens    []*hub.Token // oldest first
	tokenByID map[string]*hub.Token
}

// proxyRec is one proxy as the store keeps it in memory: times as Unix
// nanoseconds, as in the database.
type proxyRec struct {
	id           int64 // the row's id
	name         string
	ip, peer     netip.Addr
	created      int64
	lastSeen     int64
	deadline     int64
	queued       int64 // deadline of the live heap entry; 0: none
	ipChanges    int64
	offlineAfter time.Duration // own timeout; 0 follows the tenant
	offline      bool
	paused       bool
	deleted      bool // removed: heap entries pointing at it are stale
}

func newState() *state {
	return &state{tenants: map[string]*tenantState{}, tokensByHash: map[string]*hub.Token{}, dirty: map[*proxyRec]struct{}{}}
}

func newTenantState(rec hub.Tenant) *tenantState {
	return &tenantState{rec: rec, proxies: map[string]*proxyRec{}, tokenByID: map[string]*hub.Token{}}
}

// timeout is the proxy's effective offline timeout: its own, else its
// tenant's, else the default.
func (t *tenantState) timeout(p *proxyRec) time.Duration {
	switch {
	case p.offlineAfter > 0:
		return p.offlineAfter
	case t.rec.OfflineAfter > 0:
		return t.rec.OfflineAfter
	}
	return hub.DefaultOfflineAfter
}

// view returns the record as the store's Proxy type.
func (p *proxyRec) view(tenantID string) hub.Proxy {
	st := hub.StateOnline
	if p.offline {
		st = hub.StateOffline
	}
	return hub.Proxy{
		TenantID: tenantID, Name: p.name, IP: p.ip, PeerIP: p.peer,
		CreatedAt: fromNanos(p.created), LastSeen: fromNanos(p.lastSeen), IPChanges: p.ipChanges,
		State: st, Paused: p.paused, OfflineAfter: p.offlineAfter, Deadline: fromNanos(p.deadline),
	}
}

// heapEntry says: at `at` (Unix ns), look at proxy p of tenant t.
type heapEntry struct {
	at int64
	p  *proxyRec
	t  *tenantState
}

// deadlineHeap is a min-heap of entries by time: each online, unpaused
// proxy has one live entry, so a sweep looks only at what is due.
type deadlineHeap []heapEntry

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(heapEntry)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = heapEntry{}
	*h = old[:len(old)-1]
	return e
}

// queue makes sure a heap entry will look at p no later than its
// deadline. Entries are only added when the deadline moves earlier than
// the live entry (or there is none); a later deadline is noticed when the
// earlier entry comes due.
func (st *state) queue(t *tenantState, p *proxyRec) {
	if p.offline || p.paused || p.deleted {
		return
	}
	if p.queued == 0 || p.deadline < p.queued {
		p.queued = p.deadline
		heap.Push(&st.deadlines, heapEntry{at: p.deadline, p: p, t: t})
	}
}

// addToken adds a token to the tenant and the hash index.
func (st *state) addToken(t *tenantState, tok *hub.Token) {
	t.tokens = append(t.tokens, tok)
	t.tokenByID[tok.ID] = tok
	st.tokensByHash[tok.Hash] = tok
}

func cloneToken(t hub.Token) hub.Token {
	t.AllowedCIDRs = slices.Clone(t.AllowedCIDRs)
	return t
}

func cloneTenant(t hub.Tenant) hub.Tenant {
	t.Allowlist = slices.Clone(t.Allowlist)
	t.AdminAllowlist = slices.Clone(t.AdminAllowlist)
	return t
}
