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

	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/logging"
)

// serve runs the hub until ctx is cancelled (SIGINT/SIGTERM), then drains
// in-flight requests, stops the background loops and closes the store.
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
	hub, err := app.New(ctx, app.Options{Config: cfg, Logger: log})
	if err != nil {
		return settingError(err)
	}
	defer hub.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := newHTTPServer(hub.Handler(), log)
	if err := printDataDir(stderr, hub); err != nil {
		return err
	}
	if hub.ThrowawayKey || hub.OwnKeyFile != "" {
		if err := printBootstrap(stderr, hub, ln.Addr()); err != nil {
			return err
		}
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("data_dir", dataDirAttr(hub)), slog.Int64("offline_after_ms", cfg.OfflineAfter.Milliseconds()),
		slog.Int64("history_retention_ms", cfg.HistoryRetention.Milliseconds()), slog.Int("trusted_proxies", len(cfg.TrustedProxies)),
		slog.String("signing_key_id", auth.KeyID(hub.Signer.PublicKey())))

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{})
	go func() { _ = hub.Run(bgCtx); close(bgDone) }()
	defer func() { stopBackground(); <-bgDone }()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Float64("timeout_ms", float64(cfg.ShutdownTimeout.Milliseconds())))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// settingError gives an invalid setting exit code 2; other start-up
// errors stay as they are (exit code 1).
func settingError(err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return &exitError{code: 2, msg: err.Error()}
	}
	return err
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
