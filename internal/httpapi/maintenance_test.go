package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
)

func TestMaintenance_WindowsAPIAndFlaggedEvents(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	owner, viewer := th.jwt("acme", auth.RoleOwner), th.jwt("acme", auth.RoleViewer)
	now := th.clock.Now()
	th.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK)
	th.heartbeat(tok, "core-1", "203.0.113.2:1", http.StatusOK)

	create := func(bearer string, body map[string]any) response {
		return th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/maintenance-windows", bearer: bearer, body: body})
	}
	oneOff := create(owner, map[string]any{"label": "edge kernels", "pattern": "edge-*",
		"start": now.Format(time.RFC3339), "end": now.Add(10 * time.Minute).Format(time.RFC3339)})
	if oneOff.code != http.StatusCreated || oneOff.json(t)["active"] != true {
		t.Fatalf("one-off window: %d %s", oneOff.code, oneOff.body)
	}
	weekly := create(owner, map[string]any{"cron": "0 2 * * 6", "duration": 7200, "time_zone": "Europe/Berlin", "proxy": "core-1"})
	if weekly.code != http.StatusCreated {
		t.Fatalf("recurring window: %d %s", weekly.code, weekly.body)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"cron": "0 2 * * 6"}, "body.duration"},
		{map[string]any{"cron": "whenever", "duration": 60}, "body.cron"},
		{map[string]any{"cron": "0 2 * * 6", "duration": 60, "time_zone": "Mars/Olympus"}, "body.time_zone"},
		{map[string]any{"start": now.Format(time.RFC3339), "end": now.Format(time.RFC3339)}, "body.end"},
		{map[string]any{}, "body.start"},
		{map[string]any{"cron": "0 2 * * 6", "duration": 60, "proxy": "a", "pattern": "b*"}, "body.pattern"},
	} {
		if r := create(owner, tc.body); r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), tc.field) {
			t.Errorf("%v: %d %s, want 422 naming %s", tc.body, r.code, r.body, tc.field)
		}
	}
	if r := create(viewer, map[string]any{"cron": "0 2 * * 6", "duration": 60}); r.code != http.StatusForbidden {
		t.Errorf("a viewer creates a window: %d", r.code)
	}
	list := th.do(request{target: "/v1/tenants/acme/maintenance-windows", bearer: viewer})
	if list.code != http.StatusOK || len(list.json(t)["windows"].([]any)) != 2 {
		t.Fatalf("viewer's list: %d %s", list.code, list.body)
	}

	// Inside the window: edge-1's IP change is flagged, core-1's is not.
	th.clock.Advance(time.Minute)
	th.heartbeat(tok, "edge-1", "203.0.113.9:1", http.StatusOK)
	th.heartbeat(tok, "core-1", "203.0.113.8:1", http.StatusOK)
	evs := th.do(request{target: "/v1/tenants/acme/events?type=ip_changed", bearer: owner}).json(t)["events"].([]any)
	flags := map[string]any{}
	for _, e := range evs {
		m := e.(map[string]any)
		flags[m["proxy"].(string)] = m["in_maintenance"]
	}
	if flags["edge-1"] != true || flags["core-1"] != nil {
		t.Errorf("in_maintenance flags of the events: %v", flags)
	}
	changes := th.do(request{target: "/v1/tenants/acme/ip-changes", bearer: owner}).json(t)["ip_changes"].([]any)
	for _, c := range changes {
		m := c.(map[string]any)
		if want := m["proxy"] == "edge-1"; (m["in_maintenance"] == true) != want {
			t.Errorf("ip-change %v: in_maintenance %v, want %v", m["proxy"], m["in_maintenance"], want)
		}
	}

	// Ended early: inactive, and what follows is not flagged.
	id := oneOff.json(t)["id"].(string)
	end := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/maintenance-windows/" + id + "/end", bearer: owner})
	if end.code != http.StatusOK || end.json(t)["active"] != false || end.json(t)["ended_at"] == nil {
		t.Fatalf("end: %d %s", end.code, end.body)
	}
	if r := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/maintenance-windows/" + id, bearer: owner}); r.code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	if r := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/maintenance-windows/" + id, bearer: owner}); r.code != http.StatusNotFound {
		t.Errorf("delete twice: %d", r.code)
	}
}
