package httpapi_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/httpapi"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

func TestEvents_ListPagesAndFilters(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	viewer := th.jwt("acme", auth.RoleViewer)
	th.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK)
	th.heartbeat(tok, "edge-2", "203.0.113.2:1", http.StatusOK)
	th.heartbeat(tok, "edge-1", "203.0.113.9:1", http.StatusOK)
	th.clock.Advance(2 * time.Minute)
	sw := hub.NewSweeper(th.live, th.clock.Now, nil, nil)
	if evs, err := sw.SweepOnce(context.Background()); err != nil || len(evs) != 2 {
		t.Fatalf("sweep: %v %v", evs, err)
	}
	th.heartbeat(tok, "edge-1", "203.0.113.9:1", http.StatusOK)

	types := func(target string) string {
		t.Helper()
		res := th.do(request{target: target, bearer: viewer})
		if res.code != 200 {
			t.Fatalf("%s: %d %s", target, res.code, res.body)
		}
		var out []string
		for _, e := range res.json(t)["events"].([]any) {
			m := e.(map[string]any)
			out = append(out, m["type"].(string)+":"+m["proxy"].(string))
		}
		return strings.Join(out, " ")
	}
	if got := types("/v1/tenants/acme/events"); got != "online:edge-1 offline:edge-2 offline:edge-1 ip_changed:edge-1 registered:edge-2 registered:edge-1" {
		t.Fatalf("all events newest first: %s", got)
	}
	if got := types("/v1/tenants/acme/events?type=offline,online&proxy=edge-1"); got != "online:edge-1 offline:edge-1" {
		t.Fatalf("filtered: %s", got)
	}
	first := th.do(request{target: "/v1/tenants/acme/events?limit=4", bearer: viewer}).json(t)
	next := th.do(request{target: "/v1/tenants/acme/events?limit=4&cursor=" + first["next_cursor"].(string), bearer: viewer}).json(t)
	if len(first["events"].([]any)) != 4 || len(next["events"].([]any)) != 2 || next["next_cursor"] != nil {
		t.Fatalf("pages: %v / %v", first, next)
	}
	off := th.do(request{target: "/v1/tenants/acme/events?type=offline&proxy=edge-2", bearer: viewer}).json(t)["events"].([]any)[0].(map[string]any)
	if off["at"] != "2026-11-28T09:01:20.000Z" {
		t.Fatalf("offline event at %v, want the deadline (last heartbeat + 80 s)", off["at"])
	}
	assertProblem(t, th.do(request{target: "/v1/tenants/acme/events?type=exploded", bearer: viewer}), http.StatusUnprocessableEntity)
}

func TestProxyUpdate_PauseStopsFlipsAndOverrideChangesTheTimeout(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	admin := th.jwt("acme", auth.RoleAdmin)
	th.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK)
	th.heartbeat(tok, "edge-2", "203.0.113.2:1", http.StatusOK)
	res := th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme/proxies/edge-1", bearer: admin, body: map[string]any{"paused": true}})
	if res.code != 200 || res.json(t)["paused"] != true {
		t.Fatalf("pause: %d %s", res.code, res.body)
	}
	res = th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme/proxies/edge-2", bearer: admin, body: map[string]any{"offline_after": 10}})
	if b := res.json(t); res.code != 200 || b["offline_after"] != 10.0 || b["deadline"] != "2026-11-28T09:00:10.000Z" {
		t.Fatalf("override: %d %s", res.code, res.body)
	}
	th.clock.Advance(11 * time.Second)
	sw := hub.NewSweeper(th.live, th.clock.Now, nil, nil)
	evs, _ := sw.SweepOnce(context.Background())
	if len(evs) != 1 || evs[0].Proxy != "edge-2" {
		t.Fatalf("after 11 s: %+v (edge-2 has a 10 s timeout)", evs)
	}
	th.clock.Advance(time.Hour)
	if evs, _ := sw.SweepOnce(context.Background()); len(evs) != 0 {
		t.Fatalf("paused edge-1 flipped: %+v", evs)
	}
	assertProblem(t, th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme/proxies/nope", bearer: admin, body: map[string]any{"paused": true}}), http.StatusNotFound)
	assertProblem(t, th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme/proxies/edge-1", bearer: th.jwt("acme", auth.RoleViewer), body: map[string]any{"paused": false}}), http.StatusForbidden)
}

// sseClient reads events from a live stream.
type sseClient struct {
	t      *testing.T
	cancel context.CancelFunc
	lines  *bufio.Scanner
	body   io.Closer
}

func openStream(t *testing.T, url, bearer, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	c := &sseClient{t: t, cancel: cancel, lines: bufio.NewScanner(res.Body), body: res.Body}
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() { c.cancel(); c.body.Close() }

// next returns the next event's id and data, skipping comments.
func (c *sseClient) next() (int64, map[string]any) {
	c.t.Helper()
	done := make(chan struct{})
	var id int64
	var data map[string]any
	go func() {
		defer close(done)
		for c.lines.Scan() {
			line := c.lines.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id, _ = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &data)
			case line == "" && data != nil:
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.t.Fatal("no event within 5 s")
	}
	return id, data
}

func TestEventStream_LiveAndResumableWithLastEventID(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	srv := httptest.NewServer(th.handler)
	t.Cleanup(srv.Close) // after the streams close (cleanups run last-in first-out)
	viewer := th.jwt("acme", auth.RoleViewer)
	url := srv.URL + "/v1/tenants/acme/events/stream"

	th.heartbeat(tok, "edge-0", "203.0.113.1:1", http.StatusOK) // before the stream: not sent
	s := openStream(t, url, viewer, "")
	time.Sleep(100 * time.Millisecond) // let the stream subscribe
	for i := 1; i <= 3; i++ {
		th.heartbeat(tok, fmt.Sprintf("edge-%d", i), "203.0.113.1:1", http.StatusOK)
	}
	var lastID int64
	for i := 1; i <= 3; i++ {
		id, ev := s.next()
		if ev["type"] != "registered" || ev["proxy"] != fmt.Sprintf("edge-%d", i) || id <= lastID {
			t.Fatalf("live event %d: id %d %v", i, id, ev)
		}
		lastID = id
	}
	s.close()

	// Events while disconnected arrive after reconnecting with Last-Event-ID.
	th.heartbeat(tok, "edge-1", "203.0.113.2:1", http.StatusOK)
	th.heartbeat(tok, "edge-4", "203.0.113.1:1", http.StatusOK)
	r := openStream(t, url, viewer, strconv.FormatInt(lastID, 10))
	id1, ev1 := r.next()
	id2, ev2 := r.next()
	if ev1["type"] != "ip_changed" || ev1["old_ip"] != "203.0.113.1" || ev2["proxy"] != "edge-4" || id1 <= lastID || id2 <= id1 {
		t.Fatalf("resumed: %d %v, %d %v", id1, ev1, id2, ev2)
	}
	// And other tenants' events never show up.
	th.tenant("globex")
	th.heartbeat(th.token("globex"), "edge-9", "203.0.113.1:1", http.StatusOK)
	th.heartbeat(tok, "edge-5", "203.0.113.1:1", http.StatusOK)
	if _, ev := r.next(); ev["proxy"] != "edge-5" {
		t.Fatalf("next event %v, want acme's edge-5", ev)
	}
}

func TestEventStream_IdleStreamSendsKeepAliveComments(t *testing.T) {
	th, _ := newAcme(t)
	restore := httpapiKeepAlive(50 * time.Millisecond)
	defer restore()
	srv := httptest.NewServer(th.handler)
	t.Cleanup(srv.Close) // after the streams close (cleanups run last-in first-out)
	s := openStream(t, srv.URL+"/v1/tenants/acme/events/stream", th.jwt("acme", auth.RoleViewer), "")
	deadline := time.After(5 * time.Second)
	got := make(chan string, 1)
	go func() {
		for s.lines.Scan() {
			if strings.HasPrefix(s.lines.Text(), ": keep-alive") {
				got <- s.lines.Text()
				return
			}
		}
	}()
	select {
	case <-got:
	case <-deadline:
		t.Fatal("no keep-alive comment")
	}
}

// TestProxyList_StatusFilterFollowsEachProxysTimeout: the status filter of
// the proxy list agrees with each proxy's own status, per-proxy timeouts
// included (before the sweeper has flipped anything).
func TestProxyList_StatusFilterFollowsEachProxysTimeout(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t) // the tenant's timeout: 80 s
	admin := th.jwt("acme", auth.RoleAdmin)
	for _, name := range []string{"edge-1", "edge-2", "edge-3"} {
		th.heartbeat(tok, name, "203.0.113.1:1", http.StatusOK)
	}
	for name, secs := range map[string]int{"edge-1": 10, "edge-3": 300} {
		if res := th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme/proxies/" + name, bearer: admin, body: map[string]any{"offline_after": secs}}); res.code != 200 {
			t.Fatalf("set %s's timeout: %d %s", name, res.code, res.body)
		}
	}
	list := func(query string) (names []string, statuses []string) {
		for _, p := range th.do(request{target: "/v1/tenants/acme/proxies" + query, bearer: admin}).json(t)["proxies"].([]any) {
			m := p.(map[string]any)
			names, statuses = append(names, m["name"].(string)), append(statuses, m["status"].(string))
		}
		return names, statuses
	}
	for _, tc := range []struct {
		after           time.Duration
		online, offline string
	}{
		{5 * time.Second, "[edge-1 edge-2 edge-3]", "[]"},
		{30 * time.Second, "[edge-2 edge-3]", "[edge-1]"},  // edge-1's own 10 s passed
		{120 * time.Second, "[edge-3]", "[edge-1 edge-2]"}, // the tenant's 80 s passed; edge-3 has 300 s
		{301 * time.Second, "[]", "[edge-1 edge-2 edge-3]"},
	} {
		th.clock.Set(start.Add(tc.after))
		on, onStatus := list("?status=online")
		off, offStatus := list("?status=offline")
		if fmt.Sprint(on) != tc.online || fmt.Sprint(off) != tc.offline {
			t.Fatalf("after %v: online %v, offline %v; want %s and %s", tc.after, on, off, tc.online, tc.offline)
		}
		for _, s := range onStatus {
			if s != "online" {
				t.Fatalf("after %v: the online filter listed a proxy whose status is %s", tc.after, s)
			}
		}
		for _, s := range offStatus {
			if s != "offline" {
				t.Fatalf("after %v: the offline filter listed a proxy whose status is %s", tc.after, s)
			}
		}
	}
}

// TestProxyList_ResumedProxyIsOnlineInViewAndFilterAlike: a proxy resumed
// after a long pause gets a fresh deadline (resumption + timeout); its
// status and the status filters agree on it.
func TestProxyList_ResumedProxyIsOnlineInViewAndFilterAlike(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t) // the tenant's timeout: 80 s
	admin := th.jwt("acme", auth.RoleAdmin)
	th.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK)
	patch := func(paused bool) map[string]any {
		res := th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme/proxies/edge-1", bearer: admin, body: map[string]any{"paused": paused}})
		if res.code != 200 {
			t.Fatalf("paused=%v: %d %s", paused, res.code, res.body)
		}
		return res.json(t)
	}
	patch(true)
	th.clock.Advance(200 * time.Second)
	if got := patch(false); got["status"] != "online" || got["deadline"] != "2026-11-28T09:04:40.000Z" {
		t.Fatalf("resumed proxy: %v; want online until resumption + 80 s", got)
	}
	for query, want := range map[string]int{"?status=online": 1, "?status=offline": 0} {
		ps := th.do(request{target: "/v1/tenants/acme/proxies" + query, bearer: admin}).json(t)["proxies"].([]any)
		if len(ps) != want {
			t.Fatalf("%s after the resumption: %v; want %d", query, ps, want)
		}
	}
	if one := th.do(request{target: "/v1/tenants/acme/proxies/edge-1", bearer: admin}).json(t); one["status"] != "online" {
		t.Fatalf("GET the resumed proxy: %v", one)
	}
}

// latestEventFails is a store whose newest-event read fails: the read a
// stream opened without a position makes first.
type latestEventFails struct{ hub.Store }

func (s latestEventFails) ScanEvents(ctx context.Context, tenant string, q hub.EventQuery, fn func(hub.Event) error) error {
	if !q.Ascending && q.Limit == 1 {
		return errors.New("connection reset by peer")
	}
	return s.Store.ScanEvents(ctx, tenant, q, fn)
}

// TestEventStream_WithoutItsStartingPointSendsNoHistory: a stream opened
// without Last-Event-ID starts with new events; when the hub cannot learn
// where "new" starts, it ends the stream rather than replay the history.
func TestEventStream_WithoutItsStartingPointSendsNoHistory(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t, withStore(latestEventFails{memory.New()}))
	th.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK) // a registered event
	srv := httptest.NewServer(th.handler)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/tenants/acme/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+th.jwt("acme", auth.RoleViewer))
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("the stream did not end: %v", err)
	}
	if strings.Contains(string(b), "data:") {
		t.Fatalf("the stream replayed history:\n%s", b)
	}
	if !strings.Contains(th.logs.String(), "event stream not opened") {
		t.Fatalf("the failure is not logged:\n%s", th.logs)
	}
}

// Finding: an open event stream kept delivering after its API credential
// was revoked, and after its JWT expired. A stream checks its credential
// again every few seconds and ends when it no longer holds.
func TestEventStream_EndsWhenItsCredentialIsRevokedOrExpires(t *testing.T) {
	restore := httpapi.SetStreamRecheck(200 * time.Millisecond)
	defer restore()
	th, _ := newAcme(t)
	srv := httptest.NewServer(th.handler)
	t.Cleanup(srv.Close)
	url := srv.URL + "/v1/tenants/acme/events/stream"
	admin := th.jwt("acme", auth.RoleAdmin)

	// ends waits for the stream to end and returns when it did.
	ends := func(ended <-chan time.Time) time.Time {
		select {
		case at := <-ended:
			return at
		case <-time.After(10 * time.Second):
			t.Fatal("the stream is still open 10 s later")
			return time.Time{}
		}
	}

	// An API credential's JWT, revoked while its stream is open.
	cred := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/credentials", bearer: admin,
		body: map[string]any{"role": "viewer", "label": "dashboard"}}).json(t)
	res := th.exchange(cred["client_id"].(string), cred["client_secret"].(string))
	ended := streamEnded(openStream(t, url, res.json(t)["access_token"].(string), ""))
	time.Sleep(300 * time.Millisecond) // open and checked at least once
	revoked := time.Now()
	if res := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/credentials/" + cred["client_id"].(string), bearer: admin}); res.code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.code, res.body)
	}
	if took := ends(ended).Sub(revoked); took > 3*time.Second {
		t.Errorf("stream ended %s after the revocation", took)
	}

	// A JWT that expires while its stream is open (by the hub's clock,
	// without the leeway a request gets for clock skew).
	short, err := th.signer.Sign("dashboard", "acme", auth.RoleViewer, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ended = streamEnded(openStream(t, url, short, ""))
	time.Sleep(300 * time.Millisecond) // open and checked at least once
	select {
	case <-ended:
		t.Fatal("the stream ended before its JWT expired")
	default:
	}
	th.clock.Advance(jwtExpiry(t, short).Sub(th.clock.Now()) + time.Second)
	expired := time.Now()
	if took := ends(ended).Sub(expired); took > 3*time.Second {
		t.Errorf("stream ended %s after its JWT expired", took)
	}
	if !strings.Contains(th.logs.String(), "event stream closed: credential no longer valid") {
		t.Error("the closing is not logged")
	}
}

// jwtExpiry reads a JWT's exp claim (no verification: the hub made it).
func jwtExpiry(t *testing.T, token string) time.Time {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return time.Unix(claims.Exp, 0)
}

// streamEnded reads s to its end and then says when it ended.
func streamEnded(s *sseClient) <-chan time.Time {
	ended := make(chan time.Time, 1)
	go func() {
		for s.lines.Scan() {
		}
		ended <- time.Now()
	}()
	return ended
}
