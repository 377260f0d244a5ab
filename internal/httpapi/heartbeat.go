package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

func (h *handlers) registerHeartbeat(api huma.API) {
	huma.Register(api, secured(huma.Operation{
		OperationID: operationHeartbeat, Method: http.MethodGet, Path: "/proxy_server", Tags: tagHeartbeat,
		Summary: "Record a heartbeat",
		Description: "Called by every proxy once a minute (cron + curl) with its heartbeat token. Records the caller's IP " +
			"for the named proxy under the token's tenant, creates the proxy on its first heartbeat, and reports " +
			"whether the IP changed since the previous heartbeat. The answer keeps the seed hub's fields.",
		Errors: []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, access{policy.HeartbeatSend, scopePrincipal}), h.heartbeat)
	huma.Register(api, secured(huma.Operation{
		OperationID: "get-status", Method: http.MethodGet, Path: "/status", Tags: tagHeartbeat,
		Summary: "List proxies and their liveness",
		Description: "Every proxy of the caller's tenant with its current IP, online/offline status (offline once its " +
			"latest heartbeat is older than the tenant's offline timeout), first and last heartbeat and IP-change " +
			"count, sorted by name. Accepts a heartbeat token or a tenant admin JWT.",
		Errors: []int{http.StatusServiceUnavailable},
	}, access{policy.StatusRead, scopePrincipal}), h.status)
}

// HeartbeatInput is the heartbeat's query.
type HeartbeatInput struct {
	Name string `query:"name" required:"true" minLength:"1" maxLength:"100" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"The proxy's name, usually what hostname prints." example:"edge-7"` // hub.NamePattern and hub.MaxNameLength; a test holds them equal
}

// HeartbeatOutput wraps the heartbeat answer.
type HeartbeatOutput struct {
	Body api.HeartbeatResult
}

func (h *handlers) heartbeat(ctx context.Context, in *HeartbeatInput) (*HeartbeatOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	res, err := h.recordHeartbeat(ctx, p, in.Name)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &HeartbeatOutput{Body: api.HeartbeatResult{
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

// recordHeartbeat records the heartbeat of proxy name from principal p's
// heartbeat token, at the client IP the pipeline resolved: the one call
// both the Huma handler and heartbeatRoute make.
func (h *handlers) recordHeartbeat(ctx context.Context, p auth.Principal, name string) (hub.HeartbeatResult, error) {
	ip, err := clientip.FromContext(ctx)
	if err != nil {
		return hub.HeartbeatResult{}, err
	}
	return h.Hub.Heartbeat(ctx, hub.HeartbeatRequest{
		TenantID:   p.TenantID,
		Name:       name,
		IP:         ip.Client,
		PeerIP:     ip.Peer,
		TokenID:    p.ID,
		TokenCIDRs: p.AllowedCIDRs,
		Bound:      p.Proxy != "" && p.Proxy == name,
		RequestID:  requestIDFrom(ctx),
	})
}

// StatusOutput wraps the status report.
type StatusOutput struct {
	Body api.StatusReport
}

func (h *handlers) status(ctx context.Context, _ *struct{}) (*StatusOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	r, err := h.Hub.Status(ctx, p.TenantID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &StatusOutput{Body: api.StatusReport{
		Total:     len(r.Proxies),
		Online:    r.Online,
		Offline:   r.Offline,
		Proxies:   make([]api.ProxySummary, len(r.Proxies)),
		Timestamp: api.NewTime(r.At),
	}}
	for i, p := range r.Proxies {
		out.Body.Proxies[i] = proxyStatus(p)
	}
	return out, nil
}
