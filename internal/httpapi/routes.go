package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/internal/policy"
)

// addRoutes declares every operation of the API: the whole surface, one
// line per resource. The seed's wire contract (heartbeat, status) and the
// probes sit at the root; the admin API under /v1.
func addRoutes(api huma.API, h *handlers) {
	h.registerHeartbeat(api)
	h.registerProbes(api)

	v1 := huma.NewGroup(api, "/v1")
	h.registerTokenExchange(v1)
	h.registerTenants(v1)
	h.registerAllowlists(v1)
	h.registerTokens(v1)
	h.registerCredentials(v1)
	h.registerProxies(v1)
	h.registerAudit(v1)
	h.registerEvents(v1)
	h.registerWebhooks(v1)
	h.registerBadges(v1)
	h.registerMaintenance(v1)
}

// access says who may call an operation: the policy action it performs
// and where its target tenant comes from. Operations registered without
// one are public.
type access struct {
	action policy.Action
	scope  string // scopePath, scopePrincipal or scopeHub
}

// secured returns o with its access rule: the security schemes it
// accepts, the metadata the secure middleware reads, and the errors every
// secured operation can answer (401, 403, 429; 404 when the tenant comes
// from the path).
func secured(o huma.Operation, a access) huma.Operation {
	o.Metadata = map[string]any{metaAction: a.action, metaScope: a.scope}
	o.Errors = append(o.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests)
	switch a.action {
	case policy.HeartbeatSend:
		o.Security = heartbeatSecurity
	case policy.StatusRead:
		o.Security = statusSecurity
	default:
		o.Security = adminSecurity
	}
	if a.scope == scopePath {
		o.Errors = append(o.Errors, http.StatusNotFound)
	}
	return o
}

// streaming marks an operation whose answer is a stream (live events,
// exports): it is not bounded by the store timeout, which would cut it
// off; its store calls bound themselves.
func streaming(o huma.Operation) huma.Operation {
	o.Metadata[metaStream] = true
	return o
}

// The tags that group operations in the document.
var (
	tagHeartbeat   = []string{"heartbeat"}
	tagHealth      = []string{"health"}
	tagTenants     = []string{"tenants"}
	tagTokens      = []string{"tokens"}
	tagCredentials = []string{"credentials"}
	tagProxies     = []string{"proxies"}
	tagAuth        = []string{"auth"}
	tagAudit       = []string{"audit"}
	tagEvents      = []string{"events"}
	tagWebhooks    = []string{"webhooks"}
	tagBadges      = []string{"badges"}
	tagMaintenance = []string{"maintenance"}
)

// documentedTags describes each tag, in the order the docs show them.
var documentedTags = []*huma.Tag{
	{Name: "heartbeat", Description: "What cron sends each minute (GET /proxy_server with a heartbeat token) and the status report of the caller's tenant."},
	{Name: "tenants", Description: "Teams sharing the hub: their settings and the allowlists their heartbeats and admins must come from."},
	{Name: "tokens", Description: "Heartbeat tokens (phb_…): the bearer tokens cron sends, optionally bound to one proxy name or source networks."},
	{Name: "credentials", Description: "Admin API clients: a client id and secret a script exchanges for a short-lived JWT."},
	{Name: "auth", Description: "The OAuth2 client-credentials token endpoint."},
	{Name: "proxies", Description: "A tenant's proxies with their liveness: list, inspect, pause for maintenance, decommission."},
	{Name: "audit", Description: "The IP-change history and refused heartbeats, as JSON pages or streamed CSV and NDJSON exports, and statistics."},
	{Name: "events", Description: "What happened to a tenant's proxies (registered, ip_changed, offline, online, denied), as pages or a live stream."},
	{Name: "webhooks", Description: "Where events are delivered: signed JSON, Slack or email, with a delivery log."},
	{Name: "maintenance", Description: "Maintenance windows: one-off or recurring times when a tenant's, a proxy's or a name pattern's notifications are held back, with one alert afterwards for what is still offline."},
	{Name: "badges", Description: "Status badges: an unguessable, revocable URL that shows up, late or N down as an image or shields.io JSON, and nothing else."},
	{Name: "health", Description: "Liveness and readiness probes for load balancers and orchestrators."},
}
