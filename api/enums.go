package api

import (
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// Liveness is whether a proxy is online: offline once its latest heartbeat
// is older than its offline timeout.
type Liveness string

// The liveness states.
const (
	Online  Liveness = "online"
	Offline Liveness = "offline"
)

// Schema declares Liveness once in the document, as a named enum.
func (Liveness) Schema(r huma.Registry) *huma.Schema {
	return namedEnum(r, "Liveness", "Whether a proxy is online: offline once its latest heartbeat is older than its offline timeout.",
		Online, Offline)
}

// Role is what an admin credential may do within its tenant.
type Role string

// The roles, strongest first.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
)

// Schema declares Role once in the document, as a named enum.
func (Role) Schema(r huma.Registry) *huma.Schema {
	return namedEnum(r, "Role", "What an admin credential may do within its tenant: owner (everything, including credentials), "+
		"admin (tokens, allowlists, proxies, webhooks) or viewer (read only).", RoleOwner, RoleAdmin, RoleViewer)
}

// WebhookKind is how a webhook delivers.
type WebhookKind string

// The webhook kinds.
const (
	WebhookGeneric    WebhookKind = "generic"
	WebhookSlack      WebhookKind = "slack"
	WebhookEmail      WebhookKind = "email"
	WebhookDiscord    WebhookKind = "discord"
	WebhookTeams      WebhookKind = "teams"
	WebhookGoogleChat WebhookKind = "googlechat"
	WebhookMattermost WebhookKind = "mattermost"
	WebhookRocketChat WebhookKind = "rocketchat"
	WebhookTelegram   WebhookKind = "telegram"
	WebhookMatrix     WebhookKind = "matrix"
	WebhookPagerDuty  WebhookKind = "pagerduty"
	WebhookOpsgenie   WebhookKind = "opsgenie"
	WebhookNtfy       WebhookKind = "ntfy"
	WebhookPushover   WebhookKind = "pushover"
	WebhookGotify     WebhookKind = "gotify"
)

// Schema declares WebhookKind once in the document, as a named enum.
func (WebhookKind) Schema(r huma.Registry) *huma.Schema {
	return namedEnum(r, "WebhookKind", "How a notification target delivers: generic (signed JSON, Standard Webhooks), "+
		"slack, discord, teams (Adaptive Card), googlechat, mattermost, rocketchat (chat webhooks), telegram (a bot), matrix (a room), "+
		"pagerduty (Events API v2: offline triggers, online resolves), opsgenie (alerts closed on return), ntfy, pushover, gotify (push), "+
		"or email (plain-text mail).",
		WebhookGeneric, WebhookSlack, WebhookEmail, WebhookDiscord, WebhookTeams, WebhookGoogleChat, WebhookMattermost, WebhookRocketChat,
		WebhookTelegram, WebhookMatrix, WebhookPagerDuty, WebhookOpsgenie, WebhookNtfy, WebhookPushover, WebhookGotify)
}

// EventType is what happened to a proxy.
type EventType string

// The event types.
const (
	EventRegistered EventType = "registered"
	EventIPChanged  EventType = "ip_changed"
	EventOffline    EventType = "offline"
	EventOnline     EventType = "online"
	EventDenied     EventType = "denied"
)

// Schema declares EventType once in the document, as a named enum.
func (EventType) Schema(r huma.Registry) *huma.Schema {
	return namedEnum(r, "EventType", "What happened to a proxy: registered (first heartbeat), ip_changed, offline, "+
		"online (back after offline) or denied (a heartbeat refused by policy).",
		EventRegistered, EventIPChanged, EventOffline, EventOnline, EventDenied)
}

// namedEnum registers a string enum under name in the document's schemas
// and answers a reference to it, so generated clients get one type per
// enum rather than one per field that uses it. Its constants are named
// after the type (x-enum-varnames: RoleOwner, EventTypeIPChanged), so two
// enums that share a value do not share a constant.
func namedEnum[T ~string](r huma.Registry, name, doc string, values ...T) *huma.Schema {
	if _, ok := r.Map()[name]; !ok {
		enum, names := make([]any, len(values)), make([]string, len(values))
		for i, v := range values {
			enum[i], names[i] = string(v), name+constName(string(v))
		}
		r.Map()[name] = &huma.Schema{Type: huma.TypeString, Description: doc, Enum: enum,
			Extensions: map[string]any{"x-enum-varnames": names}}
	}
	return &huma.Schema{Ref: "#/components/schemas/" + name}
}

// constName is an enum value as the tail of a Go constant name:
// ip_changed becomes IPChanged.
func constName(v string) string {
	var b strings.Builder
	for _, part := range strings.Split(v, "_") {
		if part == "ip" {
			b.WriteString("IP")
			continue
		}
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
