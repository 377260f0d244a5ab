// Package httpapi is proxyhub's HTTP surface: the Huma API (every operation
// and its OpenAPI description), the middleware pipeline in front of it, and
// the one place where domain errors become RFC 9457 problems.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/eventbus"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/metrics"
	"github.com/proxyhub/proxyhub/internal/policy"
	"github.com/proxyhub/proxyhub/internal/ui"
)

// Version is the API version shown in the OpenAPI document.
const Version = "0.1.0"

// projectURL is where the project's code and README live.
const projectURL = "https://github.com/proxyhub/proxyhub"

// Deps are the collaborators the HTTP surface needs.
type Deps struct {
	// Hub is the domain: every handler calls it and nothing else.
	Hub      *hub.Service
	Auth     *auth.Authenticator
	Authz    policy.Authorizer
	ClientIP *clientip.Resolver
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	Limits   Limits
	// Bus wakes live event streams.
	Bus *eventbus.Bus
	// Lifetime ends when the hub begins to shut down: live streams close
	// then, so draining in-flight requests does not wait for them.
	Lifetime context.Context
	// StoreTimeout bounds how long a request waits for the store (streams
	// excepted); when it passes, the answer is 503 with Retry-After.
	// Zero: no bound of its own.
	StoreTimeout time.Duration
	// Clock is the hub's clock, the one JWTs are checked by; nil is
	// time.Now.
	Clock func() time.Time
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// MetricsElsewhere leaves /metrics out of this handler (it has a
	// listener of its own).
	MetricsElsewhere bool
}

// New returns the whole HTTP handler: middleware, API operations, OpenAPI
// document and docs, health checks and metrics.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.ClientIP == nil {
		d.ClientIP = clientip.NewResolver(nil)
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	if d.Authz == nil {
		d.Authz = denyAll{}
	}
	if d.Bus == nil {
		d.Bus = &eventbus.Bus{}
	}
	if d.Lifetime == nil {
		d.Lifetime = context.Background()
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	mux := http.NewServeMux()
	h := &handlers{Deps: d}
	newAPI(mux, h)
	mux.HandleFunc("GET "+badgePath+"{file}", h.serveBadge)
	if !d.MetricsElsewhere {
		mux.Handle("GET /metrics", d.Metrics.ProtectedHandler(d.MetricsToken))
	}
	docs := docsHandler()
	mux.Handle("GET "+docsPath, docs)
	mux.Handle("GET "+docsPath+"/", docs)
	mux.Handle("GET "+ui.Path, ui.Handler())
	mux.Handle("GET /ui", http.RedirectHandler(ui.Path, http.StatusMovedPermanently))

	return &pipeline{log: d.Logger, metrics: d.Metrics, clientIP: d.ClientIP, next: mux}
}

// denyAll refuses everything: the Authorizer when none was given.
type denyAll struct{}

func (denyAll) Authorize(context.Context, auth.Principal, policy.Action, policy.Resource) error {
	return policy.ErrForbidden
}

// OpenAPI returns the API description generated from the operations, as
// served at /openapi.yaml and printed by `proxyhub openapi`.
func OpenAPI() *huma.OpenAPI {
	return newAPI(http.NewServeMux(), &handlers{}).OpenAPI()
}

func init() {
	// Lists are always arrays in answers ([] when empty, never null), so the
	// document does not declare them nullable: generated clients get plain
	// slices and arrays.
	huma.DefaultArrayNullable = false
}

// newAPI declares the Huma API with its operations on mux.
func newAPI(mux *http.ServeMux, h *handlers) huma.API {
	config := huma.DefaultConfig("proxyhub", Version)
	// No $schema fields or Link headers in bodies: the heartbeat answer is a
	// wire contract with the seed's cron clients.
	config.CreateHooks = nil
	// The docs page is served from assets inside the binary (docsHandler),
	// not Huma's, which loads its scripts from a CDN.
	config.DocsPath = ""
	config.Transformers = append(config.Transformers, func(ctx huma.Context, _ string, v any) (any, error) {
		return withInstance(ctx.Context(), v), nil
	})
	config.Info.Description = "proxyhub watches the external IP addresses of proxy fleets. " +
		"Every proxy calls GET /proxy_server each minute; the hub records where the call came from, " +
		"notices IP changes, keeps every change as an audit record, and reports proxies offline " +
		"when their heartbeats stop."
	config.Info.License = &huma.License{Name: "Apache-2.0", Identifier: "Apache-2.0"}
	config.Info.Contact = &huma.Contact{Name: "proxyhub maintainers", URL: projectURL}
	config.ExternalDocs = &huma.ExternalDocs{Description: "README: running the hub, the cron line, the admin CLI and SDKs", URL: projectURL + "#readme"}
	config.Servers = []*huma.Server{{
		URL:         "{hub}",
		Description: "Your hub: where `proxyhub serve` listens, or the load balancer in front of several hubs.",
		Variables:   map[string]*huma.ServerVariable{"hub": {Default: "http://localhost:3001", Description: "The hub's base URL."}},
	}}
	config.Tags = documentedTags
	adapter := &routeAdapter{Adapter: humago.NewAdapter(mux, ""), mux: mux, h: h}
	api := huma.NewAPI(config, adapter)
	adapter.api = api
	declareSecuritySchemes(api.OpenAPI())
	api.UseMiddleware(operationName, h.storeDeadline, h.secure(api))
	addRoutes(api, h)
	documentRateLimits(api.OpenAPI())
	return api
}

// docsPath is where the interactive API reference is served.
const docsPath = "/docs"

// docsHandler serves Swagger UI for the document at /openapi.json, from
// assets embedded in the binary: the page works on a hub that cannot reach
// the internet, and loads nothing from elsewhere.
func docsHandler() http.Handler {
	return v5emb.NewWithConfig(swgui.Config{
		Title:       "proxyhub API",
		SwaggerJSON: "/openapi.json",
		BasePath:    docsPath + "/",
		ShowTopBar:  false,
	})("proxyhub API", "/openapi.json", docsPath+"/")
}
