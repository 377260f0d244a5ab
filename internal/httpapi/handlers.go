package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/hub"
)

// handlers are the operations' thin bodies: take Huma's decoded input, call
// the domain, convert the result to the api types, map errors.
type handlers struct {
	Deps
}

// HeartbeatInput is the heartbeat's query.
type HeartbeatInput struct {
	Name string `query:"name" required:"true" minLength:"1" maxLength:"100" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"The proxy's name, usually what hostname prints." example:"edge-7"`
}

// HeartbeatOutput wraps the heartbeat answer.
type HeartbeatOutput struct {
	Body api.HeartbeatResponse
}

func (h *handlers) heartbeat(ctx context.Context, in *HeartbeatInput) (*HeartbeatOutput, error) {
	ip, err := clientip.FromContext(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	p, _ := auth.PrincipalFrom(ctx)
	res, err := h.Hub.Heartbeat(ctx, hub.HeartbeatRequest{
		TenantID:   p.TenantID,
		Name:       in.Name,
		IP:         ip.Client,
		PeerIP:     ip.Peer,
		TokenID:    p.ID,
		TokenCIDRs: p.AllowedCIDRs,
		Bound:      p.Proxy != "" && p.Proxy == in.Name,
		RequestID:  requestIDFrom(ctx),
	})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &HeartbeatOutput{Body: api.HeartbeatResponse{
		Success:   true,
		Name:      res.Proxy.Name,
		RemoteIP:  res.Proxy.IP.String(),
		IPChanged: res.Changed,
		Timestamp: api.NewTime(res.Proxy.LastSeen),
	}}
	if res.Changed {
		out.Body.PreviousIP = res.PreviousIP.String()
	}
	return out, nil
}

// StatusOutput wraps the status report.
type StatusOutput struct {
	Body api.StatusResponse
}

func (h *handlers) status(ctx context.Context, _ *struct{}) (*StatusOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	r, err := h.Hub.Status(ctx, p.TenantID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &StatusOutput{Body: api.StatusResponse{
		Total:     len(r.Proxies),
		Online:    r.Online,
		Offline:   r.Offline,
		Proxies:   make([]api.ProxyStatus, len(r.Proxies)),
		Timestamp: api.NewTime(r.At),
	}}
	for i, p := range r.Proxies {
		out.Body.Proxies[i] = proxyStatus(p)
	}
	return out, nil
}

// HealthOutput is a probe's answer.
type HealthOutput struct {
	Status int
	Body   api.Health
}

func (h *handlers) healthz(context.Context, *struct{}) (*HealthOutput, error) {
	return &HealthOutput{Status: http.StatusOK, Body: api.Health{Status: "ok"}}, nil
}

func (h *handlers) readyz(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := h.Hub.Ready(ctx); err != nil {
		h.Logger.WarnContext(ctx, "store not ready", slog.String("error", err.Error()))
		return &HealthOutput{Status: http.StatusServiceUnavailable, Body: api.Health{Status: "unavailable"}}, nil
	}
	return &HealthOutput{Status: http.StatusOK, Body: api.Health{Status: "ok"}}, nil
}
