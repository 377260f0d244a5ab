// Package config reads proxyhub's settings from PROXYHUB_* environment
// variables and command-line flags (a flag wins over its variable) and
// validates them once, at start-up.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/logging"
	"github.com/proxyhub/proxyhub/internal/ratelimit"
)

// Serve holds the settings of `proxyhub serve`.
type Serve struct {
	Addr            string
	DatabaseURL     string
	OfflineAfter    time.Duration
	TrustedProxies  []netip.Prefix
	LogFormat       string
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
	SigningKeyFile  string
	JWKSURL         string // external identity provider's JWK Set
	JWTIssuer       string // its iss
	JWTAudience     string // the aud its tokens must carry
	PolicyDir       string // operator's own Rego policies instead of the embedded ones
	RateHeartbeat   ratelimit.Rate
	RateAdmin       ratelimit.Rate
	RateAuthFailure ratelimit.Rate
	AutoMigrate     bool
	// HistoryRetention is how long history (IP changes, denied heartbeats,
	// events, webhook deliveries) is kept; 0 keeps it for ever.
	HistoryRetention time.Duration
	WebhookPrivate   bool   // webhooks may target private addresses
	SMTPAddr         string // host:port of the mail relay for e-mail webhooks
	SMTPFrom         string
	SMTPUsername     string
	SMTPPassword     string
}

// Error is an invalid setting. Its message names the flag and the
// environment variable.
type Error struct {
	Setting string // flag name, e.g. "offline-after"
	Env     string // environment variable, e.g. "PROXYHUB_OFFLINE_AFTER"
	Err     error
}

func (e *Error) Error() string {
	if e.Env == "" {
		return fmt.Sprintf("invalid setting --%s: %v", e.Setting, e.Err)
	}
	return fmt.Sprintf("invalid setting --%s (%s): %v", e.Setting, e.Env, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// MinHistoryRetention is the shortest history retention accepted: the
// store never deletes history of the last day (hub.MinRetention), and the
// second day is slack for the hub's and the database's clocks to differ.
const MinHistoryRetention = 48 * time.Hour

// parseDays parses a Go duration, or a whole number of days with the
// suffix d ("400d"); "0" is zero.
func parseDays(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err == nil && d < 0 {
		err = errors.New("must not be negative")
	}
	return d, err
}

// ErrHelp is returned when help was asked for and printed.
var ErrHelp = flag.ErrHelp

// setting is one configurable value: a flag, its variable, its default and
// how to parse it into the config.
type setting struct {
	name, env, def, usage string
	noEnv                 bool // a flag only: no PROXYHUB_* variable
	parse                 func(string) error
}

func envName(flagName string) string {
	return "PROXYHUB_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// LoadServe parses the serve settings from args (without the command name)
// and getenv. Help goes to out. An invalid value returns *Error.
func LoadServe(args []string, getenv func(string) string, out io.Writer) (Serve, error) {
	var c Serve
	settings := []setting{
		{name: "addr", def: ":3001", usage: "address to listen on (host:port)", parse: func(v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return err
			}
			c.Addr = v
			return nil
		}},
		{name: "database-url", def: "", usage: "PostgreSQL URL; empty uses the embedded in-memory store", parse: func(v string) error {
			c.DatabaseURL = v
			return nil
		}},
		{name: "offline-after", def: fmt.Sprintf("%ds", int(hub.DefaultOfflineAfter/time.Second)), usage: "offline timeout of tenants created without one (each tenant can change its own)", parse: func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			if d < hub.MinOfflineAfter || d > hub.MaxOfflineAfter {
				return fmt.Errorf("must be between %v and %v", hub.MinOfflineAfter, hub.MaxOfflineAfter)
			}
			c.OfflineAfter = d
			return nil
		}},
		{name: "trusted-proxies", def: "", usage: "comma-separated IPs/CIDRs whose X-Forwarded-For is believed; empty ignores the header", parse: func(v string) (err error) {
			c.TrustedProxies, err = clientip.ParseTrusted(v)
			return err
		}},
		{name: "log-format", def: "json", usage: "json, or text for one human-readable line per heartbeat and IP change", parse: func(v string) error {
			if v != logging.FormatJSON && v != logging.FormatText {
				return fmt.Errorf("%q is neither json nor text", v)
			}
			c.LogFormat = v
			return nil
		}},
		{name: "log-level", def: "info", usage: "debug, info, warn or error", parse: func(v string) (err error) {
			c.LogLevel, err = logging.ParseLevel(v)
			return err
		}},
		{name: "shutdown-timeout", def: "15s", usage: "how long SIGTERM waits for in-flight requests", parse: func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil && d <= 0 {
				err = errors.New("must be positive")
			}
			c.ShutdownTimeout = d
			return err
		}},
		{name: "signing-key-file", def: "", usage: "Ed25519 key (PEM) that signs admin JWTs; `proxyhub keygen` writes one. Required with PostgreSQL", parse: func(v string) error {
			c.SigningKeyFile = v
			return nil
		}},
		{name: "jwt-jwks-url", def: "", usage: "JWK Set URL of an external identity provider whose JWTs are accepted", parse: func(v string) error {
			if v != "" {
				if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return errors.New("must be an http(s) URL")
				}
			}
			c.JWKSURL = v
			return nil
		}},
		{name: "jwt-issuer", def: "", usage: "iss of the external identity provider's JWTs (required with --jwt-jwks-url)", parse: func(v string) error {
			c.JWTIssuer = v
			if c.JWKSURL != "" && v == "" {
				return errors.New("required with --jwt-jwks-url")
			}
			return nil
		}},
		{name: "jwt-audience", def: "", usage: "aud the external identity provider's JWTs must carry (required with --jwt-jwks-url)", parse: func(v string) error {
			c.JWTAudience = v
			if c.JWKSURL != "" && v == "" {
				return errors.New("required with --jwt-jwks-url")
			}
			return nil
		}},
		{name: "policy-dir", def: "", usage: "directory of Rego policies to use instead of the built-in ones (policies/)", parse: func(v string) error {
			c.PolicyDir = v
			return nil
		}},
		{name: "rate-heartbeat", def: "6/1m", usage: "heartbeats allowed per token and proxy name", parse: func(v string) (err error) {
			c.RateHeartbeat, err = ratelimit.ParseRate(v)
			return err
		}},
		{name: "rate-admin", def: "600/1m", usage: "admin API calls allowed per principal", parse: func(v string) (err error) {
			c.RateAdmin, err = ratelimit.ParseRate(v)
			return err
		}},
		{name: "rate-auth-failures", def: "30/1m", usage: "failed authentications allowed per client IP before it must wait", parse: func(v string) (err error) {
			c.RateAuthFailure, err = ratelimit.ParseRate(v)
			return err
		}},
		{name: "history-retention", def: "0", usage: "delete history (IP changes, denied heartbeats, events, webhook deliveries) older than this, e.g. 400d or 9600h; at least 2d; 0 keeps it for ever", parse: func(v string) error {
			d, err := parseDays(v)
			switch {
			case err != nil:
				return err
			case d != 0 && d < MinHistoryRetention:
				return fmt.Errorf("must be 0 (keep for ever) or at least %s", "2d")
			}
			c.HistoryRetention = d
			return nil
		}},
		{name: "auto-migrate", def: "true", usage: "apply database migrations at start-up (else run `proxyhub migrate`)", parse: func(v string) (err error) {
			c.AutoMigrate, err = strconv.ParseBool(v)
			return err
		}},
		{name: "webhook-allow-private", def: "false", usage: "let webhooks reach loopback, private and link-local addresses (SSRF guard off)", parse: func(v string) (err error) {
			c.WebhookPrivate, err = strconv.ParseBool(v)
			return err
		}},
		{name: "smtp-addr", def: "", usage: "host:port of the SMTP relay for e-mail webhooks", parse: func(v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return err
				}
			}
			c.SMTPAddr = v
			return nil
		}},
		{name: "smtp-from", def: "proxyhub@localhost", usage: "sender address of e-mail notifications", parse: func(v string) error {
			c.SMTPFrom = v
			return nil
		}},
		{name: "smtp-username", def: "", usage: "SMTP user (PLAIN auth, over TLS or to localhost only)", parse: func(v string) error {
			c.SMTPUsername = v
			return nil
		}},
		{name: "smtp-password", def: "", usage: "SMTP password (prefer the environment variable to the flag)", parse: func(v string) error {
			c.SMTPPassword = v
			return nil
		}},
	}
	return c, load("serve", "Run the hub.", settings, args, getenv, out)
}

// Migrate holds the settings of `proxyhub migrate`.
type Migrate struct {
	DatabaseURL string
}

// LoadMigrate parses the migrate settings.
func LoadMigrate(args []string, getenv func(string) string, out io.Writer) (Migrate, error) {
	var c Migrate
	settings := []setting{
		{name: "database-url", def: "", usage: "PostgreSQL URL to migrate", parse: func(v string) error {
			if v == "" {
				return errors.New("required")
			}
			c.DatabaseURL = v
			return nil
		}},
	}
	return c, load("migrate", "Apply the database migrations (under an advisory lock: safe while hubs start).", settings, args, getenv, out)
}

// Keygen holds the settings of `proxyhub keygen`.
type Keygen struct {
	Out string
}

// LoadKeygen parses the keygen settings.
func LoadKeygen(args []string, getenv func(string) string, out io.Writer) (Keygen, error) {
	var c Keygen
	settings := []setting{
		{name: "out", noEnv: true, def: "", usage: "file to write the new Ed25519 signing key to (mode 0600; never overwritten)", parse: func(v string) error {
			if v == "" {
				return errors.New("required")
			}
			c.Out = v
			return nil
		}},
	}
	return c, load("keygen", "Write a new Ed25519 key for signing admin JWTs (PROXYHUB_SIGNING_KEY_FILE).", settings, args, getenv, out)
}

// MintJWT holds the settings of `proxyhub jwt`.
type MintJWT struct {
	KeyFile string
	Tenant  string
	Role    string
	TTL     time.Duration
	Subject string
}

// LoadMintJWT parses the jwt settings.
func LoadMintJWT(args []string, getenv func(string) string, out io.Writer) (MintJWT, error) {
	var c MintJWT
	settings := []setting{
		{name: "signing-key-file", def: "", usage: "the hub's signing key (as for serve)", parse: func(v string) error {
			if v == "" {
				return errors.New("required: the key the hub verifies with")
			}
			c.KeyFile = v
			return nil
		}},
		{name: "role", noEnv: true, def: "", usage: "platform, owner, admin or viewer", parse: func(v string) error {
			switch v {
			case "platform", "owner", "admin", "viewer":
				c.Role = v
				return nil
			}
			return fmt.Errorf("%q is not platform, owner, admin or viewer", v)
		}},
		{name: "tenant", noEnv: true, def: "", usage: "the tenant id (not for --role platform)", parse: func(v string) error {
			c.Tenant = v
			if (v == "") != (c.Role == "platform") {
				return errors.New("give a tenant for owner, admin and viewer, and none for platform")
			}
			return nil
		}},
		{name: "ttl", noEnv: true, def: "1h", usage: "lifetime, at most 24h", parse: func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil && (d <= 0 || d > 24*time.Hour) {
				err = errors.New("must be between 1s and 24h")
			}
			c.TTL = d
			return err
		}},
		{name: "sub", noEnv: true, def: "cli", usage: "subject (who the token speaks for), shown in logs", parse: func(v string) error {
			if v == "" {
				return errors.New("required")
			}
			c.Subject = v
			return nil
		}},
	}
	return c, load("jwt", "Mint an admin JWT signed with the hub's key (bootstrap and scripts). Prints it to standard output.", settings, args, getenv, out)
}

// load registers settings as flags, applies environment then flags, and
// parses every value once.
func load(cmd, summary string, settings []setting, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	values := make([]*string, len(settings))
	for i := range settings {
		s := &settings[i]
		v := s.def
		if !s.noEnv {
			s.env = envName(s.name)
			if e := getenv(s.env); e != "" {
				v = e
			}
		}
		values[i] = fs.String(s.name, v, s.usage)
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: proxyhub %s [flags]\n\n%s\n\nEvery flag can also be set by its environment variable; a flag wins.\n\n", cmd, summary)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FLAG\tENVIRONMENT\tDEFAULT\tMEANING")
		for _, s := range settings {
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
	for i, s := range settings {
		if err := s.parse(strings.TrimSpace(*values[i])); err != nil {
			return &Error{Setting: s.name, Env: s.env, Err: err}
		}
	}
	return nil
}
