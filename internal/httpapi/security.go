package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
	"github.com/proxyhub/proxyhub/internal/ratelimit"
)

// Security scheme names in the OpenAPI document.
const (
	schemeHeartbeat = "heartbeatToken"
	schemeAdminJWT  = "adminJWT"
	schemeOAuth2    = "oauth2"
)

// Operation metadata keys.
const (
	metaAction = "x-proxyhub-action" // the policy.Action the operation performs
	metaScope  = "x-proxyhub-scope"  // where the target tenant comes from
	metaStream = "x-proxyhub-stream" // the answer is a stream: no store timeout
)

// Where an operation's target tenant comes from.
const (
	scopePath      = "path"      // the {tenant} path parameter
	scopePrincipal = "principal" // the caller's own tenant (heartbeat, status)
	scopeHub       = "hub"       // no tenant: hub-wide collections
)

var (
	heartbeatSecurity = []map[string][]string{{schemeHeartbeat: {}}}
	adminSecurity     = []map[string][]string{{schemeAdminJWT: {}}, {schemeOAuth2: {}}}
	statusSecurity    = []map[string][]string{{schemeHeartbeat: {}}, {schemeAdminJWT: {}}, {schemeOAuth2: {}}}
)

// declareSecuritySchemes adds the schemes the operations refer to.
func declareSecuritySchemes(oapi *huma.OpenAPI) {
	if oapi.Components.SecuritySchemes == nil {
		oapi.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	oapi.Components.SecuritySchemes[schemeHeartbeat] = &huma.SecurityScheme{
		Type: "http", Scheme: "bearer", BearerFormat: "phb_ token",
		Description: "A heartbeat token (phb_…) created by a tenant admin; what cron curl sends.",
	}
	oapi.Components.SecuritySchemes[schemeAdminJWT] = &huma.SecurityScheme{
		Type: "http", Scheme: "bearer", BearerFormat: "JWT",
		Description: "An admin JWT: minted by `proxyhub jwt`, obtained at /v1/auth/token, or from the configured identity provider.",
	}
	oapi.Components.SecuritySchemes[schemeOAuth2] = &huma.SecurityScheme{
		Type:        "oauth2",
		Description: "OAuth2 client credentials: exchange an admin credential's client_id and client_secret for a 15-minute JWT.",
		Flows: &huma.OAuthFlows{ClientCredentials: &huma.OAuthFlow{
			TokenURL: "/v1/auth/token", Scopes: map[string]string{},
		}},
	}
}

// The answer to every failed authentication.
const (
	unauthenticatedDetail = "missing or invalid credentials"
	wwwAuthenticate       = `Bearer realm="proxyhub", error="invalid_token"`
)

// secure is the Huma middleware that authenticates and authorizes every
// operation that declares security: the one gate in front of the handlers.
// Operations without security (health, docs, the token exchange) pass.
// Failed authentication answers 401 without saying which check failed; a
// tenant the caller may not see answers 404; a forbidden action 403.
func (h *handlers) secure(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		if len(op.Security) == 0 {
			next(ctx)
			return
		}
		action, _ := op.Metadata[metaAction].(policy.Action)
		scope, _ := op.Metadata[metaScope].(string)
		source := sourceKey(ctx.Context())
		// An address whose failed authentications are used up is refused
		// before its credentials are even looked at: guessing stalls.
		if !h.allow(api, ctx, h.Limits.AuthFailures, source, false) {
			return
		}
		p, err := h.Auth.Authenticate(ctx.Context(), ctx.Header("Authorization"))
		if err != nil {
			if errors.Is(err, hub.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || ctx.Context().Err() != nil {
				writeHumaErr(api, ctx, h.problem(ctx.Context(), err))
				return
			}
			h.Logger.LogAttrs(ctx.Context(), slog.LevelInfo, "authentication failed",
				slog.String("reason", err.Error()), slog.String("source", source), slog.String("request_id", requestIDFrom(ctx.Context())))
			h.allow(api, ctx, h.Limits.AuthFailures, source, true) // count the failure; the answer is 401 either way
			ctx.SetHeader("WWW-Authenticate", wwwAuthenticate)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, unauthenticatedDetail)
			return
		}
		if ri := infoFrom(ctx.Context()); ri != nil {
			ri.principal = p.LogID()
		}
		// Heartbeats are limited per token and proxy name (enough for cron
		// and curl's retries); everything else per principal.
		limiter, key := h.Limits.Admin, p.LogID()
		if action == policy.HeartbeatSend {
			limiter, key = h.Limits.Heartbeat, p.ID+"/"+ctx.Query("name")
		}
		if !h.allow(api, ctx, limiter, key, true) {
			return
		}
		res := policy.Resource{}
		switch scope {
		case scopePath:
			res.TenantID = ctx.Param("tenant")
		case scopePrincipal:
			res.TenantID = p.TenantID
		}
		if action == policy.HeartbeatSend {
			res.Proxy = ctx.Query("name")
		}
		if err := h.Authz.Authorize(ctx.Context(), p, action, res); err != nil {
			writeHumaErr(api, ctx, h.problem(ctx.Context(), err))
			return
		}
		next(huma.WithContext(ctx, auth.WithPrincipal(ctx.Context(), p)))
	}
}

// sourceKey is the rate-limit key of the caller's address: the resolved
// client IP, or the socket peer when resolution failed. Never a raw header.
func sourceKey(ctx context.Context) string {
	ip, _ := clientip.FromContext(ctx)
	if ip.Client.IsValid() {
		return "ip:" + ip.Client.String()
	}
	return "peer:" + ip.Peer.String()
}

// allow takes (or, when take is false, only checks) one event of key
// from l, writes the RateLimit header fields, and answers 429 when the
// limit is used up. A nil limiter allows everything. A limiter failure is
// logged and lets the request through: limits protect the hub, they do not
// decide who may use it.
func (h *handlers) allow(api huma.API, ctx huma.Context, l *ratelimit.Limiter, key string, take bool) bool {
	if l == nil {
		return true
	}
	var r ratelimit.Result
	var err error
	if take {
		r, err = l.Take(ctx.Context(), key)
	} else {
		r, err = l.Peek(ctx.Context(), key)
	}
	if err != nil {
		h.Logger.WarnContext(ctx.Context(), "rate limiter failed", slog.String("limit", l.Name()), slog.String("error", err.Error()))
		return true
	}
	if r.Allowed && !take {
		return true // a passing check adds no header: the response reports the limit it takes from
	}
	_, w := humago.Unwrap(ctx)
	l.SetHeaders(w.Header(), r, time.Now())
	if r.Allowed {
		return true
	}
	_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests, "rate limit exceeded ("+l.Name()+"); retry after the number of seconds in Retry-After")
	return false
}

// Limits are the rate limits the security middleware applies; a nil
// limiter does not limit.
type Limits struct {
	Heartbeat    *ratelimit.Limiter // per heartbeat token and proxy name
	Admin        *ratelimit.Limiter // per principal, every other operation
	AuthFailures *ratelimit.Limiter // failed authentications per client IP
}

// documentRateLimits adds the rate-limit header fields to the success and
// 429 responses of every secured operation in the OpenAPI document. (Other
// error answers carry them too; a client reads them where it acts on them.)
func documentRateLimits(oapi *huma.OpenAPI) {
	str := &huma.Schema{Type: huma.TypeString}
	policy := &huma.Param{Description: "The limit that applies (draft-ietf-httpapi-ratelimit-headers), e.g. \"heartbeat\";q=6;w=60.", Schema: str}
	state := &huma.Param{Description: "What is left of it: remaining requests r and seconds t until it resets, e.g. \"heartbeat\";r=5;t=42.", Schema: str}
	retry := &huma.Param{Description: "Seconds to wait before retrying.", Schema: &huma.Schema{Type: huma.TypeInteger}}
	for _, item := range oapi.Paths {
		for _, o := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if o == nil || len(o.Security) == 0 {
				continue
			}
			for code, res := range o.Responses {
				if res.Headers == nil && (code[0] == '2' || code == "429" || code == "503") {
					res.Headers = map[string]*huma.Param{}
				}
				if code[0] == '2' || code == "429" {
					res.Headers[ratelimit.HeaderPolicy] = policy
					res.Headers[ratelimit.HeaderRateLimit] = state
				}
				if code == "429" || code == "503" {
					res.Headers[ratelimit.HeaderRetryAfter] = retry
				}
			}
		}
	}
}

// writeHumaErr writes an error made by problem (with its headers) from a
// middleware, where Huma's handler-return path is not available.
func writeHumaErr(api huma.API, ctx huma.Context, err error) {
	var he huma.HeadersError
	if errors.As(err, &he) {
		for k, vs := range he.GetHeaders() {
			for _, v := range vs {
				ctx.AppendHeader(k, v)
			}
		}
	}
	var se huma.StatusError
	if !errors.As(err, &se) {
		se = huma.Error500InternalServerError("internal error")
	}
	withInstance(ctx.Context(), se)
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(se.GetStatus())
	_ = api.Marshal(ctx.BodyWriter(), "application/problem+json", se)
}

// storeDeadline bounds every operation but streams by the store timeout:
// a store that does not answer in time ends in 503 with Retry-After, long
// before the server's write timeout and the clients' own.
func (h *handlers) storeDeadline(ctx huma.Context, next func(huma.Context)) {
	if stream, _ := ctx.Operation().Metadata[metaStream].(bool); stream || h.StoreTimeout <= 0 {
		next(ctx)
		return
	}
	c, cancel := context.WithTimeout(ctx.Context(), h.StoreTimeout)
	defer cancel()
	next(huma.WithContext(ctx, c))
}
