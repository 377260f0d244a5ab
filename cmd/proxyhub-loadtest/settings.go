package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
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
	Timeout        time.Duration
}

// envPrefix is the prefix of the variables: they are PROXYHUB_LOADTEST_*,
// so they never collide with the hub's own PROXYHUB_* settings in the same
// environment.
const envPrefix = "PROXYHUB_LOADTEST_"

// switches are the boolean settings: like Go's boolean flags, "--json"
// alone means true, and "--json=false" turns one off.
var switches = map[string]bool{"xff": true, "json": true, "no-verify": true, "baseline": true}

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
429, reported apart. Raise it on the hub under test, e.g. PROXYHUB_RATE_HEARTBEAT=200000/1m.

--baseline also loads a bare net/http handler returning a fixed JSON body of a heartbeat
answer's size (127.0.0.1:0, in this process) with the same engine and settings, and reports
every figure as a ratio hub/baseline: the ceiling for any Go HTTP service on this machine.

Latency is recorded for every answer in a fixed histogram: 1 µs buckets up to 10 ms, 10 µs up
to 1 s, 1 ms up to 60 s; percentiles are exact to that resolution in bounded memory (1.3 MB).
Connections are kept alive: the figures measure request handling, not TCP accepts.`

// setting is one configurable value: a flag, its variable, its default and
// how to parse it into the settings.
type setting struct {
	name, env, def, usage string
	noEnv                 bool // a flag only: no variable
	parse                 func(string) error
}

// loadSettings parses the settings from args (without the program name)
// and getenv: every flag --x-y can also be set by PROXYHUB_LOADTEST_X_Y
// (--no-verify is a flag only), and a flag wins. Help goes to out; asking
// for it returns flag.ErrHelp. An invalid value returns an error naming the
// flag and its variable.
func loadSettings(args []string, getenv func(string) string, out io.Writer) (settings, error) {
	var c settings
	positive := func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err == nil && d <= 0 {
			err = errors.New("must be positive")
		}
		return d, err
	}
	list := []setting{
		{name: "hub", def: "http://127.0.0.1:3001", usage: "base URL of the hub under test", parse: func(v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("must be an http(s) URL")
			}
			c.Hub = v
			return nil
		}},
		{name: "jwt", def: "", usage: "admin JWT (prefer the variable: a flag shows in ps); never printed", parse: func(v string) error {
			c.JWT = v
			return nil
		}},
		{name: "tenant", def: "loadtest", usage: "tenant of the simulated proxies (created if missing with a platform JWT)", parse: func(v string) error {
			if !tenantID.MatchString(v) {
				return errors.New("2-40 lowercase letters, digits and '-'")
			}
			c.Tenant = v
			return nil
		}},
		{name: "proxies", def: "1000", usage: "how many proxies to simulate (N)", parse: func(v string) (err error) {
			c.Proxies, err = intIn(v, 1, 10_000_000)
			return err
		}},
		{name: "tokens", def: "auto", usage: "heartbeat tokens to create and spread the proxies over; auto = max(1, N/1000)", parse: func(v string) (err error) {
			if v == "auto" {
				c.Tokens = 0
				return nil
			}
			c.Tokens, err = intIn(v, 1, 100_000)
			return err
		}},
		{name: "tokens-file", def: "", usage: "file of tokens, one a line: used when it exists, else written (0600) with the new ones", parse: func(v string) error {
			c.TokensFile = v
			return nil
		}},
		{name: "mode", def: "steady", usage: "steady, burst or cron (see above)", parse: func(v string) error {
			switch v {
			case "steady", "burst", "cron":
				c.Mode = v
				return nil
			}
			return fmt.Errorf("%q is not steady, burst or cron", v)
		}},
		{name: "rate", def: "1000", usage: "steady: heartbeats per second; 0 = as fast as the connections go", parse: func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil && (f < 0 || f > 10_000_000 || f != f) {
				err = errors.New("must be between 0 and 10000000")
			}
			c.Rate = f
			return err
		}},
		{name: "duration", def: "10s", usage: "steady: how long to send; cron: how many periods fit (unless --rounds)", parse: func(v string) (err error) {
			c.Duration, err = positive(v)
			return err
		}},
		{name: "period", def: "60s", usage: "cron: how often each proxy heartbeats (before compression)", parse: func(v string) (err error) {
			c.Period, err = positive(v)
			return err
		}},
		{name: "compress", def: "60", usage: "cron: time compression factor (60: a 60s period passes in 1s)", parse: func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil && !(f >= 1 && f <= 1e6) {
				err = errors.New("must be between 1 and 1000000")
			}
			c.Compress = f
			return err
		}},
		{name: "rounds", def: "auto", usage: "burst: how many bursts (auto = 1); cron: how many periods (auto = from --duration)", parse: func(v string) (err error) {
			if v == "auto" {
				c.Rounds = 0
				return nil
			}
			c.Rounds, err = intIn(v, 1, 1_000_000)
			return err
		}},
		{name: "concurrency", def: "256", usage: "connections and workers (burst: min(N, this))", parse: func(v string) (err error) {
			c.Concurrency, err = intIn(v, 1, 100_000)
			return err
		}},
		{name: "change-fraction", def: "0.1", usage: "fraction of the proxies whose IP changes each round (0-1)", parse: func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil && !(f >= 0 && f <= 1) {
				err = errors.New("must be between 0 and 1")
			}
			c.ChangeFraction = f
			return err
		}},
		{name: "xff", def: "true", usage: "send X-Forwarded-For (the hub must list this machine in PROXYHUB_TRUSTED_PROXIES); --xff=false: no IP changes", parse: func(v string) (err error) {
			c.XFF, err = strconv.ParseBool(v)
			return err
		}},
		{name: "json", def: "false", usage: "print the summary as JSON on standard output", parse: func(v string) (err error) {
			c.JSON, err = strconv.ParseBool(v)
			return err
		}},
		{name: "no-verify", noEnv: true, def: "false", usage: "skip the check of the IP-change history (then no JWT is needed with an existing --tokens-file)", parse: func(v string) (err error) {
			c.NoVerify, err = strconv.ParseBool(v)
			return err
		}},
		{name: "baseline", def: "false", usage: "also load a bare net/http handler the same way and report ratios hub/baseline", parse: func(v string) (err error) {
			c.Baseline, err = strconv.ParseBool(v)
			return err
		}},
		{name: "timeout", def: "10s", usage: "per-request timeout", parse: func(v string) (err error) {
			c.Timeout, err = positive(v)
			return err
		}},
	}
	return c, load(list, boolSwitches(args), getenv, out)
}

// load registers the settings as flags, applies the environment then the
// flags, and parses every value once.
func load(list []setting, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("proxyhub-loadtest", flag.ContinueOnError)
	fs.SetOutput(out)
	values := make([]*string, len(list))
	for i := range list {
		s := &list[i]
		v := s.def
		if !s.noEnv {
			s.env = envPrefix + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
			if e := getenv(s.env); e != "" {
				v = e
			}
		}
		values[i] = fs.String(s.name, v, s.usage)
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: proxyhub-loadtest [flags]\n\n%s\n\nEvery flag can also be set by its environment variable; a flag wins.\n\n", summary)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FLAG\tENVIRONMENT\tDEFAULT\tMEANING")
		for _, s := range list {
			def := s.def
			if def == "" {
				def = `""`
			}
			env := s.env
			if env == "" {
				env = "-"
			}
			fmt.Fprintf(tw, "--%s\t%s\t%s\t%s\n", s.name, env, def, s.usage)
		}
		tw.Flush()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for i, s := range list {
		if err := s.parse(strings.TrimSpace(*values[i])); err != nil {
			if s.env == "" {
				return fmt.Errorf("invalid setting --%s: %w", s.name, err)
			}
			return fmt.Errorf("invalid setting --%s (%s): %w", s.name, s.env, err)
		}
	}
	return nil
}

func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err == nil && (n < lo || n > hi) {
		err = fmt.Errorf("must be between %d and %d", lo, hi)
	}
	return n, err
}

// boolSwitches rewrites a bare --json (and the other switches) into
// --json=true, as Go's boolean flags behave; load registers every setting
// as a string flag, which would otherwise take the next argument as its
// value.
func boolSwitches(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if name := strings.TrimLeft(a, "-"); strings.HasPrefix(a, "-") && switches[name] && len(a)-len(name) <= 2 {
			out[i] = "--" + name + "=true"
		}
	}
	return out
}
