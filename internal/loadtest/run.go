package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Run sets up the tenant and tokens, loads the hub, verifies the IP-change
// history and, with Baseline, loads a bare net/http handler the same way.
// An error means the run could not be made (bad settings, hub unreachable,
// JWT refused); a made run's failures are in the summary (Passed false).
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base, err := trimURL(cfg.Hub)
	if err != nil {
		return nil, err
	}
	if cfg.Tokens <= 0 {
		cfg.Tokens = max(1, cfg.Proxies/1000)
	}
	cfg.Tokens = min(cfg.Tokens, cfg.Proxies) // a token without a proxy would sit unused
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "loadtest: "+format+"\n", args...)
		}
	}

	if err := checkReachable(ctx, base); err != nil {
		return nil, err
	}
	var adm *admin
	if cfg.JWT != "" {
		adm = newAdmin(base, cfg.JWT, cfg.Log)
	}
	var tokens []string
	haveFile := false
	if cfg.TokensFile != "" {
		if tokens, haveFile, err = readTokens(cfg.TokensFile); err != nil {
			return nil, err
		}
	}
	switch {
	case adm == nil && !haveFile:
		return nil, errors.New("an admin JWT is needed to create heartbeat tokens: set PROXYHUB_LOADTEST_JWT (or --jwt), or give an existing --tokens-file")
	case adm == nil && cfg.Verify:
		return nil, errors.New("an admin JWT is needed to read the IP-change history: set PROXYHUB_LOADTEST_JWT (or --jwt), or pass --no-verify")
	}
	if adm != nil {
		if err := adm.ensureTenant(ctx, cfg.Tenant, cfg.Proxies); err != nil {
			return nil, err
		}
	}
	if haveFile {
		logf("using %d heartbeat token(s) from %s", len(tokens), cfg.TokensFile)
		cfg.Tokens = len(tokens)
	} else {
		if tokens, err = adm.createTokens(ctx, cfg.Tenant, cfg.Tokens); err != nil {
			return nil, err
		}
		if cfg.TokensFile != "" {
			if err := writeTokens(cfg.TokensFile, base, cfg.Tenant, tokens); err != nil {
				return nil, fmt.Errorf("save the tokens: %w", err)
			}
			logf("saved the tokens to %s (mode 0600)", cfg.TokensFile)
		}
	}

	sum := &Summary{
		Mode: cfg.Mode, Tenant: cfg.Tenant, Proxies: cfg.Proxies, Tokens: cfg.Tokens, Concurrency: cfg.workers(),
		ChangeFraction: cfg.ChangeFraction, XFF: cfg.XFF,
	}
	if cfg.Mode == Cron {
		sum.PeriodS = cfg.cronPeriod().Seconds()
	}
	prog := newProgress(cfg.Progress)
	hub := target{name: "hub", url: base, check: true}
	logf("%s: %d proxies against %s", cfg.Mode, cfg.Proxies, base)
	start := time.Now()
	res := runLoad(ctx, &cfg, hub, tokens, seed, prog)
	sum.Result = result(hub, res.main, cfg.targetRate())
	if res.warmup != nil {
		w := result(hub, res.warmup, 0)
		sum.Warmup = &w
	}
	sum.IPChanges = res.main.changes.Load()
	if res.warmup != nil {
		sum.IPChanges += res.warmup.changes.Load()
	}
	if res.aborted != nil {
		sum.Aborted = res.aborted.Error()
		if errors.Is(res.aborted, context.Canceled) {
			sum.Aborted = "interrupted"
		}
	}

	if cfg.Verify && sum.Aborted == "" {
		v := verify(ctx, adm, cfg, start, res)
		sum.Verify = &v
	}

	if cfg.Baseline && sum.Aborted == "" {
		url, stop, err := startBaseline(baselineBody(cfg.Proxies))
		if err != nil {
			return nil, fmt.Errorf("start the baseline handler: %w", err)
		}
		logf("baseline: the same %s load against a bare net/http handler at %s", cfg.Mode, url)
		bt := target{name: "baseline", url: url}
		bres := runLoad(ctx, &cfg, bt, tokens, seed, prog)
		stop()
		b := result(bt, bres.main, cfg.targetRate())
		if bres.warmup != nil {
			w := result(bt, bres.warmup, 0)
			b.Warmup = &w
		}
		sum.Baseline = &b
		sum.Ratio = ratios(sum.Result, b)
		if bres.aborted != nil {
			sum.Aborted = "baseline: " + bres.aborted.Error()
		}
	}
	sum.Passed = sum.pass()
	return sum, nil
}

// verify reads the tenant's IP-change history since a second before the run
// started (clock skew) and checks it against the acknowledged changes.
func verify(ctx context.Context, adm *admin, cfg Config, start time.Time, res loadResult) Verification {
	vr := Verifier{
		Ours: func(p string) bool {
			i, ok := proxyIndex(p)
			return ok && i < cfg.Proxies
		},
		Start:            start,
		AnswerMismatches: res.mismatches,
		AnswerDetails:    res.mismatchLog,
	}
	body, err := adm.ipChanges(ctx, cfg.Tenant, start.Add(-time.Second))
	if err != nil {
		v := vr.Verify(res.acks, eofReader{})
		v.OK = false
		v.Error = "reading the IP-change history: " + err.Error()
		return v
	}
	defer body.Close()
	return vr.Verify(res.acks, body)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
