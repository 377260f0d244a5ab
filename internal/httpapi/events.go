package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

// EventFilters select events.
type EventFilters struct {
	Type  string    `query:"type" maxLength:"100" pattern:"^(registered|ip_changed|offline|online|denied)(,(registered|ip_changed|offline|online|denied))*$" doc:"Comma-separated event types: registered, ip_changed, offline, online, denied." example:"offline,online"`
	Proxy string    `query:"proxy" maxLength:"100" doc:"Only this proxy." example:"edge-7"`
	Since time.Time `query:"since" doc:"Only events at or after this time (RFC 3339)."`
	Until time.Time `query:"until" doc:"Only events before this time (RFC 3339)."`
}

func (f EventFilters) query() (hub.EventQuery, error) {
	q := hub.EventQuery{Proxy: f.Proxy, Since: f.Since, Until: f.Until}
	if f.Type == "" {
		return q, nil
	}
	var err error
	q.Types, err = hub.ParseEventTypes("query.type", strings.Split(f.Type, ","))
	return q, err
}

// ListEventsInput selects a page of events.
type ListEventsInput struct {
	TenantPath
	EventFilters
	Cursor string `query:"cursor" maxLength:"100" doc:"next_cursor of the previous page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
}

// EventPageOutput wraps a page of events.
type EventPageOutput struct{ Body api.EventPage }

func (h *handlers) listEvents(ctx context.Context, in *ListEventsInput) (*EventPageOutput, error) {
	q, err := in.query()
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	if in.Cursor != "" {
		if q.BeforeID, err = decodeIDCursor(in.Cursor); err != nil {
			return nil, huma.Error422UnprocessableEntity("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: "not a cursor from a previous page"})
		}
	}
	q.Limit = in.Limit + 1
	ws, err := h.Hub.CachedWindows(ctx, in.Tenant)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &EventPageOutput{Body: api.EventPage{Events: []api.Event{}}}
	var last int64
	err = h.Hub.Events(ctx, in.Tenant, q, func(e hub.Event) error {
		if len(out.Body.Events) == in.Limit {
			out.Body.NextCursor = encodeIDCursor(last)
			return nil
		}
		out.Body.Events = append(out.Body.Events, flagged(eventOut(e), e, ws))
		last = e.ID
		return nil
	})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return out, nil
}

// StreamEventsInput selects the live stream.
type StreamEventsInput struct {
	TenantPath
	EventFilters
	LastEventID int64 `header:"Last-Event-ID" minimum:"0" doc:"Resume after this event id (browsers send it when they reconnect)."`
	// Authorization is read again while the stream is open: see
	// streamRecheck.
	Authorization string `header:"Authorization" hidden:"true"`
	After         int64  `query:"after" minimum:"0" doc:"Start after this event id; 0 (default) starts with new events only."`
}

// keepAlive is how often an idle stream sends a comment, so proxies and
// balancers do not close it.
var keepAlive = 15 * time.Second

// streamRecheck is how often an open stream checks its credential again
// (expiry, revocation of the API credential a JWT was issued for, deletion
// of the tenant): a stream ends within this of its credential ending, on
// whichever hub it is open, since each hub checks against the shared
// store.
var streamRecheck = 2 * time.Second

// streamBacklog is the most events sent per store read while catching up.
const streamBacklog = 500

func (h *handlers) registerEvents(a huma.API) {
	huma.Register(a, secured(huma.Operation{
		OperationID: "list-events", Method: http.MethodGet, Path: "/tenants/{tenant}/events", Tags: tagEvents,
		Summary:     "List events",
		Description: "The tenant's event stream (registered, ip_changed, offline, online, denied), newest first, with keyset pagination.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, access{policy.AuditRead, scopePath}), h.listEvents)
	sse.Register(a, streaming(secured(huma.Operation{
		OperationID: "stream-events", Method: http.MethodGet, Path: "/tenants/{tenant}/events/stream", Tags: tagEvents,
		Summary: "Stream events live",
		Description: "Server-Sent Events: every new event of the tenant as it happens, across all hubs sharing the database. " +
			"Each message's id is the event id; reconnecting with Last-Event-ID (or ?after=) resumes without loss. " +
			"An idle stream sends a comment every 15 s.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.AuditRead, scopePath})), map[string]any{"event": api.Event{}}, h.streamEvents)
}

func (h *handlers) streamEvents(ctx context.Context, in *StreamEventsInput, send sse.Sender) {
	q, err := in.query()
	if err != nil {
		return // unreachable: Huma validated the type pattern before the stream started
	}
	q.Ascending, q.Limit = true, streamBacklog
	wake, stop := h.Bus.Subscribe(in.Tenant)
	defer stop()
	switch {
	case in.LastEventID > 0:
		q.AfterID = in.LastEventID
	case in.After > 0:
		q.AfterID = in.After
	default:
		// Without a position the stream starts with new events: one that
		// cannot learn the newest id must not replay the whole history.
		if q.AfterID, err = h.Hub.LatestEventID(ctx, in.Tenant); err != nil {
			h.Logger.WarnContext(ctx, "event stream not opened", slog.String("error", err.Error()), slog.String("request_id", requestIDFrom(ctx)))
			return
		}
	}
	// Answer at once (status and headers), so clients and balancers see
	// the stream open before the first event.
	if err := h.comment(ctx, "stream open"); err != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	recheck := time.NewTicker(streamRecheck)
	defer recheck.Stop()
	for {
		// The windows as they are now flag what they hold back (re-read at
		// each wake-up, so a new window applies to what follows).
		windows, _ := h.Hub.CachedWindows(ctx, in.Tenant)
		// Catch up: read until a short page says we are at the end.
		for {
			n := 0
			err := h.Hub.Events(ctx, in.Tenant, q, func(e hub.Event) error {
				n++
				q.AfterID = e.ID
				return send(sse.Message{ID: int(e.ID), Data: flagged(eventOut(e), e, windows)})
			})
			if err != nil {
				if ctx.Err() == nil {
					h.Logger.WarnContext(ctx, "event stream ended", slog.String("error", err.Error()))
				}
				return
			}
			if n < streamBacklog {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-h.Lifetime.Done():
			return // the hub is shutting down; clients reconnect elsewhere with Last-Event-ID
		case <-wake:
		case <-tick.C:
			if err := h.comment(ctx, "keep-alive"); err != nil {
				return
			}
		case <-recheck.C:
			if !h.stillAllowed(ctx, in) {
				_ = h.comment(ctx, "credential no longer valid")
				return
			}
		}
	}
}

// comment writes an SSE comment line on the request's response writer.
func (h *handlers) comment(ctx context.Context, text string) error {
	ri := infoFrom(ctx)
	if ri == nil {
		return nil
	}
	rc := http.NewResponseController(&ri.w)
	_ = rc.SetWriteDeadline(time.Now().Add(sse.WriteTimeout))
	if _, err := ri.w.Write([]byte(": " + text + "\n\n")); err != nil {
		return err
	}
	return rc.Flush()
}

// stillAllowed authenticates and authorizes an open stream's credential
// again, as the gate did when it opened; a JWT's stream ends at its exp,
// without the leeway a request gets. A store that cannot answer keeps
// the stream open (the next check asks again); a refusal ends it.
func (h *handlers) stillAllowed(stream context.Context, in *StreamEventsInput) bool {
	ctx := stream
	if h.StoreTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(stream, h.StoreTimeout)
		defer cancel()
	}
	p, err := h.Auth.Authenticate(ctx, in.Authorization)
	if err == nil && !p.Expires.IsZero() && !h.Clock().Before(p.Expires) {
		err = fmt.Errorf("%w: the JWT expired at %s", auth.ErrUnauthenticated, p.Expires.UTC().Format(time.RFC3339))
	}
	if err == nil {
		err = h.Authz.Authorize(ctx, p, policy.AuditRead, policy.Resource{TenantID: in.Tenant})
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, hub.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return stream.Err() == nil // the store did not answer in time: ask again at the next check
	}
	h.Logger.InfoContext(ctx, "event stream closed: credential no longer valid", slog.String("reason", err.Error()),
		slog.String("tenant", in.Tenant), slog.String("request_id", requestIDFrom(ctx)))
	return false
}

// flagged sets out's in_maintenance when a window of ws held e back.
func flagged(out api.Event, e hub.Event, ws []hub.MaintenanceWindow) api.Event {
	switch e.Type {
	case hub.EventOffline, hub.EventOnline, hub.EventIPChanged:
		out.InMaintenance = hub.InMaintenance(ws, e.Proxy, e.At)
	}
	return out
}
