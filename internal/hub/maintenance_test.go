package hub

import (
	"testing"
	"time"
)

func TestMaintenanceWindow_OccurrencesAndCoverage(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Saturdays 02:00 for 2 h, Berlin time (UTC+1 in winter, +2 in summer).
	weekly := MaintenanceWindow{Cron: "0 2 * * 6", Duration: 2 * time.Hour, TimeZone: "Europe/Berlin", Pattern: "edge-*"}
	oneOff := MaintenanceWindow{Start: at("2026-12-10T10:00:00Z"), End: at("2026-12-10T11:00:00Z"), Proxy: "db-1"}
	for _, tc := range []struct {
		w      MaintenanceWindow
		t      string
		active bool
	}{
		{weekly, "2026-12-12T00:59:59Z", false}, // 01:59:59 in Berlin
		{weekly, "2026-12-12T01:00:00Z", true},  // 02:00 in Berlin
		{weekly, "2026-12-12T02:59:59Z", true},
		{weekly, "2026-12-12T03:00:00Z", false},
		{weekly, "2026-07-11T00:30:00Z", true},  // summer: 02:30 in Berlin
		{weekly, "2026-12-13T01:30:00Z", false}, // a Sunday
		{oneOff, "2026-12-10T09:59:59Z", false},
		{oneOff, "2026-12-10T10:00:00Z", true},
		{oneOff, "2026-12-10T11:00:00Z", false},
	} {
		if _, _, ok := tc.w.Occurrence(at(tc.t)); ok != tc.active {
			t.Errorf("%+v at %s: active %v, want %v", tc.w, tc.t, ok, tc.active)
		}
	}
	for name, want := range map[string]bool{"edge-1": true, "edge-": true, "core-1": false} {
		if weekly.Covers(name) != want {
			t.Errorf("pattern edge-* covers %s: %v", name, !want)
		}
	}
	if !oneOff.Covers("db-1") || oneOff.Covers("db-10") || !(MaintenanceWindow{}).Covers("anything") {
		t.Error("proxy and tenant-wide coverage")
	}
	// LastEnd: the end of the latest occurrence over by then.
	if start, got := weekly.LastOccurrence(at("2026-12-12T02:00:00Z")); !got.Equal(at("2026-12-05T03:00:00Z")) || !start.Equal(at("2026-12-05T01:00:00Z")) {
		t.Errorf("weekly LastEnd during an occurrence = %v, want the previous week's end", got)
	}
	if got := lastEnd(weekly, at("2026-12-12T03:00:00Z")); !got.Equal(at("2026-12-12T03:00:00Z")) {
		t.Errorf("weekly LastEnd at its end = %v", got)
	}
	if got := lastEnd(oneOff, at("2026-12-10T10:30:00Z")); !got.IsZero() {
		t.Errorf("one-off LastEnd while running = %v", got)
	}
	ended := oneOff
	ended.EndedAt = at("2026-12-10T10:20:00Z")
	if _, _, ok := ended.Occurrence(at("2026-12-10T10:30:00Z")); ok {
		t.Error("a window ended early is still active")
	}
	if got := lastEnd(ended, at("2026-12-10T10:30:00Z")); !got.Equal(ended.EndedAt) {
		t.Errorf("LastEnd of a window ended early = %v, want %v", got, ended.EndedAt)
	}
	endedWeekly := weekly
	endedWeekly.EndedAt = at("2026-12-12T01:30:00Z")
	if _, _, ok := endedWeekly.Occurrence(at("2026-12-19T01:30:00Z")); ok {
		t.Error("an ended recurring window has later occurrences")
	}
	if got := lastEnd(endedWeekly, at("2026-12-20T00:00:00Z")); !got.Equal(endedWeekly.EndedAt) {
		t.Errorf("LastEnd of an ended recurring window = %v", got)
	}
}

func TestMaintenanceWindow_Validation(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		w     MaintenanceWindow
		field string
	}{
		{MaintenanceWindow{Start: now, End: now.Add(time.Hour)}, ""},
		{MaintenanceWindow{Cron: "0 2 * * 6", Duration: time.Hour, TimeZone: "Europe/Berlin"}, ""},
		{MaintenanceWindow{Start: now, End: now}, "body.end"},
		{MaintenanceWindow{}, "body.start"},
		{MaintenanceWindow{Cron: "0 2 * * 6"}, "body.duration"},
		{MaintenanceWindow{Cron: "every saturday", Duration: time.Hour}, "body.cron"},
		{MaintenanceWindow{Cron: "0 2 * * 6", Duration: time.Hour, TimeZone: "Mars/Olympus"}, "body.time_zone"},
		{MaintenanceWindow{Cron: "0 2 * * 6", Duration: 8 * 24 * time.Hour}, "body.duration"},
		{MaintenanceWindow{Start: now, End: now.Add(time.Hour), Proxy: "a", Pattern: "b*"}, "body.pattern"},
		{MaintenanceWindow{Start: now, End: now.Add(time.Hour), Pattern: "[edge"}, "body.pattern"},
		{MaintenanceWindow{Start: now, End: now.Add(time.Hour), Cron: "0 2 * * 6", Duration: time.Hour}, "body.start"},
		{MaintenanceWindow{Cron: "0 0 30 2 *", Duration: time.Hour, CreatedAt: now}, "body.cron"}, // 30 February
	} {
		err := validateWindow(tc.w)
		fe, _ := err.(*FieldError)
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc.w, err)
		case tc.field != "" && (fe == nil || fe.Field != tc.field):
			t.Errorf("%+v: %v, want an error on %s", tc.w, err, tc.field)
		}
	}
}

func lastEnd(w MaintenanceWindow, now time.Time) time.Time {
	_, end := w.LastOccurrence(now)
	return end
}

// TestMaintenanceWindow_NeverFiring: a stored schedule that never fires
// (it could not be created, but the arithmetic must not loop) is never
// active and has no last occurrence.
func TestMaintenanceWindow_NeverFiring(t *testing.T) {
	w := MaintenanceWindow{Cron: "0 0 30 2 *", Duration: time.Hour}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	if _, _, ok := w.Occurrence(now); ok {
		t.Error("active")
	}
	if start, end := w.LastOccurrence(now); !start.IsZero() || !end.IsZero() {
		t.Errorf("last occurrence %v-%v", start, end)
	}
}
