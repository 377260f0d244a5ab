package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// A request a provider's stand-in received.
type providerRequest struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// provider is a local stand-in for every service: it records requests and
// answers 200.
type provider struct {
	mu   sync.Mutex
	reqs []providerRequest
	srv  *httptest.Server
}

func newProvider(t *testing.T) *provider {
	p := &provider{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		path := r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		p.mu.Lock()
		p.reqs = append(p.reqs, providerRequest{Method: r.Method, Path: path, Header: r.Header.Clone(), Body: string(b)})
		p.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) take() []providerRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.reqs
	p.reqs = nil
	return out
}

// The scenarios every kind is tested with.
var (
	ip1, ip2  = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	evOffline = hub.Event{ID: 5, Type: hub.EventOffline, Proxy: "edge-1", At: t0, NewIP: ip1}
	evOnline  = hub.Event{ID: 6, Type: hub.EventOnline, Proxy: "edge-1", At: t0.Add(time.Minute), NewIP: ip1}
	evChange  = hub.Event{ID: 7, Type: hub.EventIPChanged, Proxy: "edge-1", At: t0.Add(2 * time.Minute), OldIP: ip1, NewIP: ip2}
	evGroup   = []hub.Event{
		{ID: 8, Type: hub.EventOffline, Proxy: "edge-1", At: t0, NewIP: ip1},
		{ID: 9, Type: hub.EventOffline, Proxy: "edge-2", At: t0, NewIP: ip1},
		{ID: 10, Type: hub.EventOffline, Proxy: "edge-3", At: t0, NewIP: ip2},
	}
)

// scenario is one message and what each line of it reads.
type scenario struct {
	name   string
	events []hub.Event
	text   string // the message's lines
	title  string
	urgent bool
}

var scenarios = []scenario{
	{"offline", []hub.Event{evOffline}, "🔴 offline edge-1 (since 09:00:00 UTC)", "proxyhub · acme: offline edge-1 (since 09:00:00 UTC)", true},
	{"online", []hub.Event{evOnline}, "🟢 online edge-1", "proxyhub · acme: online edge-1", false},
	{"ip change", []hub.Event{evChange}, "🔄 IP change edge-1: 192.0.2.1 → 192.0.2.2", "proxyhub · acme: IP change edge-1: 192.0.2.1 → 192.0.2.2", false},
	{"grouped", evGroup, "🔴 3 proxies offline: edge-1, edge-2, edge-3", "proxyhub · acme: 3 proxies offline", true},
}

// want is one expected request: the body as JSON (compared as values).
type want struct {
	method, path string
	header       map[string]string
	body         string
}

// pick returns a if urgent, else b.
func pick[T any](urgent bool, a, b T) T {
	if urgent {
		return a
	}
	return b
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

const (
	telegramToken = "123456789:AAHk2ZbLc7XwPmN4rQ9sT1uV3wX5yZ7aB2c"
	matrixToken   = "syt_bWF0cml4_abcdefghijklmnop_0a1b2c"
	pdKey         = "R0UT1NGK3Y0123456789abcdefABCDEF"
	genieKey      = "eb243592-faa2-4ba2-a551-1afdf565c889"
	pushApp       = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
	pushUser      = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
	gotifyToken   = "AnZrgY4EeXFu1Xv"
	ntfyToken     = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"
)

// kindCase is one kind's target and what each scenario must send.
type kindCase struct {
	kind       string
	path       string // the target URL's path (URL kinds) or "" (fixed host, or a server's root)
	fixed      string // the fixed host replaced by the stand-in
	settings   map[string]string
	credential string
	want       func(s scenario) []want
}

func chatBody(kind string, s scenario) string {
	switch kind {
	case KindSlack:
		return `{"text":` + jsonString(s.text) + `}`
	case KindDiscord:
		return `{"username":"proxyhub","content":` + jsonString(s.text) + `,"allowed_mentions":{"parse":[]}}`
	case KindGoogleChat:
		return `{"text":` + jsonString(s.text) + `}`
	case KindMattermost:
		return `{"username":"proxyhub","text":` + jsonString(s.text) + `}`
	case KindRocketChat:
		return `{"alias":"proxyhub","text":` + jsonString(s.text) + `}`
	case KindTeams:
		return `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{
			"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[
			{"type":"TextBlock","size":"Medium","weight":"Bolder","wrap":true,"text":` + jsonString(s.title) + `},
			{"type":"TextBlock","wrap":true,"text":` + jsonString(s.text) + `}]}}]}`
	}
	return ""
}

func chat(kind, contentType string) kindCase {
	return kindCase{kind: kind, path: "/hooks/T0/B0/secret", want: func(s scenario) []want {
		return []want{{"POST", "/hooks/T0/B0/secret", map[string]string{"Content-Type": contentType}, chatBody(kind, s)}}
	}}
}

// pdEvent is the PagerDuty event an event becomes.
func pdEvent(e hub.Event, summary string) string {
	if e.Type == hub.EventOnline {
		return `{"routing_key":"` + pdKey + `","client":"proxyhub","event_action":"resolve","dedup_key":"proxyhub/acme/` + e.Proxy + `"}`
	}
	sev, dedup := "info", "proxyhub/acme/"+e.Proxy+"/ip_changed/7"
	details := `{"tenant":"acme","proxy":"` + e.Proxy + `","event":"` + string(e.Type) + `","new_ip":"` + e.NewIP.String() + `"`
	if e.Type == hub.EventOffline {
		sev, dedup = "error", "proxyhub/acme/"+e.Proxy
	} else {
		details += `,"old_ip":"192.0.2.1"`
	}
	return `{"routing_key":"` + pdKey + `","client":"proxyhub","event_action":"trigger","dedup_key":"` + dedup + `","payload":{
		"summary":` + jsonString("proxyhub acme: "+summary) + `,"source":"` + e.Proxy + `","severity":"` + sev + `",
		"timestamp":"` + e.At.UTC().Format(timeLayout) + `","component":"proxyhub","group":"acme","class":"` + string(e.Type) + `",
		"custom_details":` + details + `}}}`
}

// genieRequest is the Opsgenie request an event becomes.
func genieRequest(e hub.Event, text string) want {
	h := map[string]string{"Authorization": "GenieKey " + genieKey, "Content-Type": "application/json"}
	if e.Type == hub.EventOnline {
		return want{"POST", "/v2/alerts/proxyhub%2Facme%2F" + e.Proxy + "/close?identifierType=alias", h,
			`{"source":"proxyhub","note":"` + e.Proxy + ` is back online"}`}
	}
	alias, prio := "proxyhub/acme/"+e.Proxy+"/ip_changed/7", "P5"
	if e.Type == hub.EventOffline {
		alias, prio = "proxyhub/acme/"+e.Proxy, "P2"
	}
	return want{"POST", "/v2/alerts", h, `{"message":` + jsonString("proxyhub acme: "+text) + `,"alias":"` + alias + `",
		"description":` + jsonString(text) + `,"entity":"` + e.Proxy + `","source":"proxyhub","priority":"` + prio + `",
		"tags":["proxyhub","` + string(e.Type) + `"],"details":{"tenant":"acme","proxy":"` + e.Proxy + `","ip":"` + e.NewIP.String() + `"}}`}
}

// eventTexts are the plain texts of the scenario events, by id.
var eventTexts = map[int64]string{
	5: "offline edge-1 (since 09:00:00 UTC)", 6: "online edge-1", 7: "IP change edge-1: 192.0.2.1 → 192.0.2.2",
	8: "offline edge-1 (since 09:00:00 UTC)", 9: "offline edge-2 (since 09:00:00 UTC)", 10: "offline edge-3 (since 09:00:00 UTC)",
}

var kindCases = []kindCase{
	chat(KindSlack, "application/json"),
	chat(KindDiscord, "application/json"),
	chat(KindTeams, "application/json"),
	chat(KindGoogleChat, "application/json; charset=UTF-8"),
	chat(KindMattermost, "application/json"),
	chat(KindRocketChat, "application/json"),
	{kind: KindTelegram, fixed: telegramAPI, settings: map[string]string{"chat_id": "-1001234567890"}, credential: telegramToken,
		want: func(s scenario) []want {
			return []want{{"POST", "/bot" + telegramToken + "/sendMessage", map[string]string{"Content-Type": "application/json"},
				`{"chat_id":"-1001234567890","text":` + jsonString(s.text) + `,"disable_web_page_preview":true}`}}
		}},
	{kind: KindMatrix, settings: map[string]string{"room_id": "!ops:example.org"}, credential: matrixToken,
		want: func(s scenario) []want {
			return []want{{"PUT", "/_matrix/client/v3/rooms/%21ops:example.org/send/m.room.message/" + msgID(s),
				map[string]string{"Authorization": "Bearer " + matrixToken, "Content-Type": "application/json"},
				`{"msgtype":"m.text","body":` + jsonString(s.text) + `}`}}
		}},
	{kind: KindNtfy, settings: map[string]string{"topic": "edge-alerts"}, credential: ntfyToken,
		want: func(s scenario) []want {
			return []want{{"POST", "/", map[string]string{"Authorization": "Bearer " + ntfyToken},
				`{"topic":"edge-alerts","title":` + jsonString(s.title) + `,"message":` + jsonString(s.text) + `,"priority":` +
					pick(s.urgent, "4", "3") + `,"tags":["proxyhub"]}`}}
		}},
	{kind: KindPushover, fixed: pushoverAPI, settings: map[string]string{"user": pushUser}, credential: pushApp,
		want: func(s scenario) []want {
			return []want{{"POST", "/1/messages.json", map[string]string{"Content-Type": "application/json"},
				`{"token":"` + pushApp + `","user":"` + pushUser + `","title":` + jsonString(s.title) + `,"message":` + jsonString(s.text) +
					`,"priority":` + pick(s.urgent, "1", "0") + `}`}}
		}},
	{kind: KindGotify, credential: gotifyToken,
		want: func(s scenario) []want {
			return []want{{"POST", "/message", map[string]string{"X-Gotify-Key": gotifyToken},
				`{"title":` + jsonString(s.title) + `,"message":` + jsonString(s.text) + `,"priority":` + pick(s.urgent, "8", "5") + `}`}}
		}},
	{kind: KindPagerDuty, fixed: pagerDutyAPI, credential: pdKey,
		want: func(s scenario) []want {
			var out []want
			for _, e := range s.events {
				out = append(out, want{"POST", "/v2/enqueue", map[string]string{"Content-Type": "application/json"}, pdEvent(e, eventTexts[e.ID])})
			}
			return out
		}},
	{kind: KindOpsgenie, fixed: opsgenieEU, settings: map[string]string{"region": "eu"}, credential: genieKey,
		want: func(s scenario) []want {
			var out []want
			for _, e := range s.events {
				out = append(out, genieRequest(e, eventTexts[e.ID]))
			}
			return out
		}},
}

func msgID(s scenario) string {
	return batchID("wh_1", s.events)
}

// TestChannels_ExactRequests: for every kind, the exact requests (method,
// path, headers, body) an offline flip, a return, an IP change and a
// grouped alert of three proxies send.
func TestChannels_ExactRequests(t *testing.T) {
	for _, kc := range kindCases {
		t.Run(kc.kind, func(t *testing.T) {
			p := newProvider(t)
			s := newStore(t)
			cfg := Config{AllowPrivate: true, Now: newClock().Now, Secrets: hub.EphemeralSecrets()}
			w := hub.Webhook{ID: "wh_1", TenantID: "acme", Kind: kc.kind, Settings: kc.settings, Enabled: true}
			switch {
			case kc.fixed != "":
				cfg.ProviderURLs = map[string]string{kc.fixed: p.srv.URL}
			default:
				w.URL = p.srv.URL + kc.path
			}
			if err := ValidateTarget(w.Kind, w.URL, w.Settings); err != nil {
				t.Fatal(err)
			}
			if err := ValidateCredential(w.Kind, kc.credential); err != nil {
				t.Fatal(err)
			}
			d := NewDispatcher(s, cfg)
			if kc.credential != "" {
				sealed, err := cfg.Secrets.Seal(kc.credential, "webhook/acme/wh_1")
				if err != nil {
					t.Fatal(err)
				}
				w.Secret = sealed
			}
			w, err := s.CreateWebhook(context.Background(), w)
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range scenarios {
				m := message{id: batchID(w.ID, sc.events), tenant: "acme", events: sc.events, at: t0.Add(5 * time.Minute)}
				if status, err := d.send(context.Background(), w, m); err != nil || status != http.StatusOK {
					t.Fatalf("%s: send: %d %v", sc.name, status, err)
				}
				got, wants := p.take(), kc.want(sc)
				if len(got) != len(wants) {
					t.Fatalf("%s: %d requests, want %d: %+v", sc.name, len(got), len(wants), got)
				}
				for i, wt := range wants {
					g := got[i]
					if g.Method != wt.method || g.Path != wt.path {
						t.Errorf("%s request %d: %s %s, want %s %s", sc.name, i, g.Method, g.Path, wt.method, wt.path)
					}
					for k, v := range wt.header {
						if g.Header.Get(k) != v {
							t.Errorf("%s request %d: header %s = %q, want %q", sc.name, i, k, g.Header.Get(k), v)
						}
					}
					if g.Header.Get("User-Agent") != userAgent {
						t.Errorf("%s request %d: User-Agent %q", sc.name, i, g.Header.Get("User-Agent"))
					}
					var gb, wb any
					if err := json.Unmarshal([]byte(g.Body), &gb); err != nil {
						t.Fatalf("%s request %d: body is not JSON: %s", sc.name, i, g.Body)
					}
					if err := json.Unmarshal([]byte(wt.body), &wb); err != nil {
						t.Fatalf("bad expectation %s: %v\n%s", sc.name, err, wt.body)
					}
					if !reflect.DeepEqual(gb, wb) {
						t.Errorf("%s request %d body:\n got %s\nwant %s", sc.name, i, g.Body, compact(wt.body))
					}
				}
			}
			// The test operation reaches every kind.
			// PagerDuty and Opsgenie get the test alert and its resolution.
			del, err := d.SendTest(context.Background(), w)
			wantTest := 1
			if kc.kind == KindPagerDuty || kc.kind == KindOpsgenie {
				wantTest = 2
			}
			if got := p.take(); err != nil || del.Error != "" || del.StatusCode != http.StatusOK || len(got) != wantTest {
				t.Errorf("test message: %+v %v, %d requests, want %d", del, err, len(got), wantTest)
			} else if wantTest == 2 && !strings.Contains(got[1].Body+got[1].Path, "resolve") && !strings.Contains(got[1].Path, "/close") {
				t.Errorf("the test alert is not resolved: %+v", got[1])
			}
		})
	}
}

func compact(s string) string {
	var v any
	_ = json.Unmarshal([]byte(s), &v)
	b, _ := json.Marshal(v)
	return string(b)
}

// TestChannels_TargetRules: each kind's URL, settings and credential
// rules, and the fixed hosts a tenant cannot change.
func TestChannels_TargetRules(t *testing.T) {
	for _, tc := range []struct {
		kind, url  string
		settings   map[string]string
		credential string
		field      string // "" when valid
	}{
		{KindTelegram, "", map[string]string{"chat_id": "-100123"}, telegramToken, ""},
		{KindTelegram, "", map[string]string{"chat_id": "@proxyhub_alerts"}, telegramToken, ""},
		{KindTelegram, "https://evil.example/bot", map[string]string{"chat_id": "1"}, telegramToken, "url"},
		{KindTelegram, "", map[string]string{}, telegramToken, "settings.chat_id"},
		{KindTelegram, "", map[string]string{"chat_id": "1; drop"}, telegramToken, "settings.chat_id"},
		{KindTelegram, "", map[string]string{"chat_id": "1"}, "not-a-token", "credential"},
		{KindTelegram, "", map[string]string{"chat_id": "1"}, "", "credential"},
		{KindPagerDuty, "https://events.example/v2/enqueue", nil, pdKey, "url"},
		{KindPagerDuty, "", nil, "short", "credential"},
		{KindPagerDuty, "", map[string]string{"region": "eu"}, pdKey, "settings.region"},
		{KindOpsgenie, "", map[string]string{"region": "eu"}, genieKey, ""},
		{KindOpsgenie, "", map[string]string{"region": "mars"}, genieKey, "settings.region"},
		{KindOpsgenie, "https://api.opsgenie.example", nil, genieKey, "url"},
		{KindPushover, "", map[string]string{"user": pushUser}, pushApp, ""},
		{KindPushover, "https://pushover.example", map[string]string{"user": pushUser}, pushApp, "url"},
		{KindMatrix, "https://matrix.example.org", map[string]string{"room_id": "!abc:example.org"}, matrixToken, ""},
		{KindMatrix, "", map[string]string{"room_id": "!abc:example.org"}, matrixToken, "url"},
		{KindMatrix, "https://matrix.example.org", map[string]string{"room_id": "#alias:example.org"}, matrixToken, "settings.room_id"},
		{KindMatrix, "https://matrix.example.org?x=1", map[string]string{"room_id": "!abc:example.org"}, matrixToken, "url"},
		{KindNtfy, "https://ntfy.sh", map[string]string{"topic": "edge"}, "", ""},
		{KindNtfy, "https://ntfy.sh", map[string]string{"topic": "../admin"}, "", "settings.topic"},
		{KindGotify, "https://gotify.example", nil, gotifyToken, ""},
		{KindGotify, "https://gotify.example", nil, "", "credential"},
		{KindDiscord, "https://discord.com/api/webhooks/1/x", nil, "", ""},
		{KindDiscord, "https://discord.com/api/webhooks/1/x", map[string]string{"chat_id": "1"}, "", "settings.chat_id"},
		{KindDiscord, "https://discord.com/api/webhooks/1/x", nil, "token", "credential"},
		{KindTeams, "ftp://teams.example/hook", nil, "", "url"},
	} {
		err := ValidateTarget(tc.kind, tc.url, tc.settings)
		if err == nil {
			err = ValidateCredential(tc.kind, tc.credential)
		}
		var te *TargetError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s %q %v: %v, want valid", tc.kind, tc.url, tc.settings, err)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field+":")):
			t.Errorf("%s %q %v %q: %v, want an error about %s", tc.kind, tc.url, tc.settings, tc.credential, err, tc.field)
		case err != nil && (!asTargetError(err, &te) || strings.Contains(err.Error(), tc.credential) && tc.credential != ""):
			t.Errorf("%s: error %v is not a TargetError, or shows the credential", tc.kind, err)
		}
	}
}

func asTargetError(err error, te **TargetError) bool {
	e, ok := err.(*TargetError)
	*te = e
	return ok
}

// TestChannels_ErrorsNeverShowTheCredential: a Telegram bot token travels
// in the URL's path; a failed request's error names the host only.
func TestChannels_ErrorsNeverShowTheCredential(t *testing.T) {
	s := newStore(t)
	cfg := Config{AllowPrivate: true, Now: newClock().Now, Timeout: 200 * time.Millisecond, Secrets: hub.EphemeralSecrets(),
		ProviderURLs: map[string]string{telegramAPI: "http://127.0.0.1:1"}} // nothing listens
	d := NewDispatcher(s, cfg)
	sealed, _ := cfg.Secrets.Seal(telegramToken, "webhook/acme/wh_9")
	w := hub.Webhook{ID: "wh_9", TenantID: "acme", Kind: KindTelegram, Settings: map[string]string{"chat_id": "1"}, Secret: sealed}
	_, err := d.send(context.Background(), w, message{id: "x", tenant: "acme", events: []hub.Event{evOffline}, at: t0})
	if err == nil {
		t.Fatal("a send to a closed port succeeded")
	}
	text, detail := d.errorText(err, w)
	for _, s := range []string{err.Error(), text, detail} {
		if strings.Contains(s, telegramToken) || strings.Contains(s, "/bot") {
			t.Errorf("the bot token shows in %q", s)
		}
	}
}
