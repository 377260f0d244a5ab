// Package app is proxyhub's composition root: it builds every part of a
// hub once, from the settings, and wires them together. `proxyhub serve`,
// the end-to-end tests and the benchmarks all build their hub here, so
// what they exercise is the production wiring.
//
// The request path it assembles, outermost first: clientip (who is
// calling) → auth (who they are) → ratelimit → policy (may they) →
// httpapi handlers → hub (what the product decides) → a store (what is
// kept).
package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/eventbus"
	"github.com/proxyhub/proxyhub/internal/httpapi"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/logging"
	"github.com/proxyhub/proxyhub/internal/metrics"
	"github.com/proxyhub/proxyhub/internal/notify"
	"github.com/proxyhub/proxyhub/internal/policy"
	"github.com/proxyhub/proxyhub/internal/ratelimit"
	"github.com/proxyhub/proxyhub/internal/secretbox"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// PolicyResync is how often the policy engine reloads tenant data, so
// changes made through other hubs on the same database arrive.
const PolicyResync = 15 * time.Second

// Options are the settings plus what tests and benchmarks may put in
// place of the real thing. Only Config is required.
type Options struct {
	Config config.Serve
	// Logger receives the structured log; nil discards it.
	Logger *slog.Logger
	// Clock is every part's clock (hub, JWTs, webhooks); nil is time.Now.
	Clock func() time.Time
	// Store replaces the store the settings name (the caller closes it).
	Store hub.Store
	// SigningKey replaces the key the settings name.
	SigningKey ed25519.PrivateKey
}

// App is one hub: its parts, its HTTP handler and its background loops.
type App struct {
	// Hub is the domain service every handler calls.
	Hub *hub.Service
	// Store is what the hub keeps its records in.
	Store hub.Store
	// Signer mints admin JWTs with the hub's key.
	Signer *auth.Signer
	// ThrowawayKey is true when no key was configured and the hub made
	// one for this process (the in-memory store).
	ThrowawayKey bool
	// OwnKeyFile is the key the hub keeps in its data directory when no
	// key was configured (the embedded store); empty otherwise.
	OwnKeyFile string
	// DataDir is where the hub keeps its data: the data directory's
	// absolute path, config.MemoryDataDir for the in-memory store, or
	// empty with PostgreSQL (or a store given in Options).
	DataDir string
	// Dispatcher delivers webhooks (on the leading hub).
	Dispatcher *notify.Dispatcher
	// Bus wakes live event streams.
	Bus *eventbus.Bus
	// Metrics are served at /metrics.
	Metrics *metrics.Metrics

	cfg       config.Serve
	log       *slog.Logger
	clock     func() time.Time
	policy    *policy.Engine
	limits    httpapi.Limits
	redis     *redis.Client // the shared rate limits' client; nil without Redis
	handler   http.Handler
	ownsStore bool
}

// New builds a hub from opts. ctx bounds start-up (opening the database)
// and is the hub's lifetime: live event streams end when it ends. Errors
// about settings are *config.Error (exit code 2 for a command).
func New(ctx context.Context, opts Options) (*App, error) {
	cfg := opts.Config
	a := &App{cfg: cfg, log: opts.Logger, clock: opts.Clock, Store: opts.Store}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = time.Now
	}
	ok := false
	defer func() {
		if !ok {
			_ = a.Close()
		}
	}()

	key := opts.SigningKey
	if key == nil && (cfg.SigningKeyFile != "" || cfg.DatabaseURL != "") {
		var err error
		if key, err = configuredKey(cfg); err != nil {
			return nil, err
		}
	}
	if a.Store == nil {
		st, dir, err := openStore(ctx, cfg, a.log)
		if err != nil {
			return nil, err
		}
		a.Store, a.ownsStore, a.DataDir = st, true, dir
	}
	if key == nil {
		var err error
		if key, err = a.ownKey(); err != nil {
			return nil, err
		}
	}
	verifier, err := auth.NewVerifier(ctx, auth.VerifierConfig{
		LocalKey: key.Public().(ed25519.PublicKey), LocalIssuer: auth.LocalIssuer, Audience: auth.LocalAudience,
		JWKSURL: cfg.JWKSURL, ExternalIssuer: cfg.JWTIssuer, ExternalAudience: cfg.JWTAudience, Now: a.clock,
	})
	if err != nil {
		return nil, &config.Error{Setting: "jwks-url", Env: "PROXYHUB_JWKS_URL", Err: err}
	}
	a.Signer = auth.NewSigner(key, auth.LocalIssuer, auth.LocalAudience, a.clock)
	if a.limits, err = newLimits(cfg); err != nil {
		return nil, err
	}
	a.Metrics = metrics.New()
	a.Metrics.WatchFleet(a.Store, a.clock, a.log)
	if cfg.RedisURL != "" {
		if err := a.shareLimits(ctx, cfg.RedisURL); err != nil {
			return nil, err
		}
	}
	a.policy, err = policy.New(ctx, policy.Options{Dir: cfg.PolicyDir, Logger: a.log})
	if err != nil {
		return nil, &config.Error{Setting: "policy-dir", Env: "PROXYHUB_POLICY_DIR", Err: err}
	}
	if err := a.policy.Load(ctx, a.Store); err != nil {
		return nil, fmt.Errorf("load tenant data into the policy engine: %w", err)
	}
	a.Bus = &eventbus.Bus{}
	// Webhook signing secrets are sealed with a key derived from the
	// signing key, which every hub of one database shares.
	secrets, err := secretbox.FromSigningKey(key)
	if err != nil {
		return nil, err
	}
	a.Dispatcher = notify.NewDispatcher(a.Store, notify.Config{
		AllowPrivate: cfg.WebhookPrivate, Logger: a.log, Now: a.clock, Secrets: secrets,
		SMTP: notify.SMTPConfig{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword},
	})
	a.Hub = hub.New(hub.Options{
		Store: a.Store, Clock: a.clock, OfflineAfter: cfg.OfflineAfter, Logger: a.log, Observer: a.Metrics,
		Sources: a.policy, Signer: a.Signer, Notifier: a.Dispatcher, Secrets: secrets, OnTenantChange: a.policy.SetTenant,
		LogEachHeartbeat: cfg.LogFormat == logging.FormatText,
	})
	// Secrets stored in the clear by a hub that did not seal them are
	// sealed now; until then they still sign (and open as they are).
	if n, err := a.Hub.SealWebhookSecrets(ctx); err != nil {
		a.log.Warn("could not seal stored webhook secrets; retried at the next start", slog.String("error", err.Error()))
	} else if n > 0 {
		a.log.Info("sealed stored webhook secrets", slog.Int("webhooks", n))
	}
	a.handler = httpapi.New(httpapi.Deps{
		Hub:      a.Hub,
		Auth:     auth.NewAuthenticator(a.Hub, verifier),
		Authz:    a.policy,
		ClientIP: clientip.NewResolver(cfg.TrustedProxies),
		Limits:   a.limits,
		Metrics:  a.Metrics,
		Logger:   a.log,
		Bus:      a.Bus,
		Lifetime: ctx,
		Clock:    a.clock,
		// /metrics: on its own listener (MetricsHandler) when configured.
		MetricsToken: cfg.MetricsToken, MetricsElsewhere: cfg.MetricsAddr != "",
		// StoreTimeout bounds each request's wait for the store.
		StoreTimeout: cfg.StoreTimeout,
	})
	ok = true
	return a, nil
}

// reloadPolicyData loads every tenant into the policy engine again.
func (a *App) reloadPolicyData(ctx context.Context) error {
	ts, err := a.Store.ListTenants(ctx)
	if err != nil {
		return err
	}
	return a.policy.LoadTenants(ctx, ts)
}

// Handler returns the hub's whole HTTP surface.
func (a *App) Handler() http.Handler { return a.handler }

// MetricsHandler serves /metrics alone (behind the metrics token, if set),
// for the listener of PROXYHUB_METRICS_ADDR.
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.ProtectedHandler(a.cfg.MetricsToken))
	return mux
}

// Run runs the hub's background loops until ctx ends, then waits for them
// to stop: the sweeper (offline flips), the event bus (live streams), the
// webhook dispatcher, the policy data resync, the tenant changes made
// through other hubs (FollowTenants) and, when retention is set, the
// history pruner. Sweeper, dispatcher and pruner act only while this
// hub leads. A loop that fails is logged; the others go on.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loop := func(name string, fn func(context.Context) error) {
		wg.Go(func() {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("background loop stopped", slog.String("loop", name), slog.String("error", err.Error()))
			}
		})
	}
	loop("sweeper", hub.NewSweeper(a.Store, a.clock, a.log, a.Metrics).Run)
	loop("events", func(ctx context.Context) error { return a.Bus.Run(ctx, a.Store) })
	loop("webhooks", a.Dispatcher.Run)
	loop("policy", func(ctx context.Context) error { return a.policy.Resync(ctx, a.Store, PolicyResync) })
	loop("tenants", func(ctx context.Context) error { return a.Hub.FollowTenants(ctx, a.reloadPolicyData) })
	if a.cfg.HistoryRetention > 0 {
		loop("retention", hub.NewHistoryPruner(a.Store, a.cfg.HistoryRetention, a.clock, a.log).Run)
	}
	wg.Wait()
	return nil
}

// Close releases the limiters and, unless it was given one, the store
// (after its pending writes). Call it after Run has returned.
func (a *App) Close() error {
	return a.Shutdown(context.Background())
}

// Shutdown is Close bounded by ctx: when ctx ends before the store's
// pending writes finish, the store cancels them (their transactions roll
// back, their callers get hub.ErrUnavailable) and closes at once. What was
// committed stays committed.
func (a *App) Shutdown(ctx context.Context) error {
	for _, l := range []*ratelimit.Limiter{a.limits.Heartbeat, a.limits.Admin, a.limits.AuthFailures, a.limits.HeartbeatToken} {
		if l != nil {
			_ = l.Close(context.Background())
		}
	}
	if a.redis != nil {
		_ = a.redis.Close()
		a.redis = nil
	}
	if a.ownsStore && a.Store != nil {
		var err error
		if s, ok := a.Store.(interface{ Shutdown(context.Context) error }); ok {
			err = s.Shutdown(ctx)
		} else {
			err = a.Store.Close()
		}
		a.Store = nil
		return err
	}
	return nil
}

// openStore returns the PostgreSQL store when a database URL is
// configured, else the embedded store of the data directory (or the
// in-memory one), and where the data lives (see App.DataDir). A database
// that cannot be reached ends start-up with a message naming the server
// (never the password).
func openStore(ctx context.Context, cfg config.Serve, log *slog.Logger) (hub.Store, string, error) {
	if cfg.DatabaseURL == "" {
		return openEmbedded(ctx, cfg.DataDir, log)
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := postgres.Open(octx, cfg.DatabaseURL, postgres.Options{
		AutoMigrate:    cfg.AutoMigrate,
		AllowBypassRLS: cfg.AllowSuperuser,
		WarnOwner:      true,
		Logger:         log,
	})
	if err != nil {
		return nil, "", fmt.Errorf("open the database: %w", err)
	}
	return st, "", nil
}

// Redis timeouts of the shared rate limits: a Redis that hangs costs a
// request at most about redisTimeout once, then the limiters use their
// own buckets (ratelimit.SharedRetry) until it answers again.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisTimeout     = 250 * time.Millisecond
)

// shareLimits makes every rate limit share its buckets through the Redis
// server at url. An unreachable Redis does not stop start-up: the limits
// stay per hub until it answers.
func (a *App) shareLimits(ctx context.Context, url string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: name the setting, not the value.
		return &config.Error{Setting: "redis-url", Env: "PROXYHUB_REDIS_URL", Err: errors.New("not a redis:// or rediss:// URL")}
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = redisDialTimeout, redisTimeout, redisTimeout
	opts.MaxRetries = -1   // a failed take goes to the local bucket at once
	opts.DialerRetries = 1 // one dial per attempt, not five with backoff
	redis.SetLogger(redisLog{a.log})
	a.redis = redis.NewClient(opts)
	sh := ratelimit.NewShared(a.redis, a.log, a.Metrics.RateLimitsShared)
	a.limits.Shared = sh
	for _, l := range []*ratelimit.Limiter{a.limits.Heartbeat, a.limits.Admin, a.limits.AuthFailures, a.limits.HeartbeatToken} {
		if l != nil {
			l.Share(sh)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 2*redisTimeout)
	defer cancel()
	if err := a.redis.Ping(pctx).Err(); err != nil {
		a.log.Warn("rate limits: Redis does not answer at start-up; each hub limits on its own until it does", "redis", opts.Addr, "error", err.Error())
	} else {
		a.log.Info("rate limits shared through Redis", "redis", opts.Addr)
	}
	return nil
}

// redisLog sends go-redis's own messages (dial failures of its pool) to
// the hub's log at debug level: the limiters already log an outage once.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// configuredKey loads the configured key file; with PostgreSQL one is
// required.
func configuredKey(cfg config.Serve) (ed25519.PrivateKey, error) {
	if cfg.SigningKeyFile == "" {
		return nil, &config.Error{Setting: "signing-key-file", Env: "PROXYHUB_SIGNING_KEY_FILE",
			Err: errors.New("required with PostgreSQL; create one with `proxyhub keygen --out FILE`")}
	}
	key, err := auth.LoadKeyFile(cfg.SigningKeyFile)
	if err != nil {
		return nil, &config.Error{Setting: "signing-key-file", Env: "PROXYHUB_SIGNING_KEY_FILE", Err: err}
	}
	return key, nil
}

// ownKey is the key of a hub on the embedded store with none configured:
// the one it keeps in its data directory, or a throwaway one on the
// in-memory store (or a store given in Options).
func (a *App) ownKey() (ed25519.PrivateKey, error) {
	if a.DataDir != "" && a.DataDir != config.MemoryDataDir {
		key, path, err := dataDirKey(a.DataDir)
		a.OwnKeyFile = path
		return key, err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	a.ThrowawayKey = true
	return key, err
}

// newLimits builds the rate limiters from the settings.
func newLimits(cfg config.Serve) (httpapi.Limits, error) {
	var l httpapi.Limits
	var err error
	if l.Heartbeat, err = ratelimit.New("heartbeat", cfg.RateHeartbeat); err != nil {
		return l, err
	}
	if l.Admin, err = ratelimit.New("admin", cfg.RateAdmin); err != nil {
		return l, err
	}
	if l.AuthFailures, err = ratelimit.New("auth-failures", cfg.RateAuthFailure); err != nil {
		return l, err
	}
	if cfg.NoHeartbeatTokenLimit {
		return l, nil
	}
	l.TokenRate = cfg.RateHeartbeatToken
	base := cfg.RateHeartbeatToken
	if base == (ratelimit.Rate{}) {
		base = ratelimit.PerMinute(uint64(hub.TokenHeartbeatsPerMinute(hub.Tenant{})))
	}
	l.HeartbeatToken, err = ratelimit.New("heartbeat-token", base)
	return l, err
}
