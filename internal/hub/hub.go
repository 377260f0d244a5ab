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

// HeartbeatRequest is one heartbeat as the transport received it.
type HeartbeatRequest struct {
	TenantID  string
	Name      string
	IP        netip.Addr // resolved client IP
	PeerIP    netip.Addr // raw socket peer
	TokenID   string
	RequestID string
}

// Heartbeat records a heartbeat at the service clock's time and logs it
// (an IP change at info level, as the seed did, with old and new address).
func (s *Service) Heartbeat(ctx context.Context, req HeartbeatRequest) (store.HeartbeatResult, error) {
	if !ValidName(req.Name) {
		return store.HeartbeatResult{}, ErrInvalidName
	}
	if !req.IP.IsValid() || req.IP.IsUnspecified() {
		return store.HeartbeatResult{}, ErrInvalidIP
	}
	res, err := s.store.RecordHeartbeat(ctx, store.Heartbeat{
		TenantID:  req.TenantID,
		Name:      req.Name,
		IP:        req.IP,
		PeerIP:    req.PeerIP,
		At:        s.now(),
		TokenID:   req.TokenID,
		RequestID: req.RequestID,
	})
	if err != nil {
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
// the offline timeout has passed since its last heartbeat (exactly the
// timeout is still online).
func (s *Service) StatusAt(p store.Proxy, now time.Time) Status {
	if now.Sub(p.LastSeen) > s.offlineAfter {
		return Offline
	}
	return Online
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
	now := s.now()
	ps, err := s.store.ListProxies(ctx, tenantID, store.ProxyQuery{})
	if err != nil {
		return Report{}, fmt.Errorf("list proxies: %w", err)
	}
	r := Report{At: now, Proxies: make([]ProxyView, len(ps))}
	for i, p := range ps {
		st := s.StatusAt(p, now)
		r.Proxies[i] = ProxyView{Proxy: p, Status: st}
		if st == Online {
			r.Online++
		} else {
			r.Offline++
		}
	}
	return r, nil
}
