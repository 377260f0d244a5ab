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
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/logging"
	"github.com/proxyhub/proxyhub/internal/ratelimit"
)

// Serve holds the settings of `proxyhub serve`.
type Serve struct {
	Addr        string
	DatabaseURL string
	// DataDir is the embedded store's directory (its database and, unless
	// a key file is configured, the signing key), or MemoryDataDir for the
	// in-memory store that keeps nothing. Ignored when DatabaseURL is set.
	DataDir         string
	OfflineAfter    time.Duration
	TrustedProxies  []netip.Prefix
	LogFormat       string
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
	// StoreTimeout bounds how long a request waits for the store before
	// it is answered 503.
	StoreTimeout   time.Duration
	SigningKeyFile string
	JWKSURL        string // external identity provider's JWK Set
	JWTIssuer      string // its iss
	JWTAudience    string // the aud its tokens must carry
	PolicyDir      string // operator's own Rego policies instead of the embedded ones
	RateHeartbeat  ratelimit.Rate
	// RateHeartbeatToken is what one heartbeat token may send across all
	// its names; the zero Rate means per tenant (hub.TokenHeartbeatsPerMinute).
	RateHeartbeatToken ratelimit.Rate
	// NoHeartbeatTokenLimit turns that limit off (load tests of one token
	// over a large simulated fleet).
	NoHeartbeatTokenLimit bool
	RateAdmin             ratelimit.Rate
	RateAuthFailure       ratelimit.Rate
	AutoMigrate           bool
	// RedisURL, when set, makes every rate limit share its buckets across
	// hubs through that Redis server.
	RedisURL string
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// MetricsAddr, when set, is a listener of its own for /metrics, which
	// the main address then does not serve.
	MetricsAddr string
	// AllowSuperuser lets serve connect to PostgreSQL as a superuser or
	// BYPASSRLS role, to which row-level security does not apply.
	AllowSuperuser bool
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

// DefaultStoreTimeout is how long a request waits for the store by
// default: well under the 10 s the README's cron line gives curl, so a
// stalled database is answered 503 before the client gives up.
const DefaultStoreTimeout = 5 * time.Second

// MaxStoreTimeout is the longest store timeout accepted; the server's
// write timeout is longer still, so the answer is always written.
const MaxStoreTimeout = 20 * time.Second

// DefaultDataDir is where the embedded store keeps its data unless told
// otherwise: relative to the working directory.
const DefaultDataDir = "./proxyhub-data"

// MemoryDataDir as the data directory selects the in-memory store, which
// keeps nothing across restarts.
const MemoryDataDir = ":memory:"

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

// LoadServe parses the serve settings from args (without the command name)
// and getenv. Help goes to out. An invalid value returns *Error.
func LoadServe(args []string, getenv func(string) string, out io.Writer) (Serve, error) {
	var c Serve
	settings := []Setting{
		{Name: "addr", Default: ":3001", Usage: "address to listen on (host:port)", Parse: func(v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return err
			}
			c.Addr = v
			return nil
		}},
		{Name: "database-url", Default: "", Usage: "PostgreSQL URL; empty uses the embedded store in --data-dir", Parse: func(v string) error {
			c.DatabaseURL = v
			return nil
		}},
		{Name: "data-dir", Default: DefaultDataDir, Usage: "where the embedded store keeps its data (proxyhub.db, signing.key; created with mode 0700); " +
			MemoryDataDir + " keeps nothing (tests, benchmarks); ignored with --database-url", Parse: func(v string) error {
			if v == "" {
				return errors.New("must not be empty (" + MemoryDataDir + " keeps nothing)")
			}
			c.DataDir = v
			return nil
		}},
		{Name: "offline-after", Default: fmt.Sprintf("%ds", int(hub.DefaultOfflineAfter/time.Second)), Usage: "offline timeout of tenants created without one (each tenant can change its own)", Parse: func(v string) error {
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
		{Name: "trusted-proxies", Default: "", Usage: "comma-separated IPs/CIDRs whose X-Forwarded-For is believed; empty ignores the header", Parse: func(v string) (err error) {
			c.TrustedProxies, err = clientip.ParseTrusted(v)
			return err
		}},
		{Name: "log-format", Default: "json", Usage: "json, or text for one human-readable line per heartbeat and IP change", Parse: func(v string) error {
			if v != logging.FormatJSON && v != logging.FormatText {
				return fmt.Errorf("%q is neither json nor text", v)
			}
			c.LogFormat = v
			return nil
		}},
		{Name: "log-level", Default: "info", Usage: "debug, info, warn or error", Parse: func(v string) (err error) {
			c.LogLevel, err = logging.ParseLevel(v)
			return err
		}},
		{Name: "shutdown-timeout", Default: "15s", Usage: "how long SIGTERM waits for in-flight requests", Parse: func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil && d <= 0 {
				err = errors.New("must be positive")
			}
			c.ShutdownTimeout = d
			return err
		}},
		{Name: "store-timeout", Default: DefaultStoreTimeout.String(), Usage: "how long a request waits for the store before it is answered 503 with Retry-After; keep it under the clients' own timeout (the cron line's is 10s)", Parse: func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil && (d < 100*time.Millisecond || d > MaxStoreTimeout) {
				err = fmt.Errorf("must be between 100ms and %s", MaxStoreTimeout)
			}
			c.StoreTimeout = d
			return err
		}},
		{Name: "signing-key-file", Default: "", Usage: "Ed25519 key (PEM) that signs admin JWTs; `proxyhub keygen` writes one. Required with PostgreSQL; empty on the embedded store: the hub keeps its own in --data-dir (signing.key)", Parse: func(v string) error {
			c.SigningKeyFile = v
			return nil
		}},
		{Name: "jwt-jwks-url", Default: "", Usage: "JWK Set URL of an external identity provider whose JWTs are accepted", Parse: func(v string) error {
			if v != "" {
				if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return errors.New("must be an http(s) URL")
				}
			}
			c.JWKSURL = v
			return nil
		}},
		{Name: "jwt-issuer", Default: "", Usage: "iss of the external identity provider's JWTs (required with --jwt-jwks-url)", Parse: func(v string) error {
			c.JWTIssuer = v
			if c.JWKSURL != "" && v == "" {
				return errors.New("required with --jwt-jwks-url")
			}
			return nil
		}},
		{Name: "jwt-audience", Default: "", Usage: "aud the external identity provider's JWTs must carry (required with --jwt-jwks-url)", Parse: func(v string) error {
			c.JWTAudience = v
			if c.JWKSURL != "" && v == "" {
				return errors.New("required with --jwt-jwks-url")
			}
			return nil
		}},
		{Name: "policy-dir", Default: "", Usage: "directory of Rego policies to use instead of the built-in ones (policies/)", Parse: func(v string) error {
			c.PolicyDir = v
			return nil
		}},
		{Name: "rate-heartbeat", Default: "6/1m", Usage: "heartbeats allowed per token and proxy name", Parse: func(v string) (err error) {
			c.RateHeartbeat, err = ratelimit.ParseRate(v)
			return err
		}},
		{Name: "rate-heartbeat-token", Default: "auto", Usage: "heartbeats allowed per token across all its proxy names; auto: twice the tenant's max_proxies a minute (at least 600); off: no such limit (load tests)", Parse: func(v string) (err error) {
			c.RateHeartbeatToken, c.NoHeartbeatTokenLimit = ratelimit.Rate{}, false
			switch v {
			case "auto":
				return nil
			case "off":
				c.NoHeartbeatTokenLimit = true
				return nil
			}
			c.RateHeartbeatToken, err = ratelimit.ParseRate(v)
			return err
		}},
		{Name: "rate-admin", Default: "600/1m", Usage: "admin API calls allowed per principal", Parse: func(v string) (err error) {
			c.RateAdmin, err = ratelimit.ParseRate(v)
			return err
		}},
		{Name: "rate-auth-failures", Default: "30/1m", Usage: "failed authentications allowed per client IP before it must wait", Parse: func(v string) (err error) {
			c.RateAuthFailure, err = ratelimit.ParseRate(v)
			return err
		}},
		{Name: "history-retention", Default: "0", Usage: "delete history (IP changes, denied heartbeats, events, webhook deliveries) older than this, e.g. 400d or 9600h; at least 2d; 0 keeps it for ever", Parse: func(v string) error {
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
		{Name: "auto-migrate", Default: "true", Usage: "apply database migrations at start-up (else run `proxyhub migrate`)", Parse: func(v string) (err error) {
			c.AutoMigrate, err = strconv.ParseBool(v)
			return err
		}},
		{Name: "metrics-addr", Default: "", Usage: "serve /metrics on this address (host:port) only, e.g. 127.0.0.1:9100 for a local Prometheus; empty: on --addr", Parse: func(v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return err
				}
			}
			c.MetricsAddr = v
			return nil
		}},
		{Name: "metrics-token", Default: "", Usage: "bearer token /metrics requires (at least 16 characters; prefer the variable); empty: /metrics is open", Parse: func(v string) error {
			if v != "" && len(v) < 16 {
				return errors.New("at least 16 characters")
			}
			c.MetricsToken = v
			return nil
		}},
		{Name: "redis-url", Default: "", Usage: "Redis URL (redis:// or rediss://) through which every rate limit is shared by all hubs; empty: limits per hub", Parse: func(v string) error {
			c.RedisURL = v
			return nil
		}},
		{Name: "allow-superuser", Default: "false", Usage: "let serve connect to PostgreSQL as a superuser or BYPASSRLS role (row-level security off); connect as the application role `proxyhub migrate` prepares instead", Parse: func(v string) (err error) {
			c.AllowSuperuser, err = strconv.ParseBool(v)
			return err
		}},
		{Name: "webhook-allow-private", Default: "false", Usage: "let webhooks reach loopback, private and link-local addresses (SSRF guard off)", Parse: func(v string) (err error) {
			c.WebhookPrivate, err = strconv.ParseBool(v)
			return err
		}},
		{Name: "smtp-addr", Default: "", Usage: "host:port of the SMTP relay for e-mail webhooks", Parse: func(v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return err
				}
			}
			c.SMTPAddr = v
			return nil
		}},
		{Name: "smtp-from", Default: "proxyhub@localhost", Usage: "sender address of e-mail notifications", Parse: func(v string) error {
			c.SMTPFrom = v
			return nil
		}},
		{Name: "smtp-username", Default: "", Usage: "SMTP user (PLAIN auth, over TLS or to localhost only)", Parse: func(v string) error {
			c.SMTPUsername = v
			return nil
		}},
		{Name: "smtp-password", Default: "", Usage: "SMTP password (prefer the environment variable to the flag)", Parse: func(v string) error {
			c.SMTPPassword = v
			return nil
		}},
	}
	return c, hubCommand("serve", "Run the hub.", settings).Load(args, getenv, out)
}

// Migrate holds the settings of `proxyhub migrate`.
type Migrate struct {
	DatabaseURL string
	// AppRole is the application role to create or grant ("" for none).
	AppRole string
	// AppPassword, when set, becomes the application role's password.
	AppPassword string
}

// LoadMigrate parses the migrate settings.
func LoadMigrate(args []string, getenv func(string) string, out io.Writer) (Migrate, error) {
	var c Migrate
	settings := []Setting{
		{Name: "database-url", Default: "", Usage: "PostgreSQL URL to migrate", Parse: func(v string) error {
			if v == "" {
				return errors.New("required")
			}
			c.DatabaseURL = v
			return nil
		}},
		{Name: "app-role", Default: "proxyhub_app", Usage: "application role that serve connects as: created (LOGIN) if missing, granted the hub's privileges and nothing else; empty: none", Parse: func(v string) error {
			c.AppRole = v
			return nil
		}},
		{Name: "app-password", Default: "", Usage: "password to set for the application role (prefer the environment variable to the flag)", Parse: func(v string) error {
			if v != "" {
				c.AppPassword = v
			}
			return nil
		}},
		{Name: "app-password-file", Default: "", Usage: "file holding the application role's password (a container secret); its first line is the password", Parse: func(v string) error {
			if v == "" {
				return nil
			}
			b, err := os.ReadFile(v)
			if err != nil {
				return err
			}
			pw, _, _ := strings.Cut(string(b), "\n")
			if pw = strings.TrimSuffix(pw, "\r"); pw == "" {
				return errors.New("the file's first line is empty")
			}
			c.AppPassword = pw
			return nil
		}},
	}
	return c, hubCommand("migrate", "Apply the database migrations (under an advisory lock: safe while hubs start) and prepare the application role.", settings).Load(args, getenv, out)
}

// Keygen holds the settings of `proxyhub keygen`.
type Keygen struct {
	Out string
}

// LoadKeygen parses the keygen settings.
func LoadKeygen(args []string, getenv func(string) string, out io.Writer) (Keygen, error) {
	var c Keygen
	settings := []Setting{
		{Name: "out", NoEnv: true, Default: "", Usage: "file to write the new Ed25519 signing key to (mode 0600; never overwritten)", Parse: func(v string) error {
			if v == "" {
				return errors.New("required")
			}
			c.Out = v
			return nil
		}},
	}
	return c, hubCommand("keygen", "Write a new Ed25519 key for signing admin JWTs (PROXYHUB_SIGNING_KEY_FILE).", settings).Load(args, getenv, out)
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
	settings := []Setting{
		{Name: "signing-key-file", Default: "", Usage: "the hub's signing key (as for serve)", Parse: func(v string) error {
			if v == "" {
				return errors.New("required: the key the hub verifies with")
			}
			c.KeyFile = v
			return nil
		}},
		{Name: "role", NoEnv: true, Default: "", Usage: "platform, owner, admin or viewer", Parse: func(v string) error {
			switch v {
			case "platform", "owner", "admin", "viewer":
				c.Role = v
				return nil
			}
			return fmt.Errorf("%q is not platform, owner, admin or viewer", v)
		}},
		{Name: "tenant", NoEnv: true, Default: "", Usage: "the tenant id (not for --role platform)", Parse: func(v string) error {
			c.Tenant = v
			if (v == "") != (c.Role == "platform") {
				return errors.New("give a tenant for owner, admin and viewer, and none for platform")
			}
			return nil
		}},
		{Name: "ttl", NoEnv: true, Default: "1h", Usage: "lifetime, at most 24h", Parse: func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil && (d <= 0 || d > 24*time.Hour) {
				err = errors.New("must be between 1s and 24h")
			}
			c.TTL = d
			return err
		}},
		{Name: "sub", NoEnv: true, Default: "cli", Usage: "subject (who the token speaks for), shown in logs", Parse: func(v string) error {
			if v == "" {
				return errors.New("required")
			}
			c.Subject = v
			return nil
		}},
	}
	return c, hubCommand("jwt", "Mint an admin JWT signed with the hub's key (bootstrap and scripts). Prints it to standard output.", settings).Load(args, getenv, out)
}
