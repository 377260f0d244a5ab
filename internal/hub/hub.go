// Package hub is proxyhub's domain: it records heartbeats, decides liveness
// and reports status. It knows nothing of HTTP or SQL; it is given a store
// and a clock, so its time rules are tested without sleeping.
package hub

import (
	"errors"
	"log/slog"
	"time"
)

// DefaultOfflineAfter is how long a proxy may stay silent before it counts
// as offline: the seed hub's TIMEOUT_MS of 80 000.
const DefaultOfflineAfter = 80 * time.Second

// ErrInvalidName reports a proxy name that is empty, too long, or has a
// character outside letters, digits, '.', '_' and '-' (or does not start
// with a letter or digit).
var ErrInvalidName = errors.New("invalid proxy name")

// ErrInvalidIP reports a heartbeat without a usable client IP.
var ErrInvalidIP = errors.New("invalid client IP")

// Status is a proxy's liveness.
type Status string

// The liveness states a proxy can be in.
const (
	Online  Status = "online"
	Offline Status = "offline"
)

// Observer is told about every recorded heartbeat (metrics).
type Observer interface {
	HeartbeatRecorded(created, changed bool)
}

// Options configures a Service.
type Options struct {
	Store        Store
	Clock        func() time.Time // defaults to time.Now
	OfflineAfter time.Duration    // defaults to DefaultOfflineAfter
	Logger       *slog.Logger     // defaults to slog.Default()
	Observer     Observer         // optional
	Sources      SourcePolicy     // optional: nil accepts every source IP
	// LogEachHeartbeat logs every heartbeat at info level (the seed's
	// "✅ update" lines of the text format). Otherwise only IP changes are
	// at info and plain heartbeats at debug: the access log already has
	// one line per request.
	LogEachHeartbeat bool
}

// Service applies the heartbeat, IP-change and liveness rules.
type Service struct {
	store        Store
	now          func() time.Time
	offlineAfter time.Duration
	log          *slog.Logger
	obs          Observer
	sources      SourcePolicy
	tenants      tenantCache
	// heartbeatLevel is the level of the line logged for a heartbeat that
	// changed no IP.
	heartbeatLevel slog.Level
}

// New returns a Service; Options.Store is required.
func New(o Options) *Service {
	s := &Service{store: o.Store, now: o.Clock, offlineAfter: o.OfflineAfter, log: o.Logger, obs: o.Observer, sources: o.Sources}
	if s.now == nil {
		s.now = time.Now
	}
	if s.offlineAfter <= 0 {
		s.offlineAfter = DefaultOfflineAfter
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.heartbeatLevel = slog.LevelDebug
	if o.LogEachHeartbeat {
		s.heartbeatLevel = slog.LevelInfo
	}
	return s
}

// Now returns the service clock's current time.
func (s *Service) Now() time.Time { return s.now() }

// ValidName reports whether name is an acceptable proxy name: 1 to 100
// characters, a letter or digit first, then letters, digits, '.', '_', '-'.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 100 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}
