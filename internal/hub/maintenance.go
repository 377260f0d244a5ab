package hub

import (
	"context"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// A maintenance window silences notifications for a tenant, one proxy or
// the proxies whose names match a pattern: offline flips, returns and IP
// changes inside it are recorded as always but sent to no notification
// target; when it ends, the proxies it covered that are still offline are
// alerted once. It is one-off (Start to End) or recurring (a cron
// expression in a named time zone, each occurrence lasting Duration).

// MaintenanceWindow is one window of a tenant.
type MaintenanceWindow struct {
	ID       string
	TenantID string
	Label    string
	Proxy    string // one proxy, by name; empty: see Pattern
	Pattern  string // proxies whose names match (path.Match: edge-*); both empty: every proxy
	// One-off windows.
	Start, End time.Time
	// Recurring windows.
	Cron     string // five fields: minute hour day-of-month month day-of-week
	Duration time.Duration
	TimeZone string // IANA name; empty: UTC
	// EndedAt ends the window early (zero: it runs its course): no
	// occurrence is active from then on.
	EndedAt   time.Time
	CreatedAt time.Time
	// FollowedUpTo is the end of the latest occurrence whose still-offline
	// proxies were alerted (the dispatcher's bookkeeping).
	FollowedUpTo time.Time
}

// MaxMaintenanceDuration bounds one occurrence of a window.
const MaxMaintenanceDuration = 7 * 24 * time.Hour

// MaintenanceStore keeps maintenance windows.
type MaintenanceStore interface {
	// CreateWindow stores a new window; ErrNotFound when the tenant does
	// not exist.
	CreateWindow(ctx context.Context, w MaintenanceWindow) error
	// ListWindows returns the tenant's windows, oldest first.
	ListWindows(ctx context.Context, tenantID string) ([]MaintenanceWindow, error)
	// SetWindowTimes stores EndedAt and FollowedUpTo of w; ErrNotFound when
	// the tenant has no such window.
	SetWindowTimes(ctx context.Context, w MaintenanceWindow) error
	// DeleteWindow removes a window; ErrNotFound when missing.
	DeleteWindow(ctx context.Context, tenantID, id string) error
	// AppendOfflineEvents appends offline events (Type, Proxy, At, NewIP)
	// to the tenant's stream, in order: the reminders of proxies still
	// offline when a window ends.
	AppendOfflineEvents(ctx context.Context, tenantID string, events []Event) error
}

// schedule parses a window's cron expression in its time zone.
func (w MaintenanceWindow) schedule() (cron.Schedule, *time.Location, error) {
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		return nil, nil, fmt.Errorf("time zone %q: %w", w.TimeZone, err)
	}
	s, err := cron.ParseStandard(w.Cron)
	if err != nil {
		return nil, nil, err
	}
	return s, loc, nil
}

// Covers reports whether the window applies to the proxy named name.
func (w MaintenanceWindow) Covers(name string) bool {
	switch {
	case w.Proxy != "":
		return w.Proxy == name
	case w.Pattern != "":
		ok, _ := path.Match(w.Pattern, name)
		return ok
	}
	return true
}

// Occurrence returns the occurrence of the window that contains t: its
// start and end (cut short by EndedAt), and whether there is one.
func (w MaintenanceWindow) Occurrence(t time.Time) (start, end time.Time, ok bool) {
	start = w.Start
	if w.Cron != "" {
		s, loc, err := w.schedule()
		if err != nil {
			return time.Time{}, time.Time{}, false
		}
		// The first start at or after t - Duration is the only one that
		// can still be running at t (cron's Next is strictly after).
		start = s.Next(t.Add(-w.Duration).In(loc).Add(-time.Second))
		if start.IsZero() { // a schedule that never fires
			return time.Time{}, time.Time{}, false
		}
	}
	end = w.endOf(start)
	if t.Before(start) || !t.Before(end) {
		return time.Time{}, time.Time{}, false
	}
	return start.UTC(), end.UTC(), true
}

// endOf is the end of the occurrence that starts at start: its duration
// (or End), cut short by EndedAt.
func (w MaintenanceWindow) endOf(start time.Time) time.Time {
	end := w.End
	if w.Cron != "" {
		end = start.Add(w.Duration)
	}
	if !w.EndedAt.IsZero() && w.EndedAt.Before(end) {
		end = w.EndedAt
	}
	return end
}

// LastOccurrence returns the start and end of the latest occurrence that
// is over at now (zeros: none is).
func (w MaintenanceWindow) LastOccurrence(now time.Time) (start, end time.Time) {
	bound := now // occurrences that start before bound
	if !w.EndedAt.IsZero() && w.EndedAt.Before(bound) {
		bound = w.EndedAt
	}
	// over returns the latest of starts whose occurrence is over at now,
	// and its end.
	over := func(starts []time.Time) (time.Time, time.Time, bool) {
		for i := len(starts) - 1; i >= 0; i-- {
			if end := w.endOf(starts[i]); !end.After(now) && end.After(starts[i]) {
				return starts[i].UTC(), end.UTC(), true
			}
		}
		return time.Time{}, time.Time{}, false
	}
	if w.Cron == "" {
		if w.Start.Before(bound) {
			start, end, _ = over([]time.Time{w.Start})
		}
		return start, end
	}
	s, loc, err := w.schedule()
	if err != nil {
		return time.Time{}, time.Time{}
	}
	// Look back a day past the duration, then further for schedules that
	// fire seldom; keep the last two starts before bound.
	for back := w.Duration + 24*time.Hour; back < 2*366*24*time.Hour; back *= 4 {
		var starts []time.Time
		for t := s.Next(bound.Add(-back).In(loc)); !t.IsZero() && t.Before(bound); t = s.Next(t) {
			if starts = append(starts, t); len(starts) > 2 {
				starts = starts[1:]
			}
		}
		if start, end, ok := over(starts); ok {
			return start, end
		}
	}
	return time.Time{}, time.Time{}
}

// InMaintenance reports whether a window of ws covers proxy name at t.
func InMaintenance(ws []MaintenanceWindow, name string, t time.Time) bool {
	for _, w := range ws {
		if w.Covers(name) {
			if _, _, ok := w.Occurrence(t); ok {
				return true
			}
		}
	}
	return false
}

// NewWindow is what a window's creation asks for.
type NewWindow struct {
	Label, Proxy, Pattern string
	Start, End            time.Time
	Cron                  string
	Duration              time.Duration
	TimeZone              string
}

// CreateWindow validates and stores a maintenance window of the tenant.
func (s *Service) CreateWindow(ctx context.Context, tenantID string, in NewWindow) (MaintenanceWindow, error) {
	now := s.timestamp()
	w := MaintenanceWindow{ID: auth.NewID("mw_"), TenantID: tenantID, Label: in.Label, Proxy: in.Proxy, Pattern: in.Pattern,
		Start: in.Start.UTC(), End: in.End.UTC(), Cron: in.Cron, Duration: in.Duration, TimeZone: in.TimeZone,
		CreatedAt: now, FollowedUpTo: now}
	if err := validateWindow(w); err != nil {
		return MaintenanceWindow{}, err
	}
	if err := s.store.CreateWindow(ctx, w); err != nil {
		return MaintenanceWindow{}, fmt.Errorf("create window: %w", err)
	}
	s.windowsChanged(tenantID)
	return w, nil
}

func validateWindow(w MaintenanceWindow) error {
	switch {
	case len(w.Label) > 100:
		return &FieldError{"body.label", "at most 100 characters"}
	case w.Proxy != "" && w.Pattern != "":
		return &FieldError{"body.pattern", "give proxy or pattern, not both"}
	case w.Proxy != "" && !ValidName(w.Proxy):
		return &FieldError{"body.proxy", NameRule}
	}
	if w.Pattern != "" {
		if _, err := path.Match(w.Pattern, ""); err != nil || len(w.Pattern) > 100 {
			return &FieldError{"body.pattern", "a name pattern like edge-* (*, ?, [a-z]), at most 100 characters"}
		}
	}
	if w.Cron == "" {
		switch {
		case w.Duration != 0 || w.TimeZone != "":
			return &FieldError{"body.cron", "duration and time_zone go with cron (a recurring window)"}
		case w.Start.IsZero() || w.End.IsZero():
			return &FieldError{"body.start", "a one-off window needs start and end (or cron and duration for a recurring one)"}
		case !w.End.After(w.Start):
			return &FieldError{"body.end", "must be after start"}
		case w.End.Sub(w.Start) > 366*24*time.Hour:
			return &FieldError{"body.end", "a one-off window lasts at most a year"}
		}
		return nil
	}
	switch {
	case !w.Start.IsZero() || !w.End.IsZero():
		return &FieldError{"body.start", "start and end are for one-off windows; a recurring one has cron and duration"}
	case w.Duration <= 0 || w.Duration > MaxMaintenanceDuration:
		return &FieldError{"body.duration", "from 1 s to 7 days"}
	}
	sched, loc, err := w.schedule()
	if err != nil {
		field := "body.cron"
		if _, lerr := time.LoadLocation(w.TimeZone); lerr != nil {
			field = "body.time_zone"
		}
		return &FieldError{field, err.Error()}
	}
	if sched.Next(w.CreatedAt.In(loc)).IsZero() {
		return &FieldError{"body.cron", "this schedule never fires"}
	}
	return nil
}

// Windows returns the tenant's maintenance windows, oldest first.
func (s *Service) Windows(ctx context.Context, tenantID string) ([]MaintenanceWindow, error) {
	return s.store.ListWindows(ctx, tenantID)
}

// EndWindow ends a window now: no occurrence is active from then on.
// Ending it twice keeps the first time.
func (s *Service) EndWindow(ctx context.Context, tenantID, id string) (MaintenanceWindow, error) {
	ws, err := s.store.ListWindows(ctx, tenantID)
	if err != nil {
		return MaintenanceWindow{}, err
	}
	for _, w := range ws {
		if w.ID != id {
			continue
		}
		if w.EndedAt.IsZero() {
			w.EndedAt = s.timestamp()
			if err := s.store.SetWindowTimes(ctx, w); err != nil {
				return MaintenanceWindow{}, err
			}
			s.windowsChanged(tenantID)
		}
		return w, nil
	}
	return MaintenanceWindow{}, fmt.Errorf("window %q: %w", id, ErrNotFound)
}

// DeleteWindow removes a window; what it silenced stays silenced.
func (s *Service) DeleteWindow(ctx context.Context, tenantID, id string) error {
	defer s.windowsChanged(tenantID)
	return s.store.DeleteWindow(ctx, tenantID, id)
}

// WindowsTTL is how long the event listings reuse a tenant's windows to
// flag what they held back (a live stream reads them at every wake-up).
// Changes made through this hub apply at once.
const WindowsTTL = 5 * time.Second

// windowCache keeps recently read windows by tenant, by the service clock.
type windowCache struct {
	mu sync.Mutex
	m  map[string]cachedWindows
}

type cachedWindows struct {
	ws []MaintenanceWindow
	at time.Time
}

// CachedWindows returns the tenant's windows, read at most every
// WindowsTTL: for flagging events, not for the window list itself.
func (s *Service) CachedWindows(ctx context.Context, tenantID string) ([]MaintenanceWindow, error) {
	now := s.now()
	s.windows.mu.Lock()
	e, ok := s.windows.m[tenantID]
	s.windows.mu.Unlock()
	if ok && !now.Before(e.at) && now.Sub(e.at) < WindowsTTL {
		return e.ws, nil
	}
	ws, err := s.store.ListWindows(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	s.windows.mu.Lock()
	if s.windows.m == nil || len(s.windows.m) >= 10000 {
		s.windows.m = map[string]cachedWindows{}
	}
	s.windows.m[tenantID] = cachedWindows{ws, now}
	s.windows.mu.Unlock()
	return ws, nil
}

// windowsChanged drops the tenant's cached windows.
func (s *Service) windowsChanged(tenantID string) {
	s.windows.mu.Lock()
	delete(s.windows.m, tenantID)
	s.windows.mu.Unlock()
}
