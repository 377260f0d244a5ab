package client_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/notify"
)

// End-to-end tests of the admin API through the SDK: each scenario runs on
// the memory store and on PostgreSQL (forEachStore), against the
// production handler stack over HTTP, and checks what a user of the SDK
// sees. Heartbeats are plain HTTP, as cron sends them.

func TestE2E_PlatformManagesTenants(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, h *hubUnderTest) {
		ctx := t.Context()

		created, err := h.Platform.CreateTenantWithResponse(ctx, client.TenantCreate{
			Id: "acme", Name: ptr("Acme Corp"), OfflineAfter: ptr(int64(120)),
		})
		check(t, err)
		acme := *created.JSON201
		if created.StatusCode() != http.StatusCreated || acme.Id != "acme" || acme.Name != "Acme Corp" || acme.OfflineAfter != 120 ||
			acme.MaxProxies != 10000 || !acme.AutoRegister || !acme.CreatedAt.Equal(t0) || !acme.UpdatedAt.Equal(t0) {
			t.Fatalf("created %d %+v", created.StatusCode(), acme)
		}
		// Defaults: the name is the id, offline after 80 s.
		if g := h.Tenant(t, "globex"); g.Name != "globex" || g.OfflineAfter != 80 {
			t.Fatalf("tenant defaults: %+v", g)
		}

		list, err := h.Platform.ListTenantsWithResponse(ctx)
		check(t, err)
		var ids []string
		for _, tn := range list.JSON200.Tenants {
			ids = append(ids, tn.Id)
		}
		if !slices.Equal(ids, []string{"acme", "globex"}) {
			t.Fatalf("tenants listed: %v", ids)
		}

		got, err := h.Platform.GetTenantWithResponse(ctx, "acme")
		check(t, err)
		if !sameTenant(*got.JSON200, acme) {
			t.Fatalf("get: %+v, created %+v", *got.JSON200, acme)
		}

		// PATCH changes what it names and keeps the rest.
		h.Clock.Advance(time.Minute)
		upd, err := h.Platform.UpdateTenantWithResponse(ctx, "acme", client.TenantUpdate{
			Name: ptr("Acme Inc"), MaxProxies: ptr(int64(500)), AutoRegister: ptr(false),
		})
		check(t, err)
		want := acme
		want.Name, want.MaxProxies, want.AutoRegister, want.UpdatedAt = "Acme Inc", 500, false, t0.Add(time.Minute)
		if !sameTenant(*upd.JSON200, want) {
			t.Fatalf("updated: %+v, want %+v", *upd.JSON200, want)
		}
		got, err = h.Platform.GetTenantWithResponse(ctx, "acme")
		check(t, err)
		if !sameTenant(*got.JSON200, want) {
			t.Fatalf("after update, get: %+v, want %+v", *got.JSON200, want)
		}

		// The same id twice is a conflict.
		_, err = h.Platform.CreateTenantWithResponse(ctx, client.TenantCreate{Id: "acme"})
		wantProblem(t, err, http.StatusConflict, client.ProblemConflict)

		// A bad id is invalid input that names body.id.
		for _, bad := range []string{"a", "Acme", "acme_1", "acme.io", strings.Repeat("x", 41)} {
			_, err := h.Platform.CreateTenantWithResponse(ctx, client.TenantCreate{Id: bad})
			if err == nil {
				t.Fatalf("id %q was accepted", bad)
			}
			pe := wantProblem(t, err, http.StatusUnprocessableEntity, client.ProblemInvalidInput)
			if !namesField(pe, "body.id") {
				t.Errorf("id %q: errors %s do not name body.id", bad, pe)
			}
		}

		_, err = h.Platform.GetTenantWithResponse(ctx, "initech")
		wantProblem(t, err, http.StatusNotFound, client.ProblemNotFound)
	})
}

func TestE2E_Tokens(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, h *hubUnderTest) {
		ctx := t.Context()
		h.Tenant(t, "acme")
		admin := h.As(t, "acme", auth.RoleAdmin)

		res, err := admin.CreateTokenWithResponse(ctx, "acme", client.TokenCreate{Label: "edge fleet"})
		check(t, err)
		fleet := *res.JSON201
		if res.StatusCode() != http.StatusCreated || !strings.HasPrefix(fleet.Token, "phb_") || !strings.HasPrefix(fleet.Id, "tok_") ||
			fleet.Label != "edge fleet" || fleet.RevokedAt != nil {
			t.Fatalf("created %d %+v", res.StatusCode(), fleet)
		}
		// A minute later (oldest first is by creation time).
		h.Clock.Advance(time.Minute)
		bound := h.Token(t, "acme", client.TokenCreate{Label: "edge-7 only", Proxy: ptr("edge-7")})

		// The list shows both, oldest first, and no secret.
		list, err := admin.ListTokensWithResponse(ctx, "acme")
		check(t, err)
		if bytes.Contains(list.Body, []byte("phb_")) {
			t.Fatalf("token list shows a secret: %s", list.Body)
		}
		if ids := tokenIDs(list.JSON200.Tokens); !slices.Equal(ids, []string{fleet.Id, bound.Id}) {
			t.Fatalf("tokens listed: %v", ids)
		}
		if p := list.JSON200.Tokens[1].Proxy; p == nil || *p != "edge-7" {
			t.Fatalf("bound token lists proxy %v", p)
		}

		h.MustHeartbeat(t, fleet.Token, "edge-1", "203.0.113.1")

		// Revoked, the token is refused like any unknown credential.
		h.Clock.Advance(time.Minute)
		rev, err := admin.RevokeTokenWithResponse(ctx, "acme", fleet.Id)
		check(t, err)
		if rev.StatusCode() != http.StatusNoContent {
			t.Fatalf("revoke: %d", rev.StatusCode())
		}
		hb := h.Heartbeat(t, fleet.Token, "edge-1", "203.0.113.1")
		if hb.status != http.StatusUnauthorized || hb.Problem(t).Type != client.ProblemUnauthenticated {
			t.Fatalf("heartbeat with a revoked token: %d %s", hb.status, hb.body)
		}
		list, err = admin.ListTokensWithResponse(ctx, "acme")
		check(t, err)
		if r := list.JSON200.Tokens[0].RevokedAt; r == nil || !r.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("revoked token lists revoked_at %v", r)
		}
		// The other token is untouched.
		h.MustHeartbeat(t, bound.Token, "edge-7", "203.0.113.7")

		_, err = admin.RevokeTokenWithResponse(ctx, "acme", "tok_doesnotexist")
		wantProblem(t, err, http.StatusNotFound, client.ProblemNotFound)
		// A viewer reads tokens but makes none.
		_, err = h.As(t, "acme", auth.RoleViewer).CreateTokenWithResponse(ctx, "acme", client.TokenCreate{Label: "nope"})
		wantProblem(t, err, http.StatusForbidden, client.ProblemForbidden)
	})
}

func TestE2E_Allowlists(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, h *hubUnderTest) {
		ctx := t.Context()
		h.Tenant(t, "acme")
		tok := h.Token(t, "acme")
		admin := h.As(t, "acme", auth.RoleAdmin)

		empty, err := admin.GetAllowlistWithResponse(ctx, "acme")
		check(t, err)
		if empty.JSON200.Cidrs == nil || len(empty.JSON200.Cidrs) != 0 {
			t.Fatalf("a new tenant's allowlist: %s", empty.Body)
		}

		// Entries come back normalised: sorted, duplicates dropped.
		put, err := admin.PutAllowlistWithResponse(ctx, "acme", nil, client.Allowlists{
			Cidrs: []string{"2001:db8::/32", "203.0.113.0/24", "203.0.113.0/24"},
		})
		check(t, err)
		want := []string{"203.0.113.0/24", "2001:db8::/32"}
		if !slices.Equal(put.JSON200.Cidrs, want) {
			t.Fatalf("put answered %v, want %v", put.JSON200.Cidrs, want)
		}
		got, err := admin.GetAllowlistWithResponse(ctx, "acme")
		check(t, err)
		if !slices.Equal(got.JSON200.Cidrs, want) {
			t.Fatalf("get answered %v, want %v", got.JSON200.Cidrs, want)
		}
		// An entry with host bits is refused with 400 invalid-input,
		// naming it; nothing changes.
		_, err = admin.PutAllowlistWithResponse(ctx, "acme", nil, client.Allowlists{Cidrs: []string{"203.0.113.7/24"}})
		pe := wantProblem(t, err, http.StatusBadRequest, client.ProblemInvalidInput)
		if !namesField(pe, "body.cidrs") {
			t.Fatalf("errors %s do not name body.cidrs", pe)
		}
		got, err = admin.GetAllowlistWithResponse(ctx, "acme")
		check(t, err)
		if !slices.Equal(got.JSON200.Cidrs, want) {
			t.Fatalf("after a refused put: %v, want %v", got.JSON200.Cidrs, want)
		}

		h.MustHeartbeat(t, tok.Token, "edge-1", "203.0.113.7")
		h.MustHeartbeat(t, tok.Token, "edge-6", "2001:db8::6")
		hb := h.Heartbeat(t, tok.Token, "edge-2", "198.51.100.23")
		if hb.status != http.StatusForbidden || hb.Problem(t).Type != client.ProblemSourceNotAllowed {
			t.Fatalf("heartbeat from outside: %d %s", hb.status, hb.body)
		}

		denied, err := admin.ListDeniedWithResponse(ctx, "acme", &client.ListDeniedParams{})
		check(t, err)
		if len(denied.JSON200.Denied) != 1 {
			t.Fatalf("denied: %s", denied.Body)
		}
		d := denied.JSON200.Denied[0]
		if d.Proxy != "edge-2" || d.Ip != "198.51.100.23" || d.Reason != "source_ip_not_allowed" ||
			d.TokenId == nil || *d.TokenId != tok.Id || !d.At.Equal(t0) {
			t.Fatalf("denied record %+v", d)
		}
		// The refused heartbeat registered nothing.
		_, err = admin.GetProxyWithResponse(ctx, "acme", "edge-2")
		wantProblem(t, err, http.StatusNotFound, client.ProblemNotFound)

		// Emptying the list lets every address in again.
		_, err = admin.PutAllowlistWithResponse(ctx, "acme", nil, client.Allowlists{Cidrs: []string{}})
		check(t, err)
		h.MustHeartbeat(t, tok.Token, "edge-2", "198.51.100.23")
	})
}

func TestE2E_Proxies(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, h *hubUnderTest) {
		ctx := t.Context()
		h.Tenant(t, "acme")
		tok := h.Token(t, "acme")
		requests := &requestCounter{}
		admin := h.Client(t, client.WithToken(h.JWT(t, "acme", auth.RoleAdmin)), client.WithHTTP(requests.Client()))

		// Five proxies report at t0; two of them again a minute later; 90 s
		// after t0 the other three are past the tenant's 80 s.
		for i := 1; i <= 5; i++ {
			h.MustHeartbeat(t, tok.Token, "edge-"+strconv.Itoa(i), "198.51.100."+strconv.Itoa(i))
		}
		h.Clock.Advance(time.Minute)
		h.MustHeartbeat(t, tok.Token, "edge-2", "198.51.100.2")
		h.MustHeartbeat(t, tok.Token, "edge-4", "198.51.100.4")
		h.Clock.Advance(30 * time.Second)

		want := []nameStatus{
			{"edge-1", client.LivenessOffline}, {"edge-2", client.LivenessOnline}, {"edge-3", client.LivenessOffline},
			{"edge-4", client.LivenessOnline}, {"edge-5", client.LivenessOffline},
		}
		got := collectProxies(t, admin, client.ListProxiesParams{Limit: ptr(int64(2))})
		if !slices.Equal(got, want) {
			t.Fatalf("proxies %v, want %v", got, want)
		}
		if n := requests.Count("/v1/tenants/acme/proxies"); n != 3 {
			t.Fatalf("5 proxies, 2 a page: %d requests, want 3", n)
		}
		online := collectProxies(t, admin, client.ListProxiesParams{Limit: ptr(int64(1)), Status: ptr(client.Online)})
		if !slices.Equal(online, []nameStatus{want[1], want[3]}) {
			t.Fatalf("online proxies %v", online)
		}
		// Stopping early stops paging.
		before := requests.Count("/v1/tenants/acme/proxies")
		for _, err := range admin.Proxies(ctx, "acme", client.ListProxiesParams{Limit: ptr(int64(1))}) {
			check(t, err)
			break
		}
		if n := requests.Count("/v1/tenants/acme/proxies") - before; n != 1 {
			t.Fatalf("a loop that stops at once made %d requests", n)
		}

		res, err := admin.GetProxyWithResponse(ctx, "acme", "edge-2")
		check(t, err)
		p := *res.JSON200
		if p.Name != "edge-2" || p.RemoteIp != "198.51.100.2" || p.PeerIp != "127.0.0.1" || p.Status != client.LivenessOnline ||
			!p.CreatedAt.Equal(t0) || !p.LastSeen.Equal(t0.Add(time.Minute)) || p.OfflineAfter != 80 ||
			!p.Deadline.Equal(t0.Add(time.Minute+80*time.Second)) || p.Paused || p.IpChanges != 0 {
			t.Fatalf("edge-2: %+v", p)
		}

		// Pause for maintenance; a timeout of its own brings edge-3 back
		// online (its deadline is its last heartbeat + 300 s).
		upd, err := admin.UpdateProxyWithResponse(ctx, "acme", "edge-1", client.ProxyUpdate{Paused: ptr(true)})
		check(t, err)
		if !upd.JSON200.Paused {
			t.Fatalf("paused: %+v", *upd.JSON200)
		}
		res, err = admin.GetProxyWithResponse(ctx, "acme", "edge-1")
		check(t, err)
		if !res.JSON200.Paused {
			t.Fatalf("get after pause: %+v", *res.JSON200)
		}
		// Resumed, it has a full timeout from now.
		h.Clock.Advance(time.Minute)
		upd, err = admin.UpdateProxyWithResponse(ctx, "acme", "edge-1", client.ProxyUpdate{Paused: ptr(false)})
		check(t, err)
		if p := *upd.JSON200; p.Paused || p.Status != client.LivenessOnline || !p.Deadline.Equal(h.Clock.Now().Add(80*time.Second)) {
			t.Fatalf("resumed: %+v", p)
		}
		upd, err = admin.UpdateProxyWithResponse(ctx, "acme", "edge-3", client.ProxyUpdate{OfflineAfter: ptr(int64(300))})
		check(t, err)
		if upd.JSON200.OfflineAfter != 300 || upd.JSON200.Status != client.LivenessOnline {
			t.Fatalf("edge-3 with its own timeout: %+v", *upd.JSON200)
		}
		_, err = admin.UpdateProxyWithResponse(ctx, "acme", "edge-3", client.ProxyUpdate{OfflineAfter: ptr(int64(-1))})
		wantProblem(t, err, http.StatusUnprocessableEntity, client.ProblemInvalidInput)

		// Decommissioned, a proxy is gone from the list.
		del, err := admin.DeleteProxyWithResponse(ctx, "acme", "edge-5")
		check(t, err)
		if del.StatusCode() != http.StatusNoContent {
			t.Fatalf("delete: %d", del.StatusCode())
		}
		_, err = admin.GetProxyWithResponse(ctx, "acme", "edge-5")
		wantProblem(t, err, http.StatusNotFound, client.ProblemNotFound)
		_, err = admin.DeleteProxyWithResponse(ctx, "acme", "edge-5")
		wantProblem(t, err, http.StatusNotFound, client.ProblemNotFound)
		if got := collectProxies(t, admin, client.ListProxiesParams{Prefix: ptr("edge-")}); len(got) != 4 {
			t.Fatalf("after delete: %v", got)
		}
	})
}

func TestE2E_History(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, h *hubUnderTest) {
		ctx := t.Context()
		h.Tenant(t, "acme")
		tok := h.Token(t, "acme")
		requests := &requestCounter{}
		admin := h.Client(t, client.WithToken(h.JWT(t, "acme", auth.RoleAdmin)), client.WithHTTP(requests.Client()))

		// One heartbeat a minute (step i at t0 + i min); five of them
		// change their proxy's IP, A to E.
		steps := []struct {
			name, ip, previous string // previous: the IP it changed from, if it did
		}{
			{"edge-1", "198.51.100.1", ""},
			{"edge-2", "198.51.100.2", ""},
			{"edge-1", "198.51.100.11", "198.51.100.1"},  // A, t0+2m
			{"edge-2", "198.51.100.12", "198.51.100.2"},  // B, t0+3m
			{"edge-1", "198.51.100.11", ""},              // the same IP again
			{"edge-1", "198.51.100.21", "198.51.100.11"}, // C, t0+5m
			{"edge-2", "198.51.100.11", "198.51.100.12"}, // D, t0+6m
			{"edge-1", "198.51.100.1", "198.51.100.21"},  // E, t0+7m
		}
		for i, s := range steps {
			if i > 0 {
				h.Clock.Advance(time.Minute)
			}
			r := h.MustHeartbeat(t, tok.Token, s.name, s.ip)
			prev := ""
			if r.PreviousIp != nil {
				prev = *r.PreviousIp
			}
			if r.IpChanged != (s.previous != "") || prev != s.previous || r.RemoteIp != s.ip {
				t.Fatalf("step %d (%s from %s): %+v", i, s.name, s.ip, r)
			}
		}
		at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
		A := ipChange{"edge-1", "198.51.100.1", "198.51.100.11", at(2)}
		B := ipChange{"edge-2", "198.51.100.2", "198.51.100.12", at(3)}
		C := ipChange{"edge-1", "198.51.100.11", "198.51.100.21", at(5)}
		D := ipChange{"edge-2", "198.51.100.12", "198.51.100.11", at(6)}
		E := ipChange{"edge-1", "198.51.100.21", "198.51.100.1", at(7)}

		// All of them, newest first, two a page.
		all := collectIPChanges(t, admin, client.ListIpChangesParams{Limit: ptr(int64(2))})
		if got := changesOf(all); !slices.Equal(got, []ipChange{E, D, C, B, A}) {
			t.Fatalf("history:\n%v", got)
		}
		if n := requests.Count("/v1/tenants/acme/ip-changes"); n != 3 {
			t.Fatalf("5 changes, 2 a page: %d requests, want 3", n)
		}
		for i, c := range all {
			if c.TokenId == nil || *c.TokenId != tok.Id || c.RequestId == nil || *c.RequestId == "" {
				t.Fatalf("change %d lacks its token or request: %+v", i, c)
			}
			if i > 0 && c.Id >= all[i-1].Id {
				t.Fatalf("ids do not decrease: %d after %d", c.Id, all[i-1].Id)
			}
		}

		filters := []struct {
			name   string
			params client.ListIpChangesParams
			want   []ipChange
		}{
			{"proxy", client.ListIpChangesParams{Proxy: ptr("edge-2")}, []ipChange{D, B}},
			{"ip, old or new", client.ListIpChangesParams{Ip: ptr("198.51.100.11")}, []ipChange{D, C, A}},
			{"since, inclusive", client.ListIpChangesParams{Since: ptr(at(5))}, []ipChange{E, D, C}},
			{"since and until, exclusive", client.ListIpChangesParams{Since: ptr(at(3)), Until: ptr(at(6))}, []ipChange{C, B}},
			{"proxy and since", client.ListIpChangesParams{Proxy: ptr("edge-1"), Since: ptr(at(5))}, []ipChange{E, C}},
			{"since in another zone", client.ListIpChangesParams{Since: ptr(at(6).In(time.FixedZone("KST", 9*3600)))}, []ipChange{E, D}},
			{"nothing", client.ListIpChangesParams{Proxy: ptr("edge-9")}, nil},
		}
		for _, f := range filters {
			f.params.Limit = ptr(int64(2))
			if got := changesOf(collectIPChanges(t, admin, f.params)); !slices.Equal(got, f.want) {
				t.Errorf("%s: %v, want %v", f.name, got, f.want)
			}
		}

		// The CSV export has a header row and the records of the listing.
		rows := exportCSV(t, admin, client.ExportIpChangesCsvParams{})
		if !slices.Equal(rows[0], []string{"id", "proxy", "old_ip", "new_ip", "at", "token_id", "request_id"}) {
			t.Fatalf("CSV header %v", rows[0])
		}
		if len(rows) != 1+len(all) {
			t.Fatalf("CSV has %d rows for %d changes", len(rows)-1, len(all))
		}
		for i, c := range all {
			row := rows[i+1]
			rowAt, err := time.Parse(time.RFC3339Nano, row[4])
			if err != nil || row[0] != strconv.FormatInt(c.Id, 10) || row[1] != c.Proxy || row[2] != c.OldIp || row[3] != c.NewIp ||
				!rowAt.Equal(c.At) || row[5] != *c.TokenId || row[6] != *c.RequestId {
				t.Errorf("CSV row %d %v does not match %+v (%v)", i+1, row, c, err)
			}
		}
		if rows := exportCSV(t, admin, client.ExportIpChangesCsvParams{Proxy: ptr("edge-2")}); len(rows) != 3 || rows[1][1] != "edge-2" || rows[2][1] != "edge-2" {
			t.Fatalf("CSV of edge-2: %v", rows)
		}
		_, err := admin.ExportIPChangesCSV(ctx, "acme", client.ExportIpChangesCsvParams{Ip: ptr("not-an-ip")})
		pe := wantProblem(t, err, http.StatusUnprocessableEntity, client.ProblemInvalidInput)
		if !namesField(pe, "query.ip") {
			t.Fatalf("errors %s do not name query.ip", pe)
		}

		// Statistics, for all time and for a window.
		stats := []struct {
			name   string
			params client.GetStatsParams
			total  int64
			per    []client.ProxyIPChangeStats
		}{
			{"all time", client.GetStatsParams{}, 5, []client.ProxyIPChangeStats{
				{Proxy: "edge-1", Changes: 3, DistinctIps: 3, LastChange: at(7)},
				{Proxy: "edge-2", Changes: 2, DistinctIps: 2, LastChange: at(6)},
			}},
			{"since t0+5m", client.GetStatsParams{Since: ptr(at(5))}, 3, []client.ProxyIPChangeStats{
				{Proxy: "edge-1", Changes: 2, DistinctIps: 2, LastChange: at(7)},
				{Proxy: "edge-2", Changes: 1, DistinctIps: 1, LastChange: at(6)},
			}},
			{"before any change", client.GetStatsParams{Until: ptr(at(2))}, 0, []client.ProxyIPChangeStats{}},
		}
		for _, s := range stats {
			res, err := admin.GetStatsWithResponse(ctx, "acme", &s.params)
			check(t, err)
			st := res.JSON200
			if st.TotalChanges != s.total || st.ProxiesChanged != int64(len(s.per)) || st.Proxies == nil ||
				!slices.EqualFunc(st.Proxies, s.per, sameProxyStats) {
				t.Errorf("stats %s: %s", s.name, res.Body)
			}
		}
	})
}

func TestE2E_Webhooks(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, h *hubUnderTest) {
		ctx := t.Context()
		h.Tenant(t, "acme")
		admin := h.As(t, "acme", auth.RoleAdmin)
		receiver := newReceiver(t)

		res, err := admin.CreateWebhookWithResponse(ctx, "acme", client.WebhookCreate{
			Kind: client.WebhookKindGeneric, Url: ptr(receiver.URL + "/hook"),
			Events: ptr([]client.EventType{client.EventTypeOffline, client.EventTypeOnline}),
		})
		check(t, err)
		created := *res.JSON201
		if res.StatusCode() != http.StatusCreated || !strings.HasPrefix(created.Id, "wh_") || created.Secret == nil ||
			!strings.HasPrefix(*created.Secret, "whsec_") || !created.Enabled || created.Kind != client.WebhookKindGeneric ||
			created.Failing || !slices.Equal(created.Events, []client.EventType{client.EventTypeOffline, client.EventTypeOnline}) {
			t.Fatalf("created %d %s", res.StatusCode(), res.Body)
		}

		list, err := admin.ListWebhooksWithResponse(ctx, "acme")
		check(t, err)
		if bytes.Contains(list.Body, []byte("whsec_")) {
			t.Fatalf("webhook list shows the secret: %s", list.Body)
		}
		if len(list.JSON200.Webhooks) != 1 || list.JSON200.Webhooks[0].Id != created.Id || *list.JSON200.Webhooks[0].Url != *created.Url {
			t.Fatalf("webhooks listed: %s", list.Body)
		}
		got, err := admin.GetWebhookWithResponse(ctx, "acme", created.Id)
		check(t, err)
		if got.JSON200.Id != created.Id || got.JSON200.Url == nil || *got.JSON200.Url != receiver.URL+"/hook" || bytes.Contains(got.Body, []byte("whsec_")) {
			t.Fatalf("get: %s", got.Body)
		}

		h.Clock.Advance(time.Minute)
		upd, err := admin.UpdateWebhookWithResponse(ctx, "acme", created.Id, client.WebhookUpdate{
			Url: ptr(receiver.URL + "/v2"), Enabled: ptr(false), Events: ptr([]client.EventType{client.EventTypeIPChanged}),
		})
		check(t, err)
		w := *upd.JSON200
		if w.Url == nil || *w.Url != receiver.URL+"/v2" || w.Enabled || !slices.Equal(w.Events, []client.EventType{client.EventTypeIPChanged}) ||
			!w.CreatedAt.Equal(t0) || !w.UpdatedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("updated: %s", upd.Body)
		}
		_, err = admin.UpdateWebhookWithResponse(ctx, "acme", created.Id, client.WebhookUpdate{Url: ptr("ftp://example.com/")})
		wantProblem(t, err, http.StatusUnprocessableEntity, client.ProblemInvalidInput)

		// Nothing was delivered yet: an empty array, not null.
		dl, err := admin.ListDeliveriesWithResponse(ctx, "acme", created.Id, &client.ListDeliveriesParams{})
		check(t, err)
		if !bytes.Contains(dl.Body, []byte(`"deliveries":[]`)) || dl.JSON200.Deliveries == nil {
			t.Fatalf("deliveries of a new webhook: %s", dl.Body)
		}

		// A test message reaches the receiver, signed with the secret
		// (checked as Standard Webhooks receivers check it), and is logged.
		tr, err := admin.TestWebhookWithResponse(ctx, "acme", created.Id)
		check(t, err)
		if tr.JSON200.StatusCode == nil || *tr.JSON200.StatusCode != http.StatusNoContent || tr.JSON200.Error != nil {
			t.Fatalf("test delivery: %s", tr.Body)
		}
		hits := receiver.Hits()
		if len(hits) != 1 || hits[0].path != "/v2" {
			t.Fatalf("receiver got %+v", hits)
		}
		if err := notify.Verify(*created.Secret, hits[0].header, hits[0].body, h.Clock.Now()); err != nil {
			t.Fatalf("the test message does not verify with the webhook's secret: %v", err)
		}
		dl, err = admin.ListDeliveriesWithResponse(ctx, "acme", created.Id, &client.ListDeliveriesParams{})
		check(t, err)
		if len(dl.JSON200.Deliveries) != 1 || dl.JSON200.Deliveries[0].Test == nil || !*dl.JSON200.Deliveries[0].Test {
			t.Fatalf("deliveries after a test: %s", dl.Body)
		}

		del, err := admin.DeleteWebhookWithResponse(ctx, "acme", created.Id)
		check(t, err)
		if del.StatusCode() != http.StatusNoContent {
			t.Fatalf("delete: %d", del.StatusCode())
		}
		_, err = admin.GetWebhookWithResponse(ctx, "acme", created.Id)
		wantProblem(t, err, http.StatusNotFound, client.ProblemNotFound)
		list, err = admin.ListWebhooksWithResponse(ctx, "acme")
		check(t, err)
		if !bytes.Contains(list.Body, []byte(`"webhooks":[]`)) {
			t.Fatalf("webhooks after delete: %s", list.Body)
		}
	})
}

func TestE2E_ClientCredentials(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, h *hubUnderTest) {
		ctx := t.Context()
		h.Tenant(t, "acme")
		h.Tenant(t, "globex")
		owner := h.As(t, "acme", auth.RoleOwner)

		res, err := owner.CreateCredentialWithResponse(ctx, "acme", client.CredentialCreate{Role: client.RoleAdmin, Label: "ci"})
		check(t, err)
		cred := *res.JSON201
		if res.StatusCode() != http.StatusCreated || !strings.HasPrefix(cred.ClientId, auth.PrefixClientID) || cred.ClientSecret == "" ||
			cred.Role != client.RoleAdmin || cred.Label != "ci" {
			t.Fatalf("created %d %+v", res.StatusCode(), cred)
		}
		list, err := owner.ListCredentialsWithResponse(ctx, "acme")
		check(t, err)
		if bytes.Contains(list.Body, []byte(cred.ClientSecret)) || len(list.JSON200.Credentials) != 1 ||
			list.JSON200.Credentials[0].ClientId != cred.ClientId {
			t.Fatalf("credentials listed: %s", list.Body)
		}

		// The SDK exchanges the credential for a JWT and reads the tenant.
		cc := h.Client(t, client.WithClientCredentials(cred.ClientId, cred.ClientSecret))
		tn, err := cc.GetTenantWithResponse(ctx, "acme")
		check(t, err)
		if tn.JSON200.Id != "acme" {
			t.Fatalf("tenant %s", tn.Body)
		}
		tok, err := cc.CreateTokenWithResponse(ctx, "acme", client.TokenCreate{Label: "made by ci"})
		check(t, err)
		if !strings.HasPrefix(tok.JSON201.Token, "phb_") {
			t.Fatalf("token %s", tok.Body)
		}

		// Another tenant does not exist for it; hub-wide lists are not its.
		for name, call := range map[string]func() error{
			"get tenant": func() error { _, err := cc.GetTenantWithResponse(ctx, "globex"); return err },
			"list proxies": func() error {
				_, err := cc.ListProxiesWithResponse(ctx, "globex", &client.ListProxiesParams{})
				return err
			},
			"create token": func() error {
				_, err := cc.CreateTokenWithResponse(ctx, "globex", client.TokenCreate{Label: "planted"})
				return err
			},
		} {
			t.Run("globex/"+name, func(t *testing.T) {
				wantProblem(t, call(), http.StatusNotFound, client.ProblemNotFound)
			})
		}
		_, err = cc.ListTenantsWithResponse(ctx)
		wantProblem(t, err, http.StatusForbidden, client.ProblemForbidden)
		// Nobody grants a role above their own.
		_, err = cc.CreateCredentialWithResponse(ctx, "acme", client.CredentialCreate{Role: client.RoleOwner, Label: "escalate"})
		wantProblem(t, err, http.StatusForbidden, client.ProblemForbidden)

		// A wrong secret (or client id) is refused at the exchange.
		for name, opt := range map[string]client.Option{
			"wrong secret":    client.WithClientCredentials(cred.ClientId, cred.ClientSecret+"x"),
			"wrong client id": client.WithClientCredentials("phc_nosuchclient", cred.ClientSecret),
		} {
			_, err := h.Client(t, opt).GetTenantWithResponse(ctx, "acme")
			pe := wantProblem(t, err, http.StatusUnauthorized, client.ProblemUnauthenticated)
			if pe.Problem.Error == nil || *pe.Problem.Error != "invalid_client" {
				t.Errorf("%s: OAuth2 error %v, want invalid_client", name, pe.Problem.Error)
			}
		}

		// Revoked, the credential and the JWT the SDK holds stop working.
		_, err = owner.RevokeCredentialWithResponse(ctx, "acme", cred.ClientId)
		check(t, err)
		_, err = cc.GetTenantWithResponse(ctx, "acme")
		wantProblem(t, err, http.StatusUnauthorized, client.ProblemUnauthenticated)
	})
}

// The SDK renews its access token by its own clock; when the hub refuses
// the token before then (its clock is ahead, its signing key changed), the
// SDK exchanges the credential again and sends the request once more.
func TestE2E_ClientCredentialsRenewWhenRefused(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, h *hubUnderTest) {
		ctx := t.Context()
		h.Tenant(t, "acme")
		res, err := h.As(t, "acme", auth.RoleOwner).CreateCredentialWithResponse(ctx, "acme", client.CredentialCreate{Role: client.RoleAdmin, Label: "ci"})
		check(t, err)
		requests := &requestCounter{}
		cc := h.Client(t, client.WithClientCredentials(res.JSON201.ClientId, res.JSON201.ClientSecret), client.WithHTTP(requests.Client()))
		_, err = cc.GetTenantWithResponse(ctx, "acme")
		check(t, err)

		// 16 minutes later by the hub's clock, the 15-minute token has
		// expired; by the SDK's, it has not. The request, body and all, is
		// sent again with a new token.
		h.Clock.Advance(16 * time.Minute)
		tok, err := cc.CreateTokenWithResponse(ctx, "acme", client.TokenCreate{Label: "after renewal"})
		check(t, err)
		if tok.JSON201.Label != "after renewal" {
			t.Fatalf("created %s", tok.Body)
		}
		_, err = cc.GetTenantWithResponse(ctx, "acme")
		check(t, err)
		if n := requests.Count("/v1/auth/token"); n != 2 {
			t.Fatalf("%d token exchanges, want 2", n)
		}
		if n := requests.Count("/v1/tenants/acme/tokens"); n != 2 {
			t.Fatalf("create-token sent %d times, want 2 (refused, then renewed)", n)
		}
	})
}

func TestE2E_EmptyListsAreArrays(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, h *hubUnderTest) {
		ctx := t.Context()
		h.Tenant(t, "empty")
		owner := h.As(t, "empty", auth.RoleOwner)

		// Each listing of an empty tenant: its raw body and the slice the
		// SDK decoded.
		lists := []struct {
			field string
			list  func(t *testing.T) (body []byte, slice any)
		}{
			{"proxies", func(t *testing.T) ([]byte, any) {
				r, err := owner.ListProxiesWithResponse(ctx, "empty", &client.ListProxiesParams{})
				check(t, err)
				return r.Body, r.JSON200.Proxies
			}},
			{"tokens", func(t *testing.T) ([]byte, any) {
				r, err := owner.ListTokensWithResponse(ctx, "empty")
				check(t, err)
				return r.Body, r.JSON200.Tokens
			}},
			{"webhooks", func(t *testing.T) ([]byte, any) {
				r, err := owner.ListWebhooksWithResponse(ctx, "empty")
				check(t, err)
				return r.Body, r.JSON200.Webhooks
			}},
			{"credentials", func(t *testing.T) ([]byte, any) {
				r, err := owner.ListCredentialsWithResponse(ctx, "empty")
				check(t, err)
				return r.Body, r.JSON200.Credentials
			}},
			{"ip_changes", func(t *testing.T) ([]byte, any) {
				r, err := owner.ListIpChangesWithResponse(ctx, "empty", &client.ListIpChangesParams{})
				check(t, err)
				return r.Body, r.JSON200.IpChanges
			}},
			{"denied", func(t *testing.T) ([]byte, any) {
				r, err := owner.ListDeniedWithResponse(ctx, "empty", &client.ListDeniedParams{})
				check(t, err)
				return r.Body, r.JSON200.Denied
			}},
			{"events", func(t *testing.T) ([]byte, any) {
				r, err := owner.ListEventsWithResponse(ctx, "empty", &client.ListEventsParams{})
				check(t, err)
				return r.Body, r.JSON200.Events
			}},
			{"cidrs", func(t *testing.T) ([]byte, any) {
				r, err := owner.GetAllowlistWithResponse(ctx, "empty")
				check(t, err)
				return r.Body, r.JSON200.Cidrs
			}},
		}
		for _, l := range lists {
			t.Run(l.field, func(t *testing.T) {
				body, slice := l.list(t)
				if !bytes.Contains(body, []byte(`"`+l.field+`":[]`)) {
					t.Fatalf("want %q: [], got %s", l.field, body)
				}
				if v := reflect.ValueOf(slice); v.IsNil() || v.Len() != 0 {
					t.Fatalf("%q decoded to %#v, want an empty non-nil slice", l.field, slice)
				}
			})
		}

		// /status with a heartbeat token, before any heartbeat.
		tok := h.Token(t, "empty")
		st, err := h.Client(t, client.WithToken(tok.Token)).GetStatusWithResponse(ctx)
		check(t, err)
		if !bytes.Contains(st.Body, []byte(`"proxies":[]`)) || st.JSON200.Proxies == nil || st.JSON200.Total != 0 {
			t.Fatalf("status of an empty tenant: %s", st.Body)
		}
	})
}

// sameTenant compares tenants with time.Time.Equal.
func sameTenant(a, b client.Tenant) bool {
	return a.Id == b.Id && a.Name == b.Name && a.OfflineAfter == b.OfflineAfter && a.MaxProxies == b.MaxProxies &&
		a.AutoRegister == b.AutoRegister && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// sameProxyStats compares statistics with time.Time.Equal.
func sameProxyStats(a, b client.ProxyIPChangeStats) bool {
	return a.Proxy == b.Proxy && a.Changes == b.Changes && a.DistinctIps == b.DistinctIps && a.LastChange.Equal(b.LastChange)
}

// namesField reports whether the problem's errors name the field at
// location (body.id, query.ip, …).
func namesField(pe *client.ProblemError, location string) bool {
	if pe.Problem.Errors == nil {
		return false
	}
	for _, f := range *pe.Problem.Errors {
		if f.Location != nil && (*f.Location == location || strings.HasPrefix(*f.Location, location+"[")) {
			return true
		}
	}
	return false
}

// tokenIDs lists the tokens' ids in order.
func tokenIDs(ts []client.Token) []string {
	ids := make([]string, len(ts))
	for i, tk := range ts {
		ids[i] = tk.Id
	}
	return ids
}

// nameStatus is what a proxy listing shows at a glance.
type nameStatus struct {
	Name   string
	Status client.Liveness
}

// collectProxies pages through a tenant's proxies with the SDK's
// iterator.
func collectProxies(t *testing.T, c *client.Hub, params client.ListProxiesParams) []nameStatus {
	t.Helper()
	var out []nameStatus
	for p, err := range c.Proxies(t.Context(), "acme", params) {
		check(t, err)
		out = append(out, nameStatus{p.Name, p.Status})
	}
	return out
}

// ipChange is an IP-change record without its ids.
type ipChange struct {
	Proxy, OldIP, NewIP string
	At                  time.Time
}

// changesOf strips the records to what the scenario predicts, with At in
// UTC so that == compares instants.
func changesOf(cs []client.IPChange) []ipChange {
	var out []ipChange
	for _, c := range cs {
		out = append(out, ipChange{c.Proxy, c.OldIp, c.NewIp, c.At.UTC()})
	}
	return out
}

// collectIPChanges pages through acme's IP changes with the SDK's
// iterator.
func collectIPChanges(t *testing.T, c *client.Hub, params client.ListIpChangesParams) []client.IPChange {
	t.Helper()
	var out []client.IPChange
	for ch, err := range c.IPChanges(t.Context(), "acme", params) {
		check(t, err)
		out = append(out, ch)
	}
	return out
}

// exportCSV reads acme's whole CSV export of IP changes.
func exportCSV(t *testing.T, c *client.Hub, params client.ExportIpChangesCsvParams) [][]string {
	t.Helper()
	stream, err := c.ExportIPChangesCSV(t.Context(), "acme", params)
	check(t, err)
	defer stream.Close()
	rows, err := csv.NewReader(stream).ReadAll()
	check(t, err)
	return rows
}

// requestCounter counts the requests an SDK client sends, by path.
type requestCounter struct {
	mu     sync.Mutex
	byPath map[string]int
}

// Client returns an HTTP client that counts its requests here.
func (rc *requestCounter) Client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rc.mu.Lock()
		if rc.byPath == nil {
			rc.byPath = map[string]int{}
		}
		rc.byPath[r.URL.Path]++
		rc.mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})}
}

// Count is how many requests went to path.
func (rc *requestCounter) Count(path string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.byPath[path]
}

// roundTripFunc is an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// receiver is a webhook receiver that records what it is sent.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

// hit is one message a receiver got.
type hit struct {
	path   string
	header http.Header
	body   []byte
}

// newReceiver starts a receiver that answers 204, closed when the test
// ends.
func newReceiver(t *testing.T) *receiver {
	rv := &receiver{}
	rv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		rv.hits = append(rv.hits, hit{path: r.URL.Path, header: r.Header.Clone(), body: b})
		rv.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rv.Close)
	return rv
}

// Hits returns what the receiver got so far.
func (rv *receiver) Hits() []hit {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return slices.Clone(rv.hits)
}
