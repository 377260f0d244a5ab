package notify

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

func ev(id int64, typ hub.EventType, proxy string, at time.Time, oldIP, newIP string) hub.Event {
	e := hub.Event{ID: id, TenantID: "acme", Type: typ, Proxy: proxy, At: at}
	if oldIP != "" {
		e.OldIP = netip.MustParseAddr(oldIP)
	}
	if newIP != "" {
		e.NewIP = netip.MustParseAddr(newIP)
	}
	return e
}

func TestSingleEventLines(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 1, 20, 0, time.UTC)
	cases := []struct {
		e    hub.Event
		want string
	}{
		{ev(1, hub.EventOffline, "edge-7", at, "", "112.161.54.7"), "🔴 offline edge-7 (since 09:01:20 UTC)"},
		{ev(2, hub.EventOnline, "edge-7", at, "", "112.161.54.7"), "🟢 online edge-7"},
		{ev(3, hub.EventIPChanged, "edge-7", at, "112.161.54.7", "112.161.54.8"), "🔄 IP change edge-7: 112.161.54.7 → 112.161.54.8"},
		{ev(4, hub.EventRegistered, "edge-9", at, "", "1.2.3.4"), "🆕 registered edge-9 [1.2.3.4]"},
		{ev(5, hub.EventDenied, "edge-7", at, "", "198.51.100.9"), "⛔ denied edge-7 from 198.51.100.9"},
	}
	for _, c := range cases {
		m := message{tenant: "acme", events: []hub.Event{c.e}, at: at.Add(time.Minute)}
		if got := m.lines(); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %q, want %q", c.e.Type, got, c.want)
		}
	}
	// An offline time of another day carries its date.
	m := message{tenant: "acme", events: []hub.Event{cases[0].e}, at: at.Add(24 * time.Hour)}
	if got := m.lines()[0]; got != "🔴 offline edge-7 (since 2026-03-14 09:01:20 UTC)" {
		t.Errorf("old offline: %q", got)
	}
}

func TestDigestLines(t *testing.T) {
	var events []hub.Event
	for i := range 12 {
		events = append(events, ev(int64(i+1), hub.EventOffline, fmt.Sprintf("edge-%02d", i+1), t0, "", "192.0.2.1"))
	}
	events = append(events,
		ev(20, hub.EventIPChanged, "edge-7", t0, "192.0.2.1", "192.0.2.2"),
		ev(21, hub.EventIPChanged, "edge-7", t0, "192.0.2.2", "192.0.2.3"), // same proxy twice: one name
		ev(22, hub.EventOnline, "edge-01", t0, "", "192.0.2.1"),
	)
	m := message{id: "wh_1:1-22", tenant: "acme", events: events, at: t0}
	want := []string{
		"🔴 12 proxies offline: edge-01, edge-02, edge-03, edge-04, edge-05, edge-06, edge-07, edge-08, edge-09, edge-10 and 2 more",
		"🟢 1 proxy online: edge-01",
		"🔄 1 proxy changed IP: edge-7",
	}
	if got := m.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("digest:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := m.mailSubject(); got != "[proxyhub] acme: 12 proxies offline, 1 proxy online, 1 proxy changed IP" {
		t.Fatalf("subject %q", got)
	}
	body, _ := m.genericBody()
	if !strings.Contains(string(body), `"summary":{"ip_changed":2,"offline":12,"online":1}`) {
		t.Fatalf("summary counts events: %s", body)
	}
}

func TestGenericBodyShape(t *testing.T) {
	e := ev(42, hub.EventIPChanged, "edge-7", time.Date(2026, 3, 14, 9, 1, 20, 123e6, time.UTC), "112.161.54.7", "112.161.54.8")
	m := message{id: "wh_1:42-42", tenant: "acme", events: []hub.Event{e}, at: t0}
	body, err := m.genericBody()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"proxyhub.events","tenant":"acme","events":[{"id":42,"type":"ip_changed","proxy":"edge-7","at":"2026-03-14T09:01:20.123Z","old_ip":"112.161.54.7","new_ip":"112.161.54.8"}],"summary":{"ip_changed":1}}`
	if string(body) != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	test, _ := message{id: "x", tenant: "acme", test: true}.genericBody()
	if string(test) != `{"type":"proxyhub.test","tenant":"acme","events":[],"summary":{}}` {
		t.Fatalf("test body %s", test)
	}
	slack, _ := m.slackBody()
	if string(slack) != `{"text":"🔄 IP change edge-7: 112.161.54.7 → 112.161.54.8"}` {
		t.Fatalf("slack body %s", slack)
	}
	esc, _ := message{tenant: "a<b>&c", test: true}.slackBody()
	if !strings.Contains(string(esc), `a\u0026lt;b\u0026gt;\u0026amp;c`) {
		t.Fatalf("slack escaping: %s", esc)
	}
}
