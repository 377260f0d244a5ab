package main

import (
	"context"
	"encoding/json"
	"io"
	"os"

	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/loadtest"
)

// loadtestCmd simulates a fleet of proxies against a running hub and checks
// the IP-change history afterwards (internal/loadtest). Exit code 1 when a
// heartbeat failed or the verification did, 2 on bad usage.
func loadtestCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.LoadLoadtest(args, getenv, stderr)
	if err != nil {
		return usageError(err)
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
		return &exitError{code: 1, msg: "loadtest: " + err.Error()}
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
		return &exitError{code: 1, msg: "loadtest failed: " + sum.Failure()}
	}
	return nil
}
