package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/proxyhub/proxyhub/api"
)

func (h *handlers) registerProbes(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: tagHealth,
		Summary: "Liveness probe", Description: "Answers 200 while the process is up. Needs no credentials.",
	}, h.healthz)
	huma.Register(api, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: tagHealth,
		Summary: "Readiness probe",
		Description: "Answers 200 when the store is reachable and 503 when it is not, so a load balancer sends " +
			"heartbeats only to hubs that can record them. Needs no credentials.",
	}, h.readyz)
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
	return &HealthOutput{Status: http.StatusOK, Body: api.Health{Status: "ok", RateLimits: h.rateLimitMode()}}, nil
}

// rateLimitMode is readyz's rate_limits: how limits are kept now. (Why
// Redis is unreachable is in the log, not here: readyz answers anyone.)
func (h *handlers) rateLimitMode() string {
	if h.Limits.Shared == nil {
		return "per-hub"
	}
	if up, _ := h.Limits.Shared.Up(); up {
		return "shared"
	}
	return "per-hub-redis-unreachable"
}
