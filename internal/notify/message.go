package notify

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Payload types of generic webhooks.
const (
	// TypeEvents is the Payload type of a batch of events.
	TypeEvents = "proxyhub.events"
	// TypeTest is the Payload type of a test message (SendTest); it carries
	// no events.
	TypeTest = "proxyhub.test"
)

// DigestNames is how many proxy names a digest lists per event type.
const DigestNames = 10

// timeLayout is RFC 3339 UTC with milliseconds, as the API prints times.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Payload is the JSON body of a generic webhook delivery.
type Payload struct {
	Type    string         `json:"type"`    // TypeEvents or TypeTest
	Tenant  string         `json:"tenant"`  // the tenant's id
	Events  []PayloadEvent `json:"events"`  // oldest first; empty for a test
	Summary map[string]int `json:"summary"` // events per type
}

// PayloadEvent is one event of a Payload.
type PayloadEvent struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"`
	Proxy string `json:"proxy"`
	At    string `json:"at"` // RFC 3339 UTC, milliseconds; offline: the deadline that passed
	OldIP string `json:"old_ip,omitempty"`
	NewIP string `json:"new_ip,omitempty"`
}

// message is what one delivery sends, before it is rendered for a kind.
type message struct {
	id     string // Standard Webhooks id: stable for every attempt at one batch
	tenant string
	test   bool
	events []hub.Event // oldest first
	at     time.Time   // when it is rendered (offline times show the date when not this day)
}

// batchID is the webhook-id of a batch: the webhook and its event range,
// the same on every retry.
func batchID(webhookID string, events []hub.Event) string {
	return fmt.Sprintf("%s:%d-%d", webhookID, events[0].ID, events[len(events)-1].ID)
}

// typeOrder is the order of the lines of a digest.
var typeOrder = []hub.EventType{
	hub.EventOffline, hub.EventOnline, hub.EventIPChanged, hub.EventRegistered, hub.EventDenied,
}

// group is the events of one type in a batch.
type group struct {
	typ     hub.EventType
	events  int      // events of this type
	proxies int      // distinct proxy names
	names   []string // the first DigestNames distinct names, sorted
}

// groups summarises a batch per type, in typeOrder, unknown types last.
func groups(events []hub.Event) []group {
	byType := map[hub.EventType]map[string]bool{}
	count := map[hub.EventType]int{}
	var order []hub.EventType
	for _, e := range events {
		if byType[e.Type] == nil {
			byType[e.Type] = map[string]bool{}
			order = append(order, e.Type)
		}
		byType[e.Type][e.Proxy] = true
		count[e.Type]++
	}
	mk := func(t hub.EventType) group {
		names := slices.Sorted(maps.Keys(byType[t]))
		return group{typ: t, events: count[t], proxies: len(names), names: names[:min(len(names), DigestNames)]}
	}
	var out []group
	for _, t := range typeOrder {
		if byType[t] != nil {
			out = append(out, mk(t))
		}
	}
	for _, t := range order {
		if !slices.Contains(typeOrder, t) {
			out = append(out, mk(t))
		}
	}
	return out
}

func emoji(t hub.EventType) string {
	switch t {
	case hub.EventOffline:
		return "🔴"
	case hub.EventOnline:
		return "🟢"
	case hub.EventIPChanged:
		return "🔄"
	case hub.EventRegistered:
		return "🆕"
	case hub.EventDenied:
		return "⛔"
	}
	return "•"
}

// clock prints an event time: "09:01:20 UTC", with the date when it is not
// the day of the message.
func clock(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if y, m, d := t.Date(); now.IsZero() || (y == now.Year() && m == now.Month() && d == now.Day()) {
		return t.Format("15:04:05 UTC")
	}
	return t.Format("2006-01-02 15:04:05 UTC")
}

// eventText describes one event without its emoji.
func eventText(e hub.Event, now time.Time) string {
	switch e.Type {
	case hub.EventOffline:
		return fmt.Sprintf("offline %s (since %s)", e.Proxy, clock(e.At, now))
	case hub.EventOnline:
		return "online " + e.Proxy
	case hub.EventIPChanged:
		return fmt.Sprintf("IP change %s: %s → %s", e.Proxy, e.OldIP, e.NewIP)
	case hub.EventRegistered:
		return fmt.Sprintf("registered %s [%s]", e.Proxy, e.NewIP)
	case hub.EventDenied:
		return fmt.Sprintf("denied %s from %s", e.Proxy, e.NewIP)
	}
	return fmt.Sprintf("%s %s", e.Type, e.Proxy)
}

// groupText is the count phrase of a digest line: "1000 proxies offline".
func groupText(g group) string {
	n := g.proxies
	noun := "proxies"
	if n == 1 {
		noun = "proxy"
	}
	switch g.typ {
	case hub.EventOffline:
		return fmt.Sprintf("%d %s offline", n, noun)
	case hub.EventOnline:
		return fmt.Sprintf("%d %s online", n, noun)
	case hub.EventIPChanged:
		return fmt.Sprintf("%d %s changed IP", n, noun)
	case hub.EventRegistered:
		return fmt.Sprintf("%d %s registered", n, noun)
	case hub.EventDenied:
		return fmt.Sprintf("%d %s denied", n, noun)
	}
	return fmt.Sprintf("%d %s: %s", n, noun, g.typ)
}

// lines are the human lines of a message: one per event for a single
// event, one per type for a digest.
func (m message) lines() []string {
	switch {
	case m.test:
		return []string{fmt.Sprintf("🧪 proxyhub test message for tenant %s: this webhook works.", m.tenant)}
	case len(m.events) == 1:
		e := m.events[0]
		return []string{emoji(e.Type) + " " + eventText(e, m.at)}
	}
	var out []string
	for _, g := range groups(m.events) {
		l := emoji(g.typ) + " " + groupText(g) + ": " + strings.Join(g.names, ", ")
		if more := g.proxies - len(g.names); more > 0 {
			l += fmt.Sprintf(" and %d more", more)
		}
		out = append(out, l)
	}
	return out
}

// summary is the one-line gist of a message, for a mail subject.
func (m message) summary() string {
	switch {
	case m.test:
		return "test message"
	case len(m.events) == 1:
		return eventText(m.events[0], m.at)
	}
	var parts []string
	for _, g := range groups(m.events) {
		parts = append(parts, groupText(g))
	}
	return strings.Join(parts, ", ")
}

// genericBody renders the Payload.
func (m message) genericBody() ([]byte, error) {
	p := Payload{Type: TypeEvents, Tenant: m.tenant, Events: make([]PayloadEvent, 0, len(m.events)), Summary: map[string]int{}}
	if m.test {
		p.Type = TypeTest
	}
	for _, e := range m.events {
		pe := PayloadEvent{ID: e.ID, Type: string(e.Type), Proxy: e.Proxy, At: e.At.UTC().Format(timeLayout)}
		if e.OldIP.IsValid() {
			pe.OldIP = e.OldIP.String()
		}
		if e.NewIP.IsValid() {
			pe.NewIP = e.NewIP.String()
		}
		p.Events = append(p.Events, pe)
		p.Summary[string(e.Type)]++
	}
	return json.Marshal(p)
}

// slackEscaper escapes the three characters Slack's mrkdwn reserves.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackBody renders an incoming-webhook message.
func (m message) slackBody() ([]byte, error) {
	return json.Marshal(struct {
		Text string `json:"text"`
	}{slackEscaper.Replace(strings.Join(m.lines(), "\n"))})
}

// mailSubject is "[proxyhub] <tenant>: <summary>", on one line.
func (m message) mailSubject() string {
	s := fmt.Sprintf("[proxyhub] %s: %s", m.tenant, m.summary())
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return truncate(s, 200)
}

// mailBody is the plain-text body: the lines, then where they come from.
func (m message) mailBody() string {
	var b strings.Builder
	for _, l := range m.lines() {
		b.WriteString(l)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	if m.test {
		fmt.Fprintf(&b, "Tenant %s. Sent by proxyhub because someone asked for a test message.\n", m.tenant)
	} else {
		fmt.Fprintf(&b, "Tenant %s, %d event(s), ids %d to %d. Sent by proxyhub.\n",
			m.tenant, len(m.events), m.events[0].ID, m.events[len(m.events)-1].ID)
	}
	return b.String()
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
