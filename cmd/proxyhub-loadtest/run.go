package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/loadtest"
)

// exitError ends the process with a given code: 2 for bad usage or an
// invalid setting, 1 when the run could not be made or failed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run is the whole program: it parses the settings from args[1:] and
// getenv, loads the hub and prints the summary. It returns instead of
// exiting so tests can drive it. Exit code 1 when a heartbeat failed or the
// verification did, 2 on bad usage; --help returns nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	cfg, err := loadSettings(args, getenv, stderr)
	if errors.Is(err, config.ErrHelp) {
		return nil
	}
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	if cfg.ServeBaseline != "" {
		if err := loadtest.ServeBaseline(ctx, cfg.ServeBaseline, cfg.Proxies); err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		return nil
	}
	var progress io.Writer
	if f, ok := stderr.(*os.File); ok && loadtest.IsTerminal(f) {
		progress = stderr
	}
	sum, err := loadtest.Run(ctx, loadtest.Config{
		Hub: cfg.Hub, JWT: cfg.JWT, Tenant: cfg.Tenant, Proxies: cfg.Proxies, Tokens: cfg.Tokens, TokensFile: cfg.TokensFile,
		Mode: cfg.Mode, Rate: cfg.Rate, Duration: cfg.Duration, Period: cfg.Period, Compress: cfg.Compress, Rounds: cfg.Rounds,
		Concurrency: cfg.Concurrency, ChangeFraction: cfg.ChangeFraction, XFF: cfg.XFF, Verify: !cfg.NoVerify,
		Baseline: cfg.Baseline, Timeout: cfg.Timeout, Progress: progress, Log: stderr,
	})
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(sum)
	} else {
		err = sum.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if !sum.Passed {
		return &exitError{code: 1, msg: "failed: " + sum.Failure()}
	}
	return nil
}
