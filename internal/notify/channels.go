package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// The chat and alerting services a webhook can deliver to, besides
// generic, slack and email.
const (
	// KindDiscord posts to a Discord channel webhook.
	KindDiscord = "discord"
	// KindTeams posts an Adaptive Card to a Microsoft Teams workflow (or
	// incoming) webhook.
	KindTeams = "teams"
	// KindGoogleChat posts to a Google Chat space webhook.
	KindGoogleChat = "googlechat"
	// KindMattermost posts to a Mattermost incoming webhook.
	KindMattermost = "mattermost"
	// KindRocketChat posts to a Rocket.Chat incoming webhook.
	KindRocketChat = "rocketchat"
	// KindTelegram sends through a Telegram bot to a chat.
	KindTelegram = "telegram"
	// KindMatrix sends to a Matrix room through a homeserver.
	KindMatrix = "matrix"
	// KindPagerDuty triggers and resolves PagerDuty incidents (Events API v2).
	KindPagerDuty = "pagerduty"
	// KindOpsgenie creates and closes Opsgenie alerts.
	KindOpsgenie = "opsgenie"
	// KindNtfy publishes to an ntfy topic.
	KindNtfy = "ntfy"
	// KindPushover sends Pushover notifications.
	KindPushover = "pushover"
	// KindGotify sends to a Gotify server.
	KindGotify = "gotify"
)

// The fixed hosts of the services that have one: a tenant cannot point
// these kinds anywhere else. Tests replace them (Config.ProviderURLs).
const (
	telegramAPI  = "https://api.telegram.org"
	pagerDutyAPI = "https://events.pagerduty.com"
	opsgenieUS   = "https://api.opsgenie.com"
	opsgenieEU   = "https://api.eu.opsgenie.com"
	pushoverAPI  = "https://api.pushover.net"
)

// urlUse says what a kind's URL is.
type urlUse int

const (
	urlWebhook urlUse = iota // the full URL to post to (it is itself a credential)
	urlServer                // the base URL of a self-hosted server
	urlNone                  // none: the service's host is fixed
	urlMailto                // a mailto: address
)

// setting is one non-secret setting of a kind.
type setting struct {
	name     string
	required bool
	pattern  *regexp.Regexp
	rule     string // what pattern means, for the error
}

// channel describes one kind: what its URL is, its settings, and its
// credential (kept sealed, write-only in the API).
type channel struct {
	url        urlUse
	settings   []setting
	credential *setting // nil: none
}

var (
	reTelegramChat  = regexp.MustCompile(`^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$`)
	reTelegramToken = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{30,64}$`)
	reMatrixRoom    = regexp.MustCompile(`^![A-Za-z0-9._=/+-]{1,200}:[A-Za-z0-9.-]{1,200}(:[0-9]{1,5})?$`)
	reToken         = regexp.MustCompile(`^[A-Za-z0-9._~+/=-]{8,512}$`)
	rePagerDutyKey  = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	reOpsgenieKey   = regexp.MustCompile(`^[A-Za-z0-9-]{20,64}$`)
	reOpsgenieZone  = regexp.MustCompile(`^(us|eu)$`)
	reNtfyTopic     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	rePushoverKey   = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)
)

// channels is every kind and its rules.
var channels = map[string]channel{
	KindGeneric:    {url: urlWebhook},
	KindSlack:      {url: urlWebhook},
	KindEmail:      {url: urlMailto},
	KindDiscord:    {url: urlWebhook},
	KindTeams:      {url: urlWebhook},
	KindGoogleChat: {url: urlWebhook},
	KindMattermost: {url: urlWebhook},
	KindRocketChat: {url: urlWebhook},
	KindTelegram: {url: urlNone,
		settings:   []setting{{"chat_id", true, reTelegramChat, "a chat id (-100123…) or @channelname"}},
		credential: &setting{"credential", true, reTelegramToken, "the bot token from @BotFather (123456:ABC…)"}},
	KindMatrix: {url: urlServer,
		settings:   []setting{{"room_id", true, reMatrixRoom, "a room id like !abc123:example.org"}},
		credential: &setting{"credential", true, reToken, "the access token of the account that posts"}},
	KindPagerDuty: {url: urlNone,
		credential: &setting{"credential", true, rePagerDutyKey, "the 32-character integration (routing) key of an Events API v2 integration"}},
	KindOpsgenie: {url: urlNone,
		settings:   []setting{{"region", false, reOpsgenieZone, "us (default) or eu"}},
		credential: &setting{"credential", true, reOpsgenieKey, "an Opsgenie API integration key"}},
	KindNtfy: {url: urlServer,
		settings:   []setting{{"topic", true, reNtfyTopic, "1-64 letters, digits, - and _"}},
		credential: &setting{"credential", false, reToken, "an ntfy access token (tk_…), if the topic needs one"}},
	KindPushover: {url: urlNone,
		settings:   []setting{{"user", true, rePushoverKey, "the 30-character user or group key"}},
		credential: &setting{"credential", true, rePushoverKey, "the 30-character application API token"}},
	KindGotify: {url: urlServer,
		credential: &setting{"credential", true, reToken, "a Gotify application token"}},
}

// Kinds lists every webhook kind, sorted.
func Kinds() []string {
	out := make([]string, 0, len(channels))
	for k := range channels {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TargetError is a notification target setting that breaks its kind's
// rule; Field is the request body's field (url, settings.chat_id,
// credential…).
type TargetError struct {
	Field string
	Msg   string
}

func (e *TargetError) Error() string { return e.Field + ": " + e.Msg }

// ValidateTarget checks a kind's URL and settings; the credential is
// checked by ValidateCredential.
func ValidateTarget(kind, rawURL string, settings map[string]string) error {
	ch, ok := channels[kind]
	if !ok {
		return &TargetError{"kind", fmt.Sprintf("unknown kind %q (want one of %s)", kind, strings.Join(Kinds(), ", "))}
	}
	if ch.url == urlNone {
		if rawURL != "" {
			return &TargetError{"url", kind + " targets have a fixed destination: leave url empty"}
		}
	} else if err := ValidateURL(kind, rawURL); err != nil {
		return &TargetError{"url", err.Error()}
	}
	if ch.url == urlServer {
		if u, _ := url.Parse(rawURL); u.RawQuery != "" || u.Fragment != "" {
			return &TargetError{"url", "the server's base URL must have no query or fragment"}
		}
	}
	for name, v := range settings {
		i := slices.IndexFunc(ch.settings, func(s setting) bool { return s.name == name })
		if i < 0 {
			return &TargetError{"settings." + name, fmt.Sprintf("%s targets have no setting %q", kind, name)}
		}
		if s := ch.settings[i]; !s.pattern.MatchString(v) {
			return &TargetError{"settings." + name, "must be " + s.rule}
		}
	}
	for _, s := range ch.settings {
		if _, ok := settings[s.name]; s.required && !ok {
			return &TargetError{"settings." + s.name, "required: " + s.rule}
		}
	}
	return nil
}

// ValidateCredential checks the credential of a target of kind; "" is
// fine when the kind needs none or it is optional.
func ValidateCredential(kind, credential string) error {
	ch := channels[kind]
	switch {
	case ch.credential == nil && credential != "":
		return &TargetError{"credential", kind + " targets take no credential"}
	case ch.credential == nil:
		return nil
	case credential == "" && ch.credential.required:
		return &TargetError{"credential", "required: " + ch.credential.rule}
	case credential != "" && !ch.credential.pattern.MatchString(credential):
		return &TargetError{"credential", "must be " + ch.credential.rule}
	}
	return nil
}

// TakesCredential reports whether targets of kind keep a credential.
func TakesCredential(kind string) bool { return channels[kind].credential != nil }

// URLIsCredential reports whether a kind's URL is itself a secret (a chat
// service's webhook URL): the API shows only its scheme and host.
func URLIsCredential(kind string) bool {
	return channels[kind].url == urlWebhook && kind != KindGeneric
}

// providerURL is the base URL of a fixed-host service (or its override).
func (d *Dispatcher) providerURL(base string) string {
	if o, ok := d.cfg.ProviderURLs[base]; ok {
		return o
	}
	return base
}

// plainText is a message as plain lines.
func (m message) plainText() string { return strings.Join(m.lines(), "\n") }

// title is a message's one-line heading.
func (m message) title() string { return truncate("proxyhub · "+m.tenant+": "+m.summary(), 120) }

// urgent reports whether a message carries an offline flip (pushed with
// a higher priority where the service has one).
func (m message) urgent() bool {
	return slices.ContainsFunc(m.events, func(e hub.Event) bool { return e.Type == hub.EventOffline })
}

// jsonPost posts v as JSON to rawURL with the extra headers h.
func (d *Dispatcher) jsonPost(ctx context.Context, method, rawURL string, h http.Header, v any) (int, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	if h == nil {
		h = http.Header{}
	}
	return d.do(ctx, method, rawURL, h, "application/json", body)
}

// sendChannel delivers m to a target of one of the kinds above; cred is
// its credential in the clear.
func (d *Dispatcher) sendChannel(ctx context.Context, w hub.Webhook, cred string, m message) (int, error) {
	text := m.plainText()
	switch w.Kind {
	case KindDiscord:
		return d.jsonPost(ctx, http.MethodPost, w.URL, nil, map[string]any{
			"username": "proxyhub", "content": truncate(text, 2000),
			"allowed_mentions": map[string]any{"parse": []string{}}, // a name must never ping @everyone
		})
	case KindTeams:
		blocks := []map[string]any{{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true, "text": m.title()}}
		for _, l := range m.lines() {
			blocks = append(blocks, map[string]any{"type": "TextBlock", "wrap": true, "text": l})
		}
		return d.jsonPost(ctx, http.MethodPost, w.URL, nil, map[string]any{
			"type": "message",
			"attachments": []map[string]any{{
				"contentType": "application/vnd.microsoft.card.adaptive",
				"content": map[string]any{
					"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
					"type":    "AdaptiveCard", "version": "1.4", "body": blocks,
				},
			}},
		})
	case KindGoogleChat:
		body, _ := json.Marshal(map[string]string{"text": text})
		return d.do(ctx, http.MethodPost, w.URL, http.Header{}, "application/json; charset=UTF-8", body)
	case KindMattermost:
		return d.jsonPost(ctx, http.MethodPost, w.URL, nil, map[string]string{"username": "proxyhub", "text": text})
	case KindRocketChat:
		return d.jsonPost(ctx, http.MethodPost, w.URL, nil, map[string]string{"alias": "proxyhub", "text": text})
	case KindTelegram:
		return d.jsonPost(ctx, http.MethodPost, d.providerURL(telegramAPI)+"/bot"+cred+"/sendMessage", nil, map[string]any{
			"chat_id": w.Settings["chat_id"], "text": truncate(text, 4096), "disable_web_page_preview": true,
		})
	case KindMatrix:
		target := strings.TrimRight(w.URL, "/") + "/_matrix/client/v3/rooms/" + url.PathEscape(w.Settings["room_id"]) +
			"/send/m.room.message/" + url.PathEscape(m.id)
		return d.jsonPost(ctx, http.MethodPut, target, http.Header{"Authorization": {"Bearer " + cred}},
			map[string]string{"msgtype": "m.text", "body": text})
	case KindNtfy:
		h := http.Header{}
		if cred != "" {
			h.Set("Authorization", "Bearer "+cred)
		}
		priority := 3
		if m.urgent() {
			priority = 4
		}
		return d.jsonPost(ctx, http.MethodPost, strings.TrimRight(w.URL, "/")+"/", h, map[string]any{
			"topic": w.Settings["topic"], "title": m.title(), "message": text, "priority": priority, "tags": []string{"proxyhub"},
		})
	case KindPushover:
		priority := 0
		if m.urgent() {
			priority = 1
		}
		return d.jsonPost(ctx, http.MethodPost, d.providerURL(pushoverAPI)+"/1/messages.json", nil, map[string]any{
			"token": cred, "user": w.Settings["user"], "title": truncate(m.title(), 250), "message": truncate(text, 1024), "priority": priority,
		})
	case KindGotify:
		priority := 5
		if m.urgent() {
			priority = 8
		}
		return d.jsonPost(ctx, http.MethodPost, strings.TrimRight(w.URL, "/")+"/message", http.Header{"X-Gotify-Key": {cred}},
			map[string]any{"title": m.title(), "message": text, "priority": priority})
	case KindPagerDuty:
		return d.sendPagerDuty(ctx, w, cred, m)
	case KindOpsgenie:
		return d.sendOpsgenie(ctx, w, cred, m)
	}
	return 0, fmt.Errorf("unknown webhook kind %q", w.Kind)
}

// alertKey is the stable key of a proxy's offline alert: the same for its
// offline flip and its return, so the incident closes itself.
func alertKey(tenant, proxy string) string { return "proxyhub/" + tenant + "/" + proxy }

// eventKey is the key of a one-off alert (an IP change, a registration).
func eventKey(tenant string, e hub.Event) string {
	return fmt.Sprintf("proxyhub/%s/%s/%s/%d", tenant, e.Proxy, e.Type, e.ID)
}

// sendPagerDuty sends one Events API v2 event per event of the batch, in
// order: offline triggers the proxy's incident, online resolves it, other
// events are informational triggers of their own. It stops at the first
// failure; the whole batch is retried, which PagerDuty de-duplicates by
// dedup_key.
func (d *Dispatcher) sendPagerDuty(ctx context.Context, w hub.Webhook, key string, m message) (int, error) {
	endpoint := d.providerURL(pagerDutyAPI) + "/v2/enqueue"
	if m.test {
		// A test incident is resolved at once: nobody has to close it.
		dedup := "proxyhub/" + m.tenant + "/test/" + m.id
		status, err := d.jsonPost(ctx, http.MethodPost, endpoint, nil, map[string]any{
			"routing_key": key, "event_action": "trigger", "dedup_key": dedup, "client": "proxyhub",
			"payload": map[string]any{"summary": m.plainText(), "source": "proxyhub", "severity": "info", "component": "proxyhub", "group": m.tenant},
		})
		if err != nil {
			return status, err
		}
		return d.jsonPost(ctx, http.MethodPost, endpoint, nil, map[string]any{
			"routing_key": key, "event_action": "resolve", "dedup_key": dedup, "client": "proxyhub"})
	}
	var status int
	for _, e := range m.events {
		ev := map[string]any{"routing_key": key, "client": "proxyhub"}
		switch e.Type {
		case hub.EventOnline:
			ev["event_action"], ev["dedup_key"] = "resolve", alertKey(m.tenant, e.Proxy)
		default:
			severity, dedup := "info", eventKey(m.tenant, e)
			switch e.Type {
			case hub.EventOffline:
				severity, dedup = "error", alertKey(m.tenant, e.Proxy)
			case hub.EventDenied:
				severity = "warning"
			}
			details := map[string]string{"tenant": m.tenant, "proxy": e.Proxy, "event": string(e.Type)}
			if e.OldIP.IsValid() {
				details["old_ip"] = e.OldIP.String()
			}
			if e.NewIP.IsValid() {
				details["new_ip"] = e.NewIP.String()
			}
			ev["event_action"], ev["dedup_key"] = "trigger", dedup
			ev["payload"] = map[string]any{
				"summary": truncate("proxyhub "+m.tenant+": "+eventText(e, m.at), 1024), "source": e.Proxy, "severity": severity,
				"timestamp": e.At.UTC().Format(timeLayout), "component": "proxyhub", "group": m.tenant, "class": string(e.Type),
				"custom_details": details,
			}
		}
		var err error
		if status, err = d.jsonPost(ctx, http.MethodPost, endpoint, nil, ev); err != nil {
			return status, err
		}
	}
	return status, nil
}

// sendOpsgenie creates an alert per event of the batch, in order, aliased
// so that a proxy's offline alert is closed by its return; other events
// are low-priority alerts of their own. It stops at the first failure; a
// retry re-sends, which Opsgenie de-duplicates by alias.
func (d *Dispatcher) sendOpsgenie(ctx context.Context, w hub.Webhook, key string, m message) (int, error) {
	base := opsgenieUS
	if w.Settings["region"] == "eu" {
		base = opsgenieEU
	}
	base = d.providerURL(base) + "/v2/alerts"
	h := http.Header{"Authorization": {"GenieKey " + key}}
	if m.test {
		// A test alert is closed at once: nobody has to close it.
		alias := "proxyhub/" + m.tenant + "/test/" + m.id
		status, err := d.jsonPost(ctx, http.MethodPost, base, h, map[string]any{
			"message": truncate(m.plainText(), 130), "alias": alias,
			"source": "proxyhub", "priority": "P5", "tags": []string{"proxyhub", "test"},
		})
		if err != nil {
			return status, err
		}
		return d.jsonPost(ctx, http.MethodPost, base+"/"+url.PathEscape(alias)+"/close?identifierType=alias", h,
			map[string]string{"source": "proxyhub", "note": "test message"})
	}
	var status int
	for _, e := range m.events {
		var err error
		if e.Type == hub.EventOnline {
			status, err = d.jsonPost(ctx, http.MethodPost, base+"/"+url.PathEscape(alertKey(m.tenant, e.Proxy))+"/close?identifierType=alias", h,
				map[string]string{"source": "proxyhub", "note": e.Proxy + " is back online"})
		} else {
			alias, priority := eventKey(m.tenant, e), "P5"
			if e.Type == hub.EventOffline {
				alias, priority = alertKey(m.tenant, e.Proxy), "P2"
			}
			details := map[string]string{"tenant": m.tenant, "proxy": e.Proxy}
			if e.NewIP.IsValid() {
				details["ip"] = e.NewIP.String()
			}
			status, err = d.jsonPost(ctx, http.MethodPost, base, h, map[string]any{
				"message": truncate("proxyhub "+m.tenant+": "+eventText(e, m.at), 130), "alias": alias,
				"description": eventText(e, m.at), "entity": e.Proxy, "source": "proxyhub", "priority": priority,
				"tags": []string{"proxyhub", string(e.Type)}, "details": details,
			})
		}
		if err != nil {
			return status, err
		}
	}
	return status, nil
}

// errNoCredential: a target whose kind needs a credential has none.
var errNoCredential = errors.New("the target has no credential: set one (PATCH credential)")
