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
	"github.com/proxyhub/proxyhub/internal/httpapi"
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
	// The deadline of the whole shutdown, set when it begins; until then
	// a Close on an early return is unbounded.
	var shutdownDeadline time.Time
	defer func() {
		cctx, cancel := context.WithDeadline(context.Background(), shutdownDeadline)
		if shutdownDeadline.IsZero() {
			cctx, cancel = context.WithCancel(context.Background())
		}
		defer cancel()
		if err := hub.Shutdown(cctx); err != nil {
			log.Warn("the store did not close in time; exiting anyway (what was committed stays committed)", slog.String("error", err.Error()))
		}
	}()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ln = httpapi.ProblemListener(ln)
	srv := newHTTPServer(hub.Handler(), log, cfg.StoreTimeout)
	// Requests run under a context of their own, which the shutdown
	// cancels (with httpapi.ErrShuttingDown: answered 503) when its
	// timeout ends with requests still running.
	reqCtx, cancelRequests := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRequests(nil)
	srv.BaseContext = func(net.Listener) context.Context { return reqCtx }
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
	defer func() {
		stopBackground()
		if shutdownDeadline.IsZero() {
			<-bgDone
			return
		}
		select {
		case <-bgDone:
		case <-time.After(time.Until(shutdownDeadline.Add(shutdownMargin))):
			log.Warn("background loops did not stop in time")
		}
	}()

	errc := make(chan error, 2)
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("listen on %s (metrics): %w", cfg.MetricsAddr, err)
		}
		msrv := &http.Server{Handler: hub.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		defer msrv.Close()
		log.Info("metrics listening", slog.String("addr", mln.Addr().String()), slog.Bool("token", cfg.MetricsToken != ""))
		go func() {
			if err := msrv.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
	}
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Float64("timeout_ms", float64(cfg.ShutdownTimeout.Milliseconds())))
	shutdownDeadline = time.Now().Add(cfg.ShutdownTimeout)
	drain(srv, shutdownDeadline, cancelRequests, log)
	log.Info("stopped")
	return nil
}

// shutdownMargin is how long past the shutdown timeout the hub may take
// to answer the requests it cancelled, stop its loops and close the
// store: the process exits within the timeout plus this margin.
const shutdownMargin = time.Second

// drain stops accepting connections and waits for in-flight requests
// until deadline. Requests still running then are cancelled (the store
// work they wait for included) and answered 503; they get a part of the
// margin to write that answer, then every connection is closed.
func drain(srv *http.Server, deadline time.Time, cancelRequests context.CancelCauseFunc, log *slog.Logger) {
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if srv.Shutdown(sctx) == nil {
		return
	}
	log.Warn("shutdown timeout reached: cancelling the requests still running; they are answered 503")
	cancelRequests(httpapi.ErrShuttingDown)
	gctx, gcancel := context.WithTimeout(context.Background(), shutdownMargin/2)
	defer gcancel()
	if srv.Shutdown(gctx) != nil {
		_ = srv.Close()
	}
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
// a connection or a goroutine forever. The write timeout is longer than
// the store timeout by a wide margin, so that a request the store stalls
// is still answered (503) rather than cut off.
func newHTTPServer(h http.Handler, log *slog.Logger, storeTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      max(30*time.Second, storeTimeout+15*time.Second),
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
