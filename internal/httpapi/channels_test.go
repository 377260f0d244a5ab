package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/proxyhub/proxyhub/internal/auth"
)

func TestWebhooks_ChannelCredentialsAreWriteOnly(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	owner := th.jwt("acme", auth.RoleOwner)
	const botToken = "123456789:AAHk2ZbLc7XwPmN4rQ9sT1uV3wX5yZ7aB2c"
	create := func(body map[string]any) response {
		return th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks", bearer: owner, body: body})
	}
	res := create(map[string]any{"kind": "telegram", "settings": map[string]any{"chat_id": "-1001234567890"}, "credential": botToken, "events": []string{"offline", "online"}})
	if res.code != http.StatusCreated {
		t.Fatalf("create telegram: %d %s", res.code, res.body)
	}
	created := res.json(t)
	id := created["id"].(string)
	if created["has_credential"] != true || created["settings"].(map[string]any)["chat_id"] != "-1001234567890" || created["url"] != nil {
		t.Errorf("created: %s", res.body)
	}
	discord := create(map[string]any{"kind": "discord", "url": "https://discord.com/api/webhooks/123/SeCrEtPaRt"})
	if discord.code != http.StatusCreated || discord.json(t)["url"] != "https://discord.com/…" {
		t.Errorf("discord: %d %s (its URL is a credential: scheme and host only)", discord.code, discord.body)
	}
	for _, path := range []string{"/v1/tenants/acme/webhooks", "/v1/tenants/acme/webhooks/" + id} {
		got := th.do(request{target: path, bearer: owner})
		if got.code != http.StatusOK || strings.Contains(string(got.body), botToken) || strings.Contains(string(got.body), "SeCrEtPaRt") {
			t.Errorf("GET %s: %d %s", path, got.code, got.body)
		}
	}
	if strings.Contains(string(res.body), botToken) {
		t.Error("the creation's answer shows the credential")
	}

	// Bad settings are 422 problems naming the field; nothing is created.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"kind": "telegram", "url": "https://evil.example", "settings": map[string]any{"chat_id": "1"}, "credential": botToken}, "body.url"},
		{map[string]any{"kind": "telegram", "settings": map[string]any{"chat_id": "1"}, "credential": "nope"}, "body.credential"},
		{map[string]any{"kind": "telegram", "credential": botToken}, "body.settings.chat_id"},
		{map[string]any{"kind": "pagerduty"}, "body.credential"},
		{map[string]any{"kind": "slack", "url": "https://hooks.slack.com/x", "credential": "abcdefghijk"}, "body.credential"},
		{map[string]any{"kind": "pigeon", "url": "https://example.com"}, "body.kind"},
	} {
		r := create(tc.body)
		if r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), tc.field) || strings.Contains(string(r.body), botToken) {
			t.Errorf("%v: %d %s, want 422 naming %s", tc.body, r.code, r.body, tc.field)
		}
	}
	if list := th.do(request{target: "/v1/tenants/acme/webhooks", bearer: owner}).json(t)["webhooks"].([]any); len(list) != 2 {
		t.Errorf("%d webhooks after refused creations, want 2", len(list))
	}

	// PATCH replaces the credential (write-only) and the settings.
	up := th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme/webhooks/" + id, bearer: owner,
		body: map[string]any{"credential": "987654321:ZZHk2ZbLc7XwPmN4rQ9sT1uV3wX5yZ7aB2c", "settings": map[string]any{"chat_id": "@edge_alerts"}}})
	if up.code != http.StatusOK || up.json(t)["settings"].(map[string]any)["chat_id"] != "@edge_alerts" || strings.Contains(string(up.body), "987654321:") {
		t.Errorf("patch: %d %s", up.code, up.body)
	}
	if bad := th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme/webhooks/" + id, bearer: owner,
		body: map[string]any{"settings": map[string]any{"chat_id": "x y"}}}); bad.code != http.StatusUnprocessableEntity {
		t.Errorf("patch with bad settings: %d", bad.code)
	}
	// A test message goes to the fixed host (unreachable from the tests):
	// the failure is reported without the token or an address.
	test := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks/" + id + "/test", bearer: owner})
	if test.code != http.StatusOK || strings.Contains(string(test.body), "987654321") || test.json(t)["error"] == nil {
		t.Errorf("test message: %d %s", test.code, test.body)
	}
}
