package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/secretbox"
)

// Defaults of Config.
const (
	// DefaultTimeout is how long one delivery (HTTP or SMTP) may take.
	DefaultTimeout = 10 * time.Second
	// DefaultMinInterval is the per-webhook rate limit: one message per 2 s.
	DefaultMinInterval = 2 * time.Second
	// DefaultGiveUpAfter is how long a failing batch is retried; more than
	// 24 h, so that "retries for at least 24 h" holds whatever the backoff.
	DefaultGiveUpAfter = 25 * time.Hour
	// DefaultBatchMax is the most events in one message. It is at least a
	// sweep's size, so that the flips of one sweep go out as one message.
	DefaultBatchMax = 1000
	// DefaultPoll is how often Run looks for due webhooks.
	DefaultPoll = time.Second
)

// Backoff between failed attempts at one batch: BackoffBase after the
// first failure, doubling, at most BackoffMax, each ±10 % jitter.
const (
	// BackoffBase is the wait after the first failure of a batch.
	BackoffBase = 10 * time.Second
	// BackoffMax caps the wait between attempts.
	BackoffMax = time.Hour
	// MaxRetryAfter caps how long a receiver's Retry-After may postpone
	// the next attempt.
	MaxRetryAfter = 6 * time.Hour
)

// LeaderName is the leadership the dispatcher takes (store Leader), so one
// hub among those sharing a database delivers.
const LeaderName = "proxyhub-dispatcher"

// parallel is how many webhooks one pass delivers to at the same time.
const parallel = 8

// Store is what the dispatcher needs from the store: webhooks and their
// delivery log, the event stream, and leadership (a consumer-side
// interface). *memory.Store satisfies it, and so must the PostgreSQL store.
type Store interface {
	hub.WebhookStore
	hub.MaintenanceStore
	ScanEvents(ctx context.Context, tenantID string, q hub.EventQuery, fn func(hub.Event) error) error
	Leader(ctx context.Context, name string) (bool, error)
	ListTenants(ctx context.Context) ([]hub.Tenant, error)
	ListProxies(ctx context.Context, tenantID string, q hub.ProxyQuery) ([]hub.Proxy, error)
}

// SMTPConfig is the mail relay for email webhooks (PROXYHUB_SMTP_*).
type SMTPConfig struct {
	Addr     string // host:port of the relay; empty: email webhooks fail with "not configured"
	From     string // sender address, "proxyhub <alerts@example.com>" or a bare address
	Username string // PLAIN auth when set (only over TLS or to localhost)
	Password string // never logged nor kept in a delivery log
}

// Config tunes a Dispatcher. Zero fields take their defaults.
type Config struct {
	AllowPrivate bool          // PROXYHUB_WEBHOOK_ALLOW_PRIVATE: let webhooks reach private addresses
	Timeout      time.Duration // per delivery (HTTP or SMTP); DefaultTimeout
	MinInterval  time.Duration // at most one message per webhook per this; DefaultMinInterval
	GiveUpAfter  time.Duration // a batch failing this long is skipped; DefaultGiveUpAfter
	BatchMax     int           // most events in one message; DefaultBatchMax (at least a sweep's size, so a sweep is one message)
	Poll         time.Duration // how often Run looks for due webhooks; DefaultPoll
	SMTP         SMTPConfig
	// Secrets opens the webhooks' sealed signing secrets: the hub's Box
	// (hub.Options.Secrets). Nil: hub.EphemeralSecrets.
	Secrets    *secretbox.Box
	Now        func() time.Time // the clock for scheduling and the delivery log; time.Now
	Logger     *slog.Logger     // nil: discard
	HTTPClient *http.Client     // optional override (tests); default: GuardedClient(AllowPrivate, Timeout)
	// ProviderURLs replaces the fixed hosts of services (keys: their
	// base URLs, e.g. https://api.telegram.org), for tests only: neither
	// tenants nor settings can set it.
	ProviderURLs map[string]string
}

// Dispatcher delivers events to webhooks. Run it on every hub: only the
// leader delivers.
type Dispatcher struct {
	s      Store
	cfg    Config
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	followedUp time.Time // the latest look at ended maintenance windows (RunOnce)
}

// NewDispatcher returns a Dispatcher over s with cfg's zero fields set to
// their defaults.
func NewDispatcher(s Store, cfg Config) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = DefaultMinInterval
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = DefaultGiveUpAfter
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = DefaultBatchMax
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Secrets == nil {
		cfg.Secrets = hub.EphemeralSecrets()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	client := cfg.HTTPClient
	if client == nil {
		client = GuardedClient(cfg.AllowPrivate, cfg.Timeout)
	}
	return &Dispatcher{s: s, cfg: cfg, client: client, log: cfg.Logger, now: cfg.Now}
}

// Run loops until ctx ends: every Poll, when this instance is the leader
// (s.Leader(ctx, LeaderName)), it delivers to the due webhooks (RunOnce).
// Store errors are logged and retried at the next poll. It returns nil
// when ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	leading := false
	for {
		lead, err := d.s.Leader(ctx, LeaderName)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			d.log.Warn("webhook dispatcher: leadership check failed", "error", err)
		default:
			if lead != leading {
				leading = lead
				d.log.Info("webhook dispatcher leadership", "leader", lead)
			}
			if lead {
				if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
					d.log.Warn("webhook dispatcher pass failed", "error", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce does one pass: it delivers one message (or records one failure)
// to each due webhook, several webhooks at a time. It returns how many
// messages were delivered successfully, and the store errors met (a
// receiver's failure is not an error: it is recorded in the delivery log).
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	if now := d.now(); now.Sub(d.followedUp) >= FollowUpEvery || now.Before(d.followedUp) {
		if err := d.followUpWindows(ctx, now); err != nil && ctx.Err() == nil {
			d.log.Warn("maintenance follow-up failed", "error", err)
		} else {
			d.followedUp = now
		}
	}
	due, err := d.s.DueWebhooks(ctx, d.now())
	if err != nil {
		return 0, fmt.Errorf("notify: due webhooks: %w", err)
	}
	var (
		mu   sync.Mutex
		sent int
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, parallel)
	for _, w := range due {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ok, err := d.deliver(ctx, w)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				sent++
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("notify: webhook %s/%s: %w", w.TenantID, w.ID, err))
			}
		})
	}
	wg.Wait()
	return sent, errors.Join(errs...)
}

// errStop ends a scan early.
var errStop = errors.New("stop")

// newestEventID returns the id of the tenant's newest event (0: none).
func (d *Dispatcher) newestEventID(ctx context.Context, tenantID string) (int64, error) {
	var id int64
	err := d.s.ScanEvents(ctx, tenantID, hub.EventQuery{Limit: 1}, func(e hub.Event) error {
		id = e.ID
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return 0, fmt.Errorf("newest event: %w", err)
	}
	return id, nil
}

// scanBatch returns the webhook's events after its Cursor and up to bound,
// oldest first, at most BatchMax.
func (d *Dispatcher) scanBatch(ctx context.Context, w hub.Webhook, bound int64) ([]hub.Event, error) {
	var out []hub.Event
	q := hub.EventQuery{Types: w.Events, Ascending: true, AfterID: w.Cursor, BeforeID: bound + 1, Limit: d.cfg.BatchMax}
	err := d.s.ScanEvents(ctx, w.TenantID, q, func(e hub.Event) error {
		if e.ID > bound { // also when a store ignores BeforeID
			return errStop
		}
		out = append(out, e)
		if len(out) >= d.cfg.BatchMax {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("scan events: %w", err)
	}
	return out, nil
}

// lastAttempt returns the webhook's newest delivery that is not a test,
// looking back at most 100 entries.
func (d *Dispatcher) lastAttempt(ctx context.Context, w hub.Webhook) (hub.Delivery, bool, error) {
	const page = 20
	var before int64
	for range 5 {
		ds, err := d.s.ListDeliveries(ctx, w.TenantID, w.ID, before, page)
		if err != nil {
			return hub.Delivery{}, false, fmt.Errorf("delivery log: %w", err)
		}
		for _, x := range ds {
			if !x.Test {
				return x, true, nil
			}
		}
		if len(ds) < page {
			break
		}
		before = ds[len(ds)-1].ID
	}
	return hub.Delivery{}, false, nil
}

// healthy resets w's retry state; the webhook may send again at next.
func healthy(w *hub.Webhook, next time.Time) {
	w.Attempt, w.FailingSince, w.NextAttemptAt = 0, time.Time{}, next
}

// save stores w's delivery state; a webhook deleted meanwhile is fine.
func (d *Dispatcher) save(ctx context.Context, w hub.Webhook) error {
	if err := d.s.SaveDeliveryState(ctx, w); err != nil && !errors.Is(err, hub.ErrNotFound) {
		return fmt.Errorf("save delivery state: %w", err)
	}
	return nil
}

// record appends to the delivery log; gone reports a deleted webhook.
func (d *Dispatcher) record(ctx context.Context, del hub.Delivery) (id int64, gone bool, err error) {
	id, err = d.s.RecordDelivery(ctx, del)
	if errors.Is(err, hub.ErrNotFound) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("record delivery: %w", err)
	}
	return id, false, nil
}

// deliver sends one message to w, or records why it could not, and
// stores w's new delivery state. It reports whether a message was
// delivered.
func (d *Dispatcher) deliver(ctx context.Context, w hub.Webhook) (bool, error) {
	newest, err := d.newestEventID(ctx, w.TenantID)
	if err != nil || newest <= w.Cursor {
		return false, err
	}
	bound := newest

	// The delivery log says what the last attempt did. A failed batch is
	// retried exactly (same events, same webhook-id); a success or give-up
	// whose state was not saved (crash between the two writes) is caught
	// up without sending again.
	last, found, err := d.lastAttempt(ctx, w)
	if err != nil {
		return false, err
	}
	if found && last.LastEventID > w.Cursor {
		if last.Error == "" || last.GaveUp {
			w.Cursor = last.LastEventID
			healthy(&w, last.At.Add(d.cfg.MinInterval))
			return false, d.save(ctx, w)
		}
		if last.LastEventID < bound {
			bound = last.LastEventID
		}
		if w.Attempt < last.Attempt {
			w.Attempt = last.Attempt
		}
		if w.FailingSince.IsZero() {
			w.FailingSince = last.At
		}
	}

	events, err := d.scanBatch(ctx, w, bound)
	if err != nil {
		return false, err
	}
	if len(events) == 0 {
		// Everything up to bound was scanned and none of it is for this
		// webhook: move past it. Never past bound: later events were not
		// scanned.
		w.Cursor = bound
		healthy(&w, w.NextAttemptAt)
		return false, d.save(ctx, w)
	}
	upto := bound // the scan covered everything up to bound…
	if len(events) >= d.cfg.BatchMax {
		upto = events[len(events)-1].ID // …unless it stopped at BatchMax
	}
	if events, err = d.outsideMaintenance(ctx, w.TenantID, events); err != nil {
		return false, err
	}
	if len(events) == 0 { // all held back by maintenance windows
		w.Cursor = upto
		healthy(&w, w.NextAttemptAt)
		return false, d.save(ctx, w)
	}

	start := d.now()
	m := message{id: batchID(w.ID, events), tenant: w.TenantID, events: events, at: start}
	status, sendErr := d.send(ctx, w, m)
	if sendErr != nil && ctx.Err() != nil {
		return false, ctx.Err() // shutting down: not an attempt
	}
	end := d.now()
	del := hub.Delivery{
		TenantID: w.TenantID, WebhookID: w.ID, At: start, Attempt: w.Attempt + 1, StatusCode: status,
		FirstEventID: events[0].ID, LastEventID: events[len(events)-1].ID, Events: len(events),
	}
	logArgs := []any{"tenant", w.TenantID, "webhook", w.ID, "kind", w.Kind, "events", len(events),
		"first_event", del.FirstEventID, "last_event", del.LastEventID, "attempt", del.Attempt}

	if sendErr == nil {
		_, gone, recErr := d.record(ctx, del)
		if gone {
			return true, nil
		}
		w.Cursor = upto
		healthy(&w, end.Add(d.cfg.MinInterval))
		d.log.Debug("webhook delivered", append(logArgs, "status", status)...)
		return true, errors.Join(recErr, d.save(ctx, w))
	}

	var detail string
	del.Error, detail = d.errorText(sendErr, w)
	logArgs = append(logArgs, "detail", detail)
	failingSince := w.FailingSince
	if failingSince.IsZero() {
		failingSince = start
	}
	var refused *httpFailure
	permanent := errors.As(sendErr, &refused) && refused.permanent()
	if permanent || end.Sub(failingSince) >= d.cfg.GiveUpAfter {
		del.GaveUp = true
		if permanent {
			del.Error = truncate(fmt.Sprintf("gave up: the receiver refused the message (%s); retrying would not help", del.Error), maxErrorLen)
		} else {
			del.Error = truncate(fmt.Sprintf("gave up after %d attempts over %s: %s",
				del.Attempt, end.Sub(failingSince).Round(time.Second), del.Error), maxErrorLen)
		}
		_, gone, recErr := d.record(ctx, del)
		if gone {
			return false, nil
		}
		w.Cursor = upto
		healthy(&w, end.Add(d.cfg.MinInterval))
		d.log.Error("webhook delivery given up: batch skipped", append(logArgs, "status", status, "error", del.Error)...)
		return false, errors.Join(recErr, d.save(ctx, w))
	}
	_, gone, recErr := d.record(ctx, del)
	if gone {
		return false, nil
	}
	w.Attempt = del.Attempt
	w.FailingSince = failingSince
	wait := max(backoff(w.Attempt), d.cfg.MinInterval)
	if refused != nil && refused.retryAfter > wait {
		wait = min(refused.retryAfter, MaxRetryAfter) // the receiver asked to wait longer
	}
	w.NextAttemptAt = end.Add(wait)
	d.log.Warn("webhook delivery failed", append(logArgs, "status", status, "error", del.Error, "next_attempt", w.NextAttemptAt)...)
	return false, errors.Join(recErr, d.save(ctx, w))
}

// backoff is the wait after the attempt-th consecutive failure:
// BackoffBase doubling per attempt, capped at BackoffMax, ±10 % jitter.
func backoff(attempt int) time.Duration {
	d := BackoffMax
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		d = min(BackoffBase<<(attempt-1), BackoffMax)
	}
	return time.Duration(float64(d) * (0.9 + 0.2*mrand.Float64()))
}

// SendTest sends a test message to w now (POST …/webhooks/{id}/test),
// whether or not it is enabled, and records it as a Delivery{Test: true}.
// It does not touch w's cursor or retry state. A failed send is reported
// in the returned Delivery's Error and StatusCode; the error is about
// recording it (hub.ErrNotFound when the webhook was deleted).
func (d *Dispatcher) SendTest(ctx context.Context, w hub.Webhook) (hub.Delivery, error) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	start := d.now()
	m := message{id: w.ID + ":test:" + hex.EncodeToString(nonce), tenant: w.TenantID, test: true, at: start}
	var answer string
	status, err := d.send(withResponseReport(ctx, &answer), w, m)
	del := hub.Delivery{TenantID: w.TenantID, WebhookID: w.ID, At: start, Attempt: 1, StatusCode: status, Test: true}
	// The receiver's answer is shown only for public destinations: with
	// private ones allowed it could be an internal service's data.
	if !d.cfg.AllowPrivate {
		del.Response = d.redact(answer, w)
	}
	var detail string
	if err != nil {
		del.Error, detail = d.errorText(err, w)
	}
	id, recErr := d.s.RecordDelivery(ctx, del)
	if recErr != nil {
		return del, fmt.Errorf("notify: record test delivery: %w", recErr)
	}
	del.ID = id
	d.log.Info("webhook test message", "tenant", w.TenantID, "webhook", w.ID, "kind", w.Kind, "status", status, "error", del.Error, "detail", detail)
	return del, nil
}

// FollowUpEvery is how often the leader looks for maintenance windows
// that have ended: their still-offline proxies are alerted within this of
// the end.
const FollowUpEvery = 10 * time.Second

// held are the event types a maintenance window holds back.
var held = map[hub.EventType]bool{hub.EventOffline: true, hub.EventOnline: true, hub.EventIPChanged: true}

// outsideMaintenance drops from events the flips, returns and IP changes
// of proxies a window of the tenant covered when they happened. They stay
// in the history and the event stream; no target is told.
func (d *Dispatcher) outsideMaintenance(ctx context.Context, tenantID string, events []hub.Event) ([]hub.Event, error) {
	ws, err := d.s.ListWindows(ctx, tenantID)
	if err != nil || len(ws) == 0 {
		return events, err
	}
	out := events[:0:0]
	for _, e := range events {
		if !held[e.Type] || !hub.InMaintenance(ws, e.Proxy, e.At) {
			out = append(out, e)
		}
	}
	return out, nil
}

// followUpWindows alerts, once per occurrence, the proxies that went
// offline during a window and are still offline after it: an offline
// event at the window's end, which the targets then get as usual.
func (d *Dispatcher) followUpWindows(ctx context.Context, now time.Time) error {
	tenants, err := d.s.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("tenants: %w", err)
	}
	for _, t := range tenants {
		ws, err := d.s.ListWindows(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("windows of %s: %w", t.ID, err)
		}
		var proxies []hub.Proxy // read once per tenant, when needed
		for _, w := range ws {
			start, end := w.LastOccurrence(now)
			if end.IsZero() || !end.After(w.FollowedUpTo) {
				continue
			}
			if proxies == nil {
				if proxies, err = d.s.ListProxies(ctx, t.ID, hub.ProxyQuery{}); err != nil {
					return fmt.Errorf("proxies of %s: %w", t.ID, err)
				}
			}
			var reminders []hub.Event
			for _, p := range proxies {
				wentOfflineInside := !p.Deadline.Before(start) && p.Deadline.Before(end)
				if w.Covers(p.Name) && !p.Paused && p.State == hub.StateOffline && wentOfflineInside && !hub.InMaintenance(ws, p.Name, now) {
					reminders = append(reminders, hub.Event{Proxy: p.Name, At: end, NewIP: p.IP})
				}
			}
			if err := d.s.AppendOfflineEvents(ctx, t.ID, reminders); err != nil {
				return fmt.Errorf("reminders of %s: %w", t.ID, err)
			}
			w.FollowedUpTo = end
			if err := d.s.SetWindowTimes(ctx, w); err != nil && !errors.Is(err, hub.ErrNotFound) {
				return fmt.Errorf("window %s of %s: %w", w.ID, t.ID, err)
			}
			if len(reminders) > 0 {
				d.log.Info("maintenance ended: proxies still offline", "tenant", t.ID, "window", w.ID, "count", len(reminders))
			}
		}
	}
	return nil
}
