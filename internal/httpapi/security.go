package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/authz"
	"github.com/proxyhub/proxyhub/internal/store"
)

// Security scheme names in the OpenAPI document.
const (
	schemeHeartbeat = "heartbeatToken"
	schemeAdminJWT  = "adminJWT"
	schemeOAuth2    = "oauth2"
)

// Operation metadata keys.
const (
	metaAction = "x-proxyhub-action" // the authz.Action the operation performs
	metaScope  = "x-proxyhub-scope"  // where the target tenant comes from
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
		action, _ := op.Metadata[metaAction].(authz.Action)
		scope, _ := op.Metadata[metaScope].(string)
		p, err := h.Auth.Authenticate(ctx.Context(), ctx.Header("Authorization"))
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				writeHumaErr(api, ctx, h.problem(ctx.Context(), err))
				return
			}
			h.Logger.LogAttrs(ctx.Context(), slog.LevelInfo, "authentication failed",
				slog.String("reason", err.Error()), slog.String("request_id", requestIDFrom(ctx.Context())))
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="proxyhub", error="invalid_token"`)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "missing or invalid credentials")
			return
		}
		if ri := infoFrom(ctx.Context()); ri != nil {
			ri.principal = p.LogID()
		}
		res := authz.Resource{}
		switch scope {
		case scopePath:
			res.TenantID = ctx.Param("tenant")
		case scopePrincipal:
			res.TenantID = p.TenantID
		}
		if action == authz.HeartbeatSend {
			res.Proxy = ctx.Query("name")
		}
		if err := h.Authz.Authorize(ctx.Context(), p, action, res); err != nil {
			writeHumaErr(api, ctx, h.problem(ctx.Context(), err))
			return
		}
		next(huma.WithContext(ctx, auth.WithPrincipal(ctx.Context(), p)))
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
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(se.GetStatus())
	_ = api.Marshal(ctx.BodyWriter(), "application/problem+json", se)
}
