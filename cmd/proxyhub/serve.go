package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/httpapi"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/logging"
	"github.com/proxyhub/proxyhub/internal/metrics"
	"github.com/proxyhub/proxyhub/internal/store"
	"github.com/proxyhub/proxyhub/internal/store/memory"
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
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	m := metrics.New()
	handler := httpapi.New(httpapi.Deps{
		Hub:      hub.New(hub.Options{Store: st, OfflineAfter: cfg.OfflineAfter, Logger: log, Observer: m}),
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
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.Duration("offline_after", cfg.OfflineAfter),
		slog.Int("trusted_proxies", len(cfg.TrustedProxies)))

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
// database URL is configured.
func openStore(_ context.Context, cfg config.Serve, log *slog.Logger) (store.Store, error) {
	if cfg.DatabaseURL == "" {
		log.Warn("using the embedded in-memory store: data is not kept across restarts (set PROXYHUB_DATABASE_URL for PostgreSQL)")
		return memory.New(), nil
	}
	return nil, &exitError{code: 2, msg: "invalid setting --database-url (PROXYHUB_DATABASE_URL): the PostgreSQL store is not available in this build"}
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
