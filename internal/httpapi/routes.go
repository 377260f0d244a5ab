package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/internal/policy"
)

// op describes an operation with its security: the authz action it
// performs and where its tenant comes from. Operations without an action
// are public.
func op(id, method, path, summary, description string, tags []string, action policy.Action, scope string, errs ...int) huma.Operation {
	o := huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: description, Tags: tags, Errors: errs}
	if action != "" {
		o.Metadata = map[string]any{metaAction: action, metaScope: scope}
		o.Errors = append(o.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests)
		switch {
		case action == policy.HeartbeatSend:
			o.Security = heartbeatSecurity
		case action == policy.StatusRead:
			o.Security = statusSecurity
		default:
			o.Security = adminSecurity
		}
		if scope == scopePath {
			o.Errors = append(o.Errors, http.StatusNotFound)
		}
	}
	return o
}

var (
	tagHeartbeat   = []string{"heartbeat"}
	tagHealth      = []string{"health"}
	tagTenants     = []string{"tenants"}
	tagTokens      = []string{"tokens"}
	tagCredentials = []string{"credentials"}
	tagProxies     = []string{"proxies"}
	tagAuth        = []string{"auth"}
)

// addRoutes declares every operation of the API: the whole surface in one
// place.
func addRoutes(api huma.API, h *handlers) {
	// The seed's wire contract.
	huma.Register(api, op("heartbeat", http.MethodGet, "/proxy_server", "Record a heartbeat",
		"Called by every proxy once a minute (cron + curl) with its heartbeat token. Records the caller's IP "+
			"for the named proxy under the token's tenant, creates the proxy on its first heartbeat, and reports "+
			"whether the IP changed since the previous heartbeat. The answer keeps the seed hub's fields.",
		tagHeartbeat, policy.HeartbeatSend, scopePrincipal,
		http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusServiceUnavailable), h.heartbeat)
	huma.Register(api, op("get-status", http.MethodGet, "/status", "List proxies and their liveness",
		"Every proxy of the caller's tenant with its current IP, online/offline status (offline once its "+
			"latest heartbeat is older than the tenant's offline timeout), first and last heartbeat and IP-change "+
			"count, sorted by name. Accepts a heartbeat token or a tenant admin JWT.",
		tagHeartbeat, policy.StatusRead, scopePrincipal, http.StatusServiceUnavailable), h.status)

	// Probes.
	huma.Register(api, op("healthz", http.MethodGet, "/healthz", "Liveness probe",
		"Answers 200 while the process is up. Needs no credentials.", tagHealth, "", ""), h.healthz)
	huma.Register(api, op("readyz", http.MethodGet, "/readyz", "Readiness probe",
		"Answers 200 when the store is reachable and 503 when it is not, so a load balancer sends "+
			"heartbeats only to hubs that can record them. Needs no credentials.", tagHealth, "", ""), h.readyz)

	// Authentication.
	h.registerTokenExchange(api)

	// Tenants.
	huma.Register(api, created(op("create-tenant", http.MethodPost, "/v1/tenants", "Create a tenant",
		"Creates a team on the hub. Platform role only.", tagTenants, policy.TenantCreate, scopeHub,
		http.StatusConflict, http.StatusUnprocessableEntity)), h.createTenant)
	huma.Register(api, op("list-tenants", http.MethodGet, "/v1/tenants", "List tenants",
		"Every tenant on the hub. Platform role only.", tagTenants, policy.TenantList, scopeHub), h.listTenants)
	huma.Register(api, op("get-tenant", http.MethodGet, "/v1/tenants/{tenant}", "Get a tenant",
		"A tenant and its settings.", tagTenants, policy.TenantRead, scopePath), h.getTenant)
	huma.Register(api, op("update-tenant", http.MethodPatch, "/v1/tenants/{tenant}", "Change tenant settings",
		"Changes the given settings; absent fields stay as they are. Owner or admin.", tagTenants, policy.TenantUpdate, scopePath,
		http.StatusUnprocessableEntity), h.updateTenant)

	// Source-IP allowlists.
	huma.Register(api, op("get-allowlist", http.MethodGet, "/v1/tenants/{tenant}/allowlist", "Get the allowlists",
		"The networks the tenant's heartbeats (cidrs) and admin calls (admin_cidrs) must come from; empty accepts any address.",
		tagTenants, policy.TenantRead, scopePath), h.getAllowlists)
	huma.Register(api, op("put-allowlist", http.MethodPut, "/v1/tenants/{tenant}/allowlist", "Replace the allowlists",
		"Replaces both lists. Entries are validated and normalised (sorted, duplicates dropped, IPv4-mapped IPv6 folded); "+
			"an entry with host bits set (203.0.113.7/24) is refused with 400 naming it. At most 1000 entries each. "+
			"A heartbeat from outside the list answers 403 and is kept as a denied record.",
		tagTenants, policy.TenantUpdate, scopePath, http.StatusBadRequest, http.StatusUnprocessableEntity), h.putAllowlists)

	// Heartbeat tokens.
	huma.Register(api, created(op("create-token", http.MethodPost, "/v1/tenants/{tenant}/tokens", "Create a heartbeat token",
		"Creates a token for cron curl. The secret is in this answer only; the hub keeps just its hash. "+
			"Bind it to one proxy name with `proxy`.", tagTokens, policy.TokenCreate, scopePath,
		http.StatusUnprocessableEntity)), h.createToken)
	huma.Register(api, op("list-tokens", http.MethodGet, "/v1/tenants/{tenant}/tokens", "List heartbeat tokens",
		"The tenant's tokens without their secrets, revoked ones included.", tagTokens, policy.TokenList, scopePath), h.listTokens)
	huma.Register(api, op("revoke-token", http.MethodDelete, "/v1/tenants/{tenant}/tokens/{id}", "Revoke a heartbeat token",
		"Every heartbeat with it that reaches the database after the revocation is refused (401), on every hub; other hubs stop accepting it for reads within moments (their caches are told).", tagTokens, policy.TokenRevoke, scopePath), h.revokeToken)

	// Admin API credentials.
	huma.Register(api, created(op("create-credential", http.MethodPost, "/v1/tenants/{tenant}/credentials", "Create an admin API credential",
		"Creates a client_id and client_secret for the OAuth2 client credentials exchange at /v1/auth/token. "+
			"The secret is in this answer only. Nobody can grant a role above their own.",
		tagCredentials, policy.CredentialCreate, scopePath, http.StatusUnprocessableEntity)), h.createCredential)
	huma.Register(api, op("list-credentials", http.MethodGet, "/v1/tenants/{tenant}/credentials", "List admin API credentials",
		"The tenant's credentials without their secrets.", tagCredentials, policy.CredentialList, scopePath), h.listCredentials)
	huma.Register(api, op("revoke-credential", http.MethodDelete, "/v1/tenants/{tenant}/credentials/{id}", "Revoke an admin API credential",
		"The credential and every access token obtained with it stop working at once.",
		tagCredentials, policy.CredentialRevoke, scopePath), h.revokeCredential)

	// Proxies.
	huma.Register(api, op("list-proxies", http.MethodGet, "/v1/tenants/{tenant}/proxies", "List proxies",
		"A page of the tenant's proxies sorted by name, with status and name-prefix filters.",
		tagProxies, policy.ProxyList, scopePath, http.StatusUnprocessableEntity), h.listProxies)
	huma.Register(api, op("get-proxy", http.MethodGet, "/v1/tenants/{tenant}/proxies/{name}", "Get a proxy",
		"One proxy with its liveness.", tagProxies, policy.ProxyRead, scopePath), h.getProxy)
	huma.Register(api, op("delete-proxy", http.MethodDelete, "/v1/tenants/{tenant}/proxies/{name}", "Decommission a proxy",
		"Removes the proxy; its IP-change history is kept. A later heartbeat registers it anew.",
		tagProxies, policy.ProxyDelete, scopePath), h.deleteProxy)

	huma.Register(api, op("update-proxy", http.MethodPatch, "/v1/tenants/{tenant}/proxies/{name}", "Pause, resume or set a proxy's timeout",
		"paused=true puts a proxy in maintenance (no flips, no alerts) until paused=false; offline_after overrides the "+
			"tenant's timeout for this proxy (0 clears it).", tagProxies, policy.ProxyUpdate, scopePath, http.StatusUnprocessableEntity), h.updateProxy)

	// Audit trail and events.
	h.registerAudit(api)
	huma.Register(api, op("list-events", http.MethodGet, "/v1/tenants/{tenant}/events", "List events",
		"The tenant's event stream (registered, ip_changed, offline, online, denied), newest first, with keyset pagination.",
		[]string{"events"}, policy.AuditRead, scopePath, http.StatusUnprocessableEntity), h.listEvents)
	h.registerEventStream(api)

	// Notifications.
	h.registerWebhooks(api)
}

// created makes an operation answer 201 Created.
func created(o huma.Operation) huma.Operation {
	o.DefaultStatus = http.StatusCreated
	return o
}
