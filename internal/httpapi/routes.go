package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// addRoutes declares every operation of the API: the whole surface in one
// place.
func addRoutes(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "heartbeat",
		Method:      http.MethodGet,
		Path:        "/proxy_server",
		Summary:     "Record a heartbeat",
		Description: "Called by every proxy once a minute (cron + curl). Records the caller's IP " +
			"for the named proxy, creates the proxy on its first heartbeat, and reports whether " +
			"the IP changed since the previous heartbeat. The answer keeps the seed hub's fields.",
		Tags:   []string{"heartbeat"},
		Errors: []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, h.heartbeat)

	huma.Register(api, huma.Operation{
		OperationID: "get-status",
		Method:      http.MethodGet,
		Path:        "/status",
		Summary:     "List proxies and their liveness",
		Description: "Every proxy of the caller's tenant with its current IP, online/offline status " +
			"(offline once its latest heartbeat is older than the offline timeout), first and last " +
			"heartbeat and IP-change count, sorted by name.",
		Tags:   []string{"heartbeat"},
		Errors: []int{http.StatusServiceUnavailable},
	}, h.status)

	huma.Register(api, huma.Operation{
		OperationID: "healthz",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Liveness probe",
		Description: "Answers 200 while the process is up. Needs no credentials.",
		Tags:        []string{"health"},
	}, h.healthz)

	huma.Register(api, huma.Operation{
		OperationID: "readyz",
		Method:      http.MethodGet,
		Path:        "/readyz",
		Summary:     "Readiness probe",
		Description: "Answers 200 when the store is reachable and 503 when it is not, so a load " +
			"balancer sends heartbeats only to hubs that can record them.",
		Tags: []string{"health"},
	}, h.readyz)
}
