package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/proxyhub/proxyhub/internal/config"
)

// settings holds what proxyhub-loadtest was asked to do.
type settings struct {
	Hub            string
	JWT            string // admin JWT; never printed
	Tenant         string
	Proxies        int
	Tokens         int // 0: max(1, Proxies/1000)
	TokensFile     string
	Mode           string // steady, burst or cron
	Rate           float64
	Duration       time.Duration
	Period         time.Duration
	Compress       float64
	Rounds         int // 0: burst 1, cron from Duration
	Concurrency    int
	ChangeFraction float64
	XFF            bool
	JSON           bool
	NoVerify       bool
	Baseline       bool
	ServeBaseline  string // serve the bare handler on this address instead of loading a hub
	Timeout        time.Duration
}

// envPrefix is the prefix of the variables: they are PROXYHUB_LOADTEST_*,
// so they never collide with the hub's own PROXYHUB_* settings in the same
// environment.
const envPrefix = "PROXYHUB_LOADTEST_"

var tenantID = regexp.MustCompile(`^[a-z0-9-]{2,40}$`)

// summary is the help text above the settings table.
const summary = `Simulate a fleet of proxies heartbeating a running hub, measure throughput, latency and
errors, then check through the audit API that every IP change the hub acknowledged is in the
history exactly once. Exit status: 0 pass; 1 a heartbeat failed or the verification did; 2 usage.

Modes (--mode):
  steady  heartbeats at --rate per second for --duration, the proxies in turn (rate 0: as fast
          as --concurrency connections go). Each pass over the fleet is a round.
  burst   every proxy at once, like the top of a minute: one registration pass first, then
          --rounds bursts of all --proxies heartbeats over min(proxies, concurrency) connections.
          Throughput is heartbeats / time inside the bursts.
  cron    every proxy once per --period at its own fixed offset in the period (as
          deploy/cron/install.sh spreads a fleet), with time compressed by --compress (60: a
          minute passes in 1 s), for --rounds periods or as many as fit in --duration.

Setup: with an admin JWT (PROXYHUB_LOADTEST_JWT; a platform JWT, or the tenant's owner/admin)
the tenant is created when missing (platform only) and its max_proxies raised to --proxies;
--tokens unbound heartbeat tokens are created (or read from --tokens-file; a new file is written
with mode 0600) and the proxies lt0000000, lt0000001, ... spread over them.

Source addresses: each proxy has a stable address in 11.0.0.0/8 sent as X-Forwarded-For; before
each round but the first, --change-fraction of the proxies move to a new one, so the IP-change
path is exercised. The hub must trust this machine: PROXYHUB_TRUSTED_PROXIES=127.0.0.1 on the hub.

Rate limits: the hub allows PROXYHUB_RATE_HEARTBEAT (default 6/1m) heartbeats per token and
proxy name; cron with compression and steady at high rates over few proxies exceed it and get
429, reported apart; so does each token's limit across its names (PROXYHUB_RATE_HEARTBEAT_TOKEN,
default twice the tenant's max_proxies a minute). Raise them on the hub under test, e.g.
PROXYHUB_RATE_HEARTBEAT=200000/1m PROXYHUB_RATE_HEARTBEAT_TOKEN=off.

--baseline also loads a bare net/http handler returning a fixed JSON body of a heartbeat
answer's size (127.0.0.1:0, in this process) with the same engine and settings, and reports
every figure as a ratio hub/baseline: the ceiling for any Go HTTP service on this machine.

Latency is recorded for every answer in a fixed histogram: 1 µs buckets up to 10 ms, 10 µs up
to 1 s, 1 ms up to 60 s; percentiles are exact to that resolution in bounded memory (1.3 MB).
Connections are kept alive: the figures measure request handling, not TCP accepts.`

// loadSettings parses the settings from args (without the program name)
// and getenv: every flag --x-y can also be set by PROXYHUB_LOADTEST_X_Y
// (--no-verify is a flag only), and a flag wins. The boolean settings
// (--xff, --json, --no-verify, --baseline) are switches: alone they mean
// true. Help goes to out; asking for it returns config.ErrHelp. An invalid
// value returns a *config.Error naming the flag and its variable.
func loadSettings(args []string, getenv func(string) string, out io.Writer) (settings, error) {
	var c settings
	positive := func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err == nil && d <= 0 {
			err = errors.New("must be positive")
		}
		return d, err
	}
	list := []config.Setting{
		{Name: "hub", Default: "http://127.0.0.1:3001", Usage: "base URL of the hub under test", Parse: func(v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("must be an http(s) URL")
			}
			c.Hub = v
			return nil
		}},
		{Name: "jwt", Default: "", Usage: "admin JWT (prefer the variable: a flag shows in ps); never printed", Parse: func(v string) error {
			c.JWT = v
			return nil
		}},
		{Name: "tenant", Default: "loadtest", Usage: "tenant of the simulated proxies (created if missing with a platform JWT)", Parse: func(v string) error {
			if !tenantID.MatchString(v) {
				return errors.New("2-40 lowercase letters, digits and '-'")
			}
			c.Tenant = v
			return nil
		}},
		{Name: "proxies", Default: "1000", Usage: "how many proxies to simulate (N)", Parse: func(v string) (err error) {
			c.Proxies, err = intIn(v, 1, 10_000_000)
			return err
		}},
		{Name: "tokens", Default: "auto", Usage: "heartbeat tokens to create and spread the proxies over; auto = max(1, N/1000)", Parse: func(v string) (err error) {
			if v == "auto" {
				c.Tokens = 0
				return nil
			}
			c.Tokens, err = intIn(v, 1, 100_000)
			return err
		}},
		{Name: "tokens-file", Default: "", Usage: "file of tokens, one a line: used when it exists, else written (0600) with the new ones", Parse: func(v string) error {
			c.TokensFile = v
			return nil
		}},
		{Name: "mode", Default: "steady", Usage: "steady, burst or cron (see above)", Parse: func(v string) error {
			switch v {
			case "steady", "burst", "cron":
				c.Mode = v
				return nil
			}
			return fmt.Errorf("%q is not steady, burst or cron", v)
		}},
		{Name: "rate", Default: "1000", Usage: "steady: heartbeats per second; 0 = as fast as the connections go", Parse: func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil && (f < 0 || f > 10_000_000 || f != f) {
				err = errors.New("must be between 0 and 10000000")
			}
			c.Rate = f
			return err
		}},
		{Name: "duration", Default: "10s", Usage: "steady: how long to send; cron: how many periods fit (unless --rounds)", Parse: func(v string) (err error) {
			c.Duration, err = positive(v)
			return err
		}},
		{Name: "period", Default: "60s", Usage: "cron: how often each proxy heartbeats (before compression)", Parse: func(v string) (err error) {
			c.Period, err = positive(v)
			return err
		}},
		{Name: "compress", Default: "60", Usage: "cron: time compression factor (60: a 60s period passes in 1s)", Parse: func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil && !(f >= 1 && f <= 1e6) {
				err = errors.New("must be between 1 and 1000000")
			}
			c.Compress = f
			return err
		}},
		{Name: "rounds", Default: "auto", Usage: "burst: how many bursts (auto = 1); cron: how many periods (auto = from --duration)", Parse: func(v string) (err error) {
			if v == "auto" {
				c.Rounds = 0
				return nil
			}
			c.Rounds, err = intIn(v, 1, 1_000_000)
			return err
		}},
		{Name: "concurrency", Default: "256", Usage: "connections and workers (burst: min(N, this))", Parse: func(v string) (err error) {
			c.Concurrency, err = intIn(v, 1, 100_000)
			return err
		}},
		{Name: "change-fraction", Default: "0.1", Usage: "fraction of the proxies whose IP changes each round (0-1)", Parse: func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil && !(f >= 0 && f <= 1) {
				err = errors.New("must be between 0 and 1")
			}
			c.ChangeFraction = f
			return err
		}},
		{Name: "xff", Switch: true, Default: "true", Usage: "send X-Forwarded-For (the hub must list this machine in PROXYHUB_TRUSTED_PROXIES); --xff=false: no IP changes", Parse: func(v string) (err error) {
			c.XFF, err = strconv.ParseBool(v)
			return err
		}},
		{Name: "json", Switch: true, Default: "false", Usage: "print the summary as JSON on standard output", Parse: func(v string) (err error) {
			c.JSON, err = strconv.ParseBool(v)
			return err
		}},
		{Name: "no-verify", Switch: true, NoEnv: true, Default: "false", Usage: "skip the check of the IP-change history (then no JWT is needed with an existing --tokens-file)", Parse: func(v string) (err error) {
			c.NoVerify, err = strconv.ParseBool(v)
			return err
		}},
		{Name: "baseline", Switch: true, Default: "false", Usage: "also load a bare net/http handler the same way and report ratios hub/baseline", Parse: func(v string) (err error) {
			c.Baseline, err = strconv.ParseBool(v)
			return err
		}},
		{Name: "serve-baseline", Default: "", Usage: "only serve the bare net/http handler of --baseline on this address (host:port) until interrupted, for other load generators (wrk)", Parse: func(v string) error {
			c.ServeBaseline = v
			return nil
		}},
		{Name: "timeout", Default: "10s", Usage: "per-request timeout", Parse: func(v string) (err error) {
			c.Timeout, err = positive(v)
			return err
		}},
	}
	cmd := config.Command{Name: "proxyhub-loadtest", Summary: summary, EnvPrefix: envPrefix, Settings: list}
	return c, cmd.Load(args, getenv, out)
}

// intIn parses v as an integer between lo and hi inclusive.
func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err == nil && (n < lo || n > hi) {
		err = fmt.Errorf("must be between %d and %d", lo, hi)
	}
	return n, err
}
