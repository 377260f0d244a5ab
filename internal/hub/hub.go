// Package hub is proxyhub's domain: it records heartbeats, decides liveness
// and reports status. It knows nothing of HTTP or SQL; it is given a store
// and a clock, so its time rules are tested without sleeping.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/proxyhub/proxyhub/internal/store"
)

// DefaultOfflineAfter is how long a proxy may stay silent before it counts
// as offline: the seed hub's TIMEOUT_MS of 80 000.
const DefaultOfflineAfter = 80 * time.Second

// ErrInvalidName reports a proxy name that is empty, too long, or has a
// character outside letters, digits, '.', '_' and '-' (or does not start
// with a letter or digit).
var ErrInvalidName = errors.New("invalid proxy name")

// ErrInvalidIP reports a heartbeat without a usable client IP.
var ErrInvalidIP = errors.New("invalid client IP")

// ErrQuotaExceeded reports a new proxy beyond the tenant's max_proxies.
var ErrQuotaExceeded = errors.New("quota exceeded: the tenant has reached max_proxies")

// ErrNotRegistered reports a new proxy name that this heartbeat may not
// register (the tenant does not auto-register, and the token is not bound
// to the name).
var ErrNotRegistered = errors.New("proxy not registered: the tenant does not auto-register new names")

// Status is a proxy's liveness.
type Status string

// The liveness states a proxy can be in.
const (
	Online  Status = "online"
	Offline Status = "offline"
)

// Observer is told about every recorded heartbeat (metrics).
type Observer interface {
	HeartbeatRecorded(created, changed bool)
}

// Options configures a Service.
type Options struct {
	Store        store.Store
	Clock        func() time.Time // defaults to time.Now
	OfflineAfter time.Duration    // defaults to DefaultOfflineAfter
	Logger       *slog.Logger     // defaults to slog.Default()
	Observer     Observer         // optional
}

// Service applies the heartbeat, IP-change and liveness rules.
type Service struct {
	store        store.Store
	now          func() time.Time
	offlineAfter time.Duration
	log          *slog.Logger
	obs          Observer
}

// New returns a Service; Options.Store is required.
func New(o Options) *Service {
	s := &Service{store: o.Store, now: o.Clock, offlineAfter: o.OfflineAfter, log: o.Logger, obs: o.Observer}
	if s.now == nil {
		s.now = time.Now
	}
	if s.offlineAfter <= 0 {
		s.offlineAfter = DefaultOfflineAfter
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Now returns the service clock's current time.
func (s *Service) Now() time.Time { return s.now() }

// ValidName reports whether name is an acceptable proxy name: 1 to 100
// characters, a letter or digit first, then letters, digits, '.', '_', '-'.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 100 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// HeartbeatRequest is one heartbeat as the transport received it, from an
// authenticated and authorized heartbeat token.
type HeartbeatRequest struct {
	TenantID  string
	Name      string
	IP        netip.Addr // resolved client IP
	PeerIP    netip.Addr // raw socket peer
	TokenID   string
	Bound     bool // the token is bound to this very name
	RequestID string
}

// Heartbeat records a heartbeat at the service clock's time and logs it
// (an IP change at info level, as the seed did, with old and new address).
// A new name is registered when the tenant auto-registers or the token is
// bound to that name, within the tenant's max_proxies; otherwise it fails
// with ErrNotRegistered or ErrQuotaExceeded.
func (s *Service) Heartbeat(ctx context.Context, req HeartbeatRequest) (store.HeartbeatResult, error) {
	if !ValidName(req.Name) {
		return store.HeartbeatResult{}, ErrInvalidName
	}
	if !req.IP.IsValid() || req.IP.IsUnspecified() {
		return store.HeartbeatResult{}, ErrInvalidIP
	}
	t, err := s.store.GetTenant(ctx, req.TenantID)
	if err != nil {
		return store.HeartbeatResult{}, fmt.Errorf("tenant of heartbeat: %w", err)
	}
	res, err := s.store.RecordHeartbeat(ctx, store.Heartbeat{
		TenantID:   req.TenantID,
		Name:       req.Name,
		IP:         req.IP,
		PeerIP:     req.PeerIP,
		At:         s.now(),
		TokenID:    req.TokenID,
		RequestID:  req.RequestID,
		MayCreate:  t.AutoRegister || req.Bound,
		MaxProxies: t.MaxProxies,
	})
	switch {
	case errors.Is(err, store.ErrQuotaExceeded):
		return res, ErrQuotaExceeded
	case errors.Is(err, store.ErrNotRegistered):
		return res, ErrNotRegistered
	case err != nil:
		return res, fmt.Errorf("record heartbeat: %w", err)
	}
	if s.obs != nil {
		s.obs.HeartbeatRecorded(res.Created, res.Changed)
	}
	if res.Changed {
		s.log.LogAttrs(ctx, slog.LevelInfo, "ip_change",
			slog.String("tenant", req.TenantID), slog.String("proxy", req.Name),
			slog.String("old_ip", res.PreviousIP.String()), slog.String("new_ip", req.IP.String()))
	} else {
		s.log.LogAttrs(ctx, slog.LevelInfo, "heartbeat",
			slog.String("tenant", req.TenantID), slog.String("proxy", req.Name),
			slog.String("ip", req.IP.String()), slog.Bool("created", res.Created))
	}
	return res, nil
}

// StatusAt returns a proxy's liveness at time now: offline once more than
// offlineAfter has passed since its last heartbeat (exactly offlineAfter
// is still online).
func StatusAt(p store.Proxy, now time.Time, offlineAfter time.Duration) Status {
	if now.Sub(p.LastSeen) > offlineAfter {
		return Offline
	}
	return Online
}

// OfflineAfter returns the tenant's offline timeout, or the hub's default
// when the tenant has none set.
func (s *Service) OfflineAfter(t store.Tenant) time.Duration {
	if t.OfflineAfter > 0 {
		return t.OfflineAfter
	}
	return s.offlineAfter
}

// ProxyView is a proxy with its liveness.
type ProxyView struct {
	store.Proxy
	Status Status
}

// Report is the status of every proxy of a tenant at one instant.
type Report struct {
	At      time.Time
	Proxies []ProxyView // sorted by name
	Online  int
	Offline int
}

// Status reports every proxy of the tenant, sorted by name.
func (s *Service) Status(ctx context.Context, tenantID string) (Report, error) {
	t, err := s.store.GetTenant(ctx, tenantID)
	if err != nil {
		return Report{}, fmt.Errorf("tenant: %w", err)
	}
	now := s.now()
	ps, err := s.store.ListProxies(ctx, tenantID, store.ProxyQuery{})
	if err != nil {
		return Report{}, fmt.Errorf("list proxies: %w", err)
	}
	r := Report{At: now, Proxies: make([]ProxyView, len(ps))}
	offlineAfter := s.OfflineAfter(t)
	for i, p := range ps {
		st := StatusAt(p, now, offlineAfter)
		r.Proxies[i] = ProxyView{Proxy: p, Status: st}
		if st == Online {
			r.Online++
		} else {
			r.Offline++
		}
	}
	return r, nil
}

// ProxyFilter selects proxies for a page of the proxy list.
type ProxyFilter struct {
	Status     Status // "" for all
	NamePrefix string
	After      string // cursor: the last name of the previous page
	Limit      int
}

// Proxies returns one page of the tenant's proxies matching f, sorted by
// name, with their liveness; more is true when another page follows.
func (s *Service) Proxies(ctx context.Context, tenantID string, f ProxyFilter) (page []ProxyView, more bool, err error) {
	t, err := s.store.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, false, fmt.Errorf("tenant: %w", err)
	}
	now := s.now()
	offlineAfter := s.OfflineAfter(t)
	q := store.ProxyQuery{NamePrefix: f.NamePrefix, After: f.After, Limit: f.Limit + 1}
	switch f.Status {
	case Online:
		q.SeenSince = now.Add(-offlineAfter)
	case Offline:
		q.SeenBefore = now.Add(-offlineAfter)
	}
	ps, err := s.store.ListProxies(ctx, tenantID, q)
	if err != nil {
		return nil, false, fmt.Errorf("list proxies: %w", err)
	}
	if more = len(ps) > f.Limit; more {
		ps = ps[:f.Limit]
	}
	page = make([]ProxyView, len(ps))
	for i, p := range ps {
		page[i] = ProxyView{Proxy: p, Status: StatusAt(p, now, offlineAfter)}
	}
	return page, more, nil
}

// Proxy returns one proxy of the tenant with its liveness.
func (s *Service) Proxy(ctx context.Context, tenantID, name string) (ProxyView, error) {
	t, err := s.store.GetTenant(ctx, tenantID)
	if err != nil {
		return ProxyView{}, fmt.Errorf("tenant: %w", err)
	}
	p, err := s.store.GetProxy(ctx, tenantID, name)
	if err != nil {
		return ProxyView{}, fmt.Errorf("proxy: %w", err)
	}
	return ProxyView{Proxy: p, Status: StatusAt(p, s.now(), s.OfflineAfter(t))}, nil
}

// Decommission removes a proxy; its IP-change history stays.
func (s *Service) Decommission(ctx context.Context, tenantID, name string) error {
	if err := s.store.DeleteProxy(ctx, tenantID, name); err != nil {
		return fmt.Errorf("decommission: %w", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "proxy_decommissioned", slog.String("tenant", tenantID), slog.String("proxy", name))
	return nil
}
