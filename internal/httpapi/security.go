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
	"github.com/proxyhub/proxyhub/internal/metrics"
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
// operation that declares security: gate, in front of the handlers, with
// the principal put in the context. Operations without security (health,
// docs, the token exchange) pass.
func (h *handlers) secure(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		if len(op.Security) == 0 {
			next(ctx)
			return
		}
		r, w := humago.Unwrap(ctx)
		g := gateRequest{op: op, authorization: r.Header.Get("Authorization"), answer: w.Header(), tenant: ctx.Param("tenant")}
		if action, _ := op.Metadata[metaAction].(policy.Action); action == policy.HeartbeatSend {
			g.proxy = ctx.Query("name")
		}
		p, err := h.gate(ctx.Context(), g)
		if err != nil {
			writeHumaErr(api, ctx, err)
			return
		}
		next(huma.WithContext(ctx, auth.WithPrincipal(ctx.Context(), p)))
	}
}

// gateRequest is what gate decides on.
type gateRequest struct {
	op            *huma.Operation
	authorization string      // the Authorization field
	answer        http.Header // the response's header: rate-limit fields, WWW-Authenticate
	tenant        string      // the {tenant} path parameter, if the operation has one
	proxy         string      // the heartbeat's proxy name
}

// gate is the one gate in front of every secured operation, whether Huma
// (secure) or the heartbeat route (heartbeatRoute) calls it:
// failed-authentication limit, authentication, rate limit, authorization.
// It returns the principal, or the problem to answer (written by
// writeHumaErr) with the header fields it needs already in g.answer.
// Failed authentication answers 401 without saying which check failed; a
// tenant the caller may not see answers 404; a forbidden action 403.
func (h *handlers) gate(ctx context.Context, g gateRequest) (auth.Principal, error) {
	action, _ := g.op.Metadata[metaAction].(policy.Action)
	scope, _ := g.op.Metadata[metaScope].(string)
	// An address whose failed authentications are used up is refused
	// before its credentials are even looked at: guessing stalls. (While
	// no address has used them up, there is nothing to look at.)
	if l := h.Limits.AuthFailures; l != nil && l.Exhausted() {
		if err := h.allow(ctx, g.answer, l, sourceKey(ctx), false); err != nil {
			return auth.Principal{}, err
		}
	}
	p, err := h.Auth.Authenticate(ctx, g.authorization)
	if err != nil {
		source := sourceKey(ctx)
		if errors.Is(err, hub.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return auth.Principal{}, h.problem(ctx, err)
		}
		h.Logger.LogAttrs(ctx, slog.LevelInfo, "authentication failed",
			slog.String("reason", err.Error()), slog.String("source", source), slog.String("request_id", requestIDFrom(ctx)))
		h.Metrics.AuthenticationFailed(metrics.AuthBearer)
		_ = h.allow(ctx, g.answer, h.Limits.AuthFailures, source, true) // count the failure; the answer is 401 either way
		g.answer.Set("WWW-Authenticate", wwwAuthenticate)
		return auth.Principal{}, huma.Error401Unauthorized(unauthenticatedDetail)
	}
	if ri := infoFrom(ctx); ri != nil {
		ri.principal = p
	}
	// Heartbeats are limited per token and proxy name (enough for cron
	// and curl's retries); everything else per principal.
	var limiter *ratelimit.Limiter
	var key string
	if action == policy.HeartbeatSend {
		limiter, key = h.Limits.Heartbeat, p.ID+"/"+g.proxy
	} else {
		limiter, key = h.Limits.Admin, principalLimitKey(p)
	}
	if err := h.allow(ctx, g.answer, limiter, key, true); err != nil {
		return auth.Principal{}, err
	}
	if action == policy.HeartbeatSend {
		if err := h.allowToken(ctx, g.answer, p); err != nil {
			return auth.Principal{}, err
		}
	}
	res := policy.Resource{}
	switch scope {
	case scopePath:
		res.TenantID = g.tenant
	case scopePrincipal:
		res.TenantID = p.TenantID
	}
	if action == policy.HeartbeatSend {
		res.Proxy = g.proxy
	}
	if err := h.Authz.Authorize(ctx, p, action, res); err != nil {
		return auth.Principal{}, h.problem(ctx, err)
	}
	return p, nil
}

// principalLimitKey is the rate-limit key of a principal: a heartbeat
// token by its id (unique), an admin by tenant, role and subject, since a
// JWT subject is not unique across tenants (the CLI's default subject, an
// identity provider's user who administers several tenants).
func principalLimitKey(p auth.Principal) string {
	if p.Kind != auth.KindAdmin {
		return p.LogID()
	}
	return string(p.Kind) + ":" + p.TenantID + "/" + string(p.Role) + "/" + p.ID
}

// sourceKey is the rate-limit key of the caller's address: the resolved
// client IP, or the socket peer when resolution failed. Never a raw header.
func sourceKey(ctx context.Context) string {
	ip, _ := clientip.FromContext(ctx)
	var buf [64]byte
	b := buf[:0]
	if ip.Client.IsValid() {
		b = ip.Client.AppendTo(append(b, "ip:"...))
	} else {
		b = ip.Peer.AppendTo(append(b, "peer:"...))
	}
	return string(b)
}

// allow takes (or, when take is false, only checks) one event of key
// from l, writes the RateLimit header fields into answer, and returns the
// 429 problem when the limit is used up. A nil limiter allows everything.
// A limiter failure is logged and lets the request through: limits
// protect the hub, they do not decide who may use it.
func (h *handlers) allow(ctx context.Context, answer http.Header, l *ratelimit.Limiter, key string, take bool) error {
	if l == nil {
		return nil
	}
	var r ratelimit.Result
	var err error
	if take {
		r, err = l.Take(ctx, key)
	} else {
		r, err = l.Peek(ctx, key)
	}
	if err != nil {
		h.Logger.WarnContext(ctx, "rate limiter failed", slog.String("limit", l.Name()), slog.String("error", err.Error()))
		return nil
	}
	if r.Allowed && !take {
		return nil // a passing check adds no header: the response reports the limit it takes from
	}
	l.SetHeaders(answer, r, time.Now())
	if r.Allowed {
		return nil
	}
	return huma.Error429TooManyRequests("rate limit exceeded (" + l.Name() + "); retry after the number of seconds in Retry-After")
}

// allowToken takes one heartbeat from the token's budget across all its
// names (spreading heartbeats over many names does not multiply it) and
// answers 429 when it is used up. Like allow, it lets the request through
// when the budget cannot be read.
func (h *handlers) allowToken(ctx context.Context, answer http.Header, p auth.Principal) error {
	l := h.Limits.HeartbeatToken
	if l == nil {
		return nil
	}
	rate := h.Limits.TokenRate
	if rate == (ratelimit.Rate{}) {
		n, err := h.Hub.TokenHeartbeatsPerMinute(ctx, p.TenantID)
		if err != nil {
			return nil // the heartbeat meets the same error, answered as such
		}
		rate = ratelimit.PerMinute(uint64(n))
	}
	r, err := l.TakeRate(ctx, p.ID, rate)
	if err != nil {
		h.Logger.WarnContext(ctx, "rate limiter failed", slog.String("limit", l.Name()), slog.String("error", err.Error()))
		return nil
	}
	if r.Allowed {
		return nil // the answer reports the per-name limit; this one shows when it refuses
	}
	l.SetHeaders(answer, r, time.Now())
	return huma.Error429TooManyRequests("rate limit exceeded (" + l.Name() + ": this token's heartbeats across all its proxies); retry after the number of seconds in Retry-After")
}

// Limits are the rate limits the security middleware applies; a nil
// limiter does not limit.
type Limits struct {
	Heartbeat    *ratelimit.Limiter // per heartbeat token and proxy name
	Admin        *ratelimit.Limiter // per principal, every other operation
	AuthFailures *ratelimit.Limiter // failed authentications per client IP and per client id
	// HeartbeatToken limits a heartbeat token across all its names, at
	// TokenRate, or when that is zero at the rate of the token's tenant
	// (hub.TokenHeartbeatsPerMinute).
	HeartbeatToken *ratelimit.Limiter
	TokenRate      ratelimit.Rate
	// Shared, when not nil, shares every limit across hubs through Redis;
	// readyz reports whether it is in use.
	Shared *ratelimit.Shared
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
			if o == nil {
				continue
			}
			for code, res := range o.Responses {
				if len(o.Security) == 0 && code != "429" {
					continue // unsecured operations are limited only where they answer 429 (the token endpoint)
				}
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
