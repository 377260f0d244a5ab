package hub

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
)

// SourceRequest is what the source-IP policy decides on.
type SourceRequest struct {
	TenantID   string
	TokenID    string
	Proxy      string
	TokenCIDRs []netip.Prefix
	IP         netip.Addr
}

// SourcePolicy decides whether a heartbeat may come from its source IP;
// reason names the rule that denied it.
type SourcePolicy interface {
	AllowSource(ctx context.Context, req SourceRequest) (allowed bool, reason string, err error)
}

// HeartbeatRequest is one heartbeat as the transport received it, from an
// authenticated and authorized heartbeat token.
type HeartbeatRequest struct {
	TenantID   string
	Name       string
	IP         netip.Addr // resolved client IP
	PeerIP     netip.Addr // raw socket peer
	TokenID    string
	TokenCIDRs []netip.Prefix // the token's own allowlist
	Bound      bool           // the token is bound to this very name
	RequestID  string
}

// Heartbeat records a heartbeat at the service clock's time and logs it
// (an IP change at info level, as the seed did, with old and new address).
// A new name is registered when the tenant auto-registers or the token is
// bound to that name, within the tenant's max_proxies; otherwise it fails
// with ErrNotRegistered or ErrQuotaExceeded.
func (s *Service) Heartbeat(ctx context.Context, req HeartbeatRequest) (HeartbeatResult, error) {
	if !ValidName(req.Name) {
		return HeartbeatResult{}, ErrInvalidName
	}
	if !req.IP.IsValid() || req.IP.IsUnspecified() {
		return HeartbeatResult{}, ErrInvalidIP
	}
	if err := s.checkSource(ctx, req); err != nil {
		return HeartbeatResult{}, err
	}
	t, err := s.tenant(ctx, req.TenantID)
	if err != nil {
		return HeartbeatResult{}, fmt.Errorf("tenant of heartbeat: %w", err)
	}
	res, err := s.store.RecordHeartbeat(ctx, Heartbeat{
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
	} else if s.log.Enabled(ctx, s.heartbeatLevel) {
		s.log.LogAttrs(ctx, s.heartbeatLevel, "heartbeat",
			slog.String("tenant", req.TenantID), slog.String("proxy", req.Name),
			slog.String("ip", req.IP.String()), slog.Bool("created", res.Created))
	}
	return res, nil
}

// checkSource asks the source policy about the heartbeat's IP; a denial is
// recorded as a denied audit record and logged, and returns
// ErrSourceDenied.
func (s *Service) checkSource(ctx context.Context, req HeartbeatRequest) error {
	if s.sources == nil {
		return nil
	}
	ok, reason, err := s.sources.AllowSource(ctx, SourceRequest{
		TenantID: req.TenantID, TokenID: req.TokenID, Proxy: req.Name, TokenCIDRs: req.TokenCIDRs, IP: req.IP,
	})
	if err != nil {
		return fmt.Errorf("source policy: %w", err)
	}
	if ok {
		return nil
	}
	if _, err := s.store.RecordDenied(ctx, Denied{
		TenantID: req.TenantID, Proxy: req.Name, IP: req.IP, At: s.now(),
		TokenID: req.TokenID, RequestID: req.RequestID, Reason: reason,
	}); err != nil {
		return fmt.Errorf("record denied heartbeat: %w", err)
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "heartbeat_denied",
		slog.String("tenant", req.TenantID), slog.String("proxy", req.Name),
		slog.String("ip", req.IP.String()), slog.String("token_id", req.TokenID), slog.String("reason", reason))
	return fmt.Errorf("%w: %s", ErrSourceDenied, reason)
}
