package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

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
	"github.com/proxyhub/proxyhub/internal/store/memory"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
	"github.com/proxyhub/proxyhub/internal/tenancy"
)

// serve runs the hub until ctx is cancelled (SIGINT/SIGTERM), then drains
// in-flight requests and closes the store.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.LoadServe(args, getenv, stderr)
	if err != nil {
		return usageError(err)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	log, err := logging.New(stdout, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return usageError(err)
	}
	key, throwaway, err := signingKey(cfg)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	verifier, err := auth.NewVerifier(ctx, auth.VerifierConfig{
		LocalKey: key.Public().(ed25519.PublicKey), LocalIssuer: auth.LocalIssuer, Audience: auth.LocalAudience,
		JWKSURL: cfg.JWKSURL, ExternalIssuer: cfg.JWTIssuer, ExternalAudience: cfg.JWTAudience,
	})
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("admin JWT settings: %v", err)}
	}
	signer := auth.NewSigner(key, auth.LocalIssuer, auth.LocalAudience, time.Now)

	limits, err := newLimits(cfg)
	if err != nil {
		return err
	}
	defer closeLimits(limits)

	engine, err := policy.New(ctx, policy.Options{Dir: cfg.PolicyDir, Logger: log})
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("invalid setting --policy-dir (PROXYHUB_POLICY_DIR): %v", err)}
	}
	if err := engine.Sync(ctx, st, policyResync); err != nil {
		return fmt.Errorf("load tenant data into the policy engine: %w", err)
	}
	tenants := tenancy.New(st, signer, time.Now)
	tenants.SetDefaultOfflineAfter(cfg.OfflineAfter)

	m := metrics.New()
	bus := &eventbus.Bus{}
	dispatcher := notify.NewDispatcher(st, notify.Config{
		AllowPrivate: cfg.WebhookPrivate, Logger: log,
		SMTP: notify.SMTPConfig{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword},
	})
	hubSvc := hub.New(hub.Options{Store: st, OfflineAfter: cfg.OfflineAfter, Logger: log, Observer: m, Sources: engine,
		LogEachHeartbeat: cfg.LogFormat == logging.FormatText})
	tenants.OnChange(func(ctx context.Context, t hub.Tenant) error {
		hubSvc.ForgetTenant(t.ID)
		return engine.SetTenant(ctx, t)
	})
	handler := httpapi.New(httpapi.Deps{
		Lifetime: ctx,
		Bus:      bus,
		Tester:   dispatcher,
		Limits:   limits,
		Hub:      hubSvc,
		Tenancy:  tenants,
		Auth:     auth.NewAuthenticator(st, verifier, time.Now),
		Authz:    engine,
		Store:    st,
		ClientIP: clientip.NewResolver(cfg.TrustedProxies),
		Metrics:  m,
		Logger:   log,
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := newHTTPServer(handler, log)
	if throwaway {
		if err := printBootstrap(stderr, signer, ln.Addr()); err != nil {
			return err
		}
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.Duration("offline_after", cfg.OfflineAfter),
		slog.Duration("history_retention", cfg.HistoryRetention),
		slog.Int("trusted_proxies", len(cfg.TrustedProxies)), slog.String("signing_key_id", auth.KeyID(key.Public().(ed25519.PublicKey))))

	var pruner *hub.HistoryPruner
	if cfg.HistoryRetention > 0 {
		pruner = hub.NewHistoryPruner(st, cfg.HistoryRetention, time.Now, log)
	}
	bg := startBackground(ctx, log, hub.NewSweeper(st, time.Now, log, m), bus, st, dispatcher, pruner)
	defer bg.stop()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openStore returns the embedded store, or the PostgreSQL store when a
// database URL is configured. A database that cannot be reached ends
// start-up with a message naming the server (never the password).
func openStore(ctx context.Context, cfg config.Serve, log *slog.Logger) (hub.Store, error) {
	if cfg.DatabaseURL == "" {
		log.Warn("using the embedded in-memory store: data is not kept across restarts (set PROXYHUB_DATABASE_URL for PostgreSQL)")
		return memory.New(), nil
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := postgres.Open(octx, cfg.DatabaseURL, postgres.Options{AutoMigrate: cfg.AutoMigrate, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open the database: %w", err)
	}
	return st, nil
}

// signingKey loads the configured key, or, on the embedded store only,
// makes a throwaway one (throwaway is then true).
func signingKey(cfg config.Serve) (key ed25519.PrivateKey, throwaway bool, err error) {
	if cfg.SigningKeyFile != "" {
		key, err := auth.LoadKeyFile(cfg.SigningKeyFile)
		if err != nil {
			return nil, false, &exitError{code: 2, msg: fmt.Sprintf("invalid setting --signing-key-file (PROXYHUB_SIGNING_KEY_FILE): %v", err)}
		}
		return key, false, nil
	}
	if cfg.DatabaseURL != "" {
		return nil, false, &exitError{code: 2, msg: "invalid setting --signing-key-file (PROXYHUB_SIGNING_KEY_FILE): required with PostgreSQL; create one with `proxyhub keygen --out FILE`"}
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	return key, true, err
}

// policyResync is how often the policy engine reloads tenant data, so
// changes made through other hubs on the same database arrive.
const policyResync = 15 * time.Second

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
	l.AuthFailures, err = ratelimit.New("auth-failures", cfg.RateAuthFailure)
	return l, err
}

func closeLimits(l httpapi.Limits) {
	for _, x := range []*ratelimit.Limiter{l.Heartbeat, l.Admin, l.AuthFailures} {
		if x != nil {
			_ = x.Close(context.Background())
		}
	}
}

// newHTTPServer sets every timeout, so a slow or silent client cannot hold
// a connection or a goroutine forever.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
