package notify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

func TestValidateURL(t *testing.T) {
	cases := []struct {
		kind, url string
		ok        bool
	}{
		{KindGeneric, "https://hooks.example.com/proxyhub", true},
		{KindGeneric, "http://hooks.example.com:8080/x?y=1", true},
		{KindGeneric, "https://203.0.113.7/hook", true}, // addresses are checked at delivery
		{KindSlack, "https://hooks.slack.com/services/T0/B0/XYZ", true},
		{KindEmail, "mailto:ops@example.com", true},
		{KindEmail, "mailto:ops%40example.com", true},
		{KindGeneric, "", false},
		{KindGeneric, "ftp://example.com/", false},
		{KindGeneric, "file:///etc/passwd", false},
		{KindGeneric, "gopher://example.com/", false},
		{KindGeneric, "https://user:pass@example.com/", false},
		{KindGeneric, "https://user@example.com/", false},
		{KindGeneric, "https:///nohost", false},
		{KindGeneric, "https:example.com", false},
		{KindGeneric, "https://example.com:99999/", false},
		{KindGeneric, "https://example.com:/", false},
		{KindGeneric, "https://example.com/a b", false},
		{KindGeneric, "https://example.com/\r\nX-Evil: 1", false},
		{KindGeneric, "//example.com/", false},
		{KindGeneric, "mailto:ops@example.com", false},
		{KindGeneric, "https://example.com/" + strings.Repeat("a", MaxURLLength), false},
		{KindSlack, "javascript:alert(1)", false},
		{KindEmail, "https://example.com/", false},
		{KindEmail, "mailto:", false},
		{KindEmail, "mailto:a@example.com,b@example.com", false},
		{KindEmail, "mailto:ops@example.com?subject=hi", false},
		{KindEmail, "mailto:ops@example.com?bcc=all@example.com", false},
		{KindEmail, "mailto:Ops <ops@example.com>", false},
		{KindEmail, "mailto:not-an-address", false},
		{KindEmail, "mailto:ops@example.com%0d%0aBcc:x@example.com", false},
		{"carrier-pigeon", "https://example.com/", false},
		{"", "https://example.com/", false},
	}
	for _, c := range cases {
		err := ValidateURL(c.kind, c.url)
		if (err == nil) != c.ok {
			t.Errorf("ValidateURL(%q, %q) = %v, want ok=%v", c.kind, c.url, err, c.ok)
		}
	}
}

func TestRefusedReason(t *testing.T) {
	refused := map[string]string{
		"127.0.0.1":              "loopback",
		"127.1.2.3":              "loopback",
		"10.0.0.1":               "private",
		"172.16.5.4":             "private",
		"192.168.1.1":            "private",
		"169.254.169.254":        "cloud metadata",
		"169.254.1.1":            "link-local",
		"100.64.0.1":             "CGNAT",
		"100.100.100.200":        "CGNAT", // Alibaba's metadata service
		"0.0.0.0":                "this-network",
		"0.1.2.3":                "this-network",
		"224.0.0.1":              "multicast",
		"255.255.255.255":        "reserved",
		"::":                     "unspecified",
		"::1":                    "loopback",
		"fe80::1":                "link-local",
		"fe80::1%eth0":           "link-local",
		"fc00::1":                "private",
		"fd00:ec2::254":          "private", // AWS IPv6 metadata
		"ff02::1":                "multicast",
		"::ffff:127.0.0.1":       "loopback",
		"::ffff:10.1.2.3":        "private",
		"::ffff:169.254.169.254": "cloud metadata",
		"::127.0.0.1":            "loopback, embedded",
		"64:ff9b::7f00:1":        "loopback, embedded",
		"64:ff9b::a9fe:a9fe":     "cloud metadata), embedded",
		"2002:7f00:1::":          "loopback, embedded",
		"2002:c0a8:101::1":       "private, embedded",
	}
	for ip, want := range refused {
		if got := refusedReason(netip.MustParseAddr(ip)); !strings.Contains(got, want) {
			t.Errorf("refusedReason(%s) = %q, want %q", ip, got, want)
		}
	}
	for _, ip := range []string{"8.8.8.8", "1.1.1.1", "203.0.113.7", "112.161.54.7", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"} {
		if got := refusedReason(netip.MustParseAddr(ip)); got != "" {
			t.Errorf("refusedReason(%s) = %q, want allowed", ip, got)
		}
	}
}

func TestGuardedClientRefusesPrivateDestinations(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]

	c := GuardedClient(false, 2*time.Second)
	for _, u := range []string{
		srv.URL + "/",
		"http://localhost:" + port + "/",
		"http://[::1]:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://0.0.0.0:" + port + "/",
		"http://10.0.0.1/",
		"http://169.254.169.254/latest/meta-data",
		"http://100.64.0.1/",
		"http://[fe80::1]/",
		"http://[64:ff9b::7f00:1]:" + port + "/",
	} {
		resp, err := c.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: not refused (status %d)", u, resp.StatusCode)
			continue
		}
		if !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("%s: %v, want ErrRefusedAddress", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server was reached %d times", n)
	}
	// The same client with private destinations allowed reaches it.
	resp, err := GuardedClient(true, 2*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatal("allowed client did not reach the server")
	}
}

func TestDispatcherRecordsRefusals(t *testing.T) {
	s := newStore(t)
	rcv := newReceiver(t, ok200)
	port := rcv.srv.URL[strings.LastIndexByte(rcv.srv.URL, ':')+1:]
	urls := map[string]string{
		rcv.srv.URL + "/services/T0/B0/SECRETPATH":          "127.0.0.1 is loopback",
		"http://localhost:" + port + "/SECRETPATH":          "localhost resolves to",
		"http://169.254.169.254/latest/meta-data":           "169.254.169.254 is link-local (cloud metadata)",
		"http://[::ffff:127.0.0.1]:" + port + "/SECRETPATH": "loopback",
		"http://10.0.0.1/SECRETPATH":                        "10.0.0.1 is private",
	}
	var hooks []hub.Webhook
	for u := range urls {
		hooks = append(hooks, addWebhook(t, s, KindSlack, u))
	}
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	logs := &syncBuffer{}
	d := NewDispatcher(s, Config{Now: newClock().Now, Timeout: 2 * time.Second, Logger: testLogger(logs)})
	if n := runOnce(t, d); n != 0 {
		t.Fatalf("sent %d", n)
	}
	if len(rcv.got()) != 0 {
		t.Fatal("a refused destination was reached")
	}
	for _, w := range hooks {
		ds := deliveries(t, s, w)
		if len(ds) != 1 || ds[0].StatusCode != 0 || ds[0].Attempt != 1 || ds[0].GaveUp {
			t.Fatalf("%s: deliveries %+v", w.URL, ds)
		}
		e := ds[0].Error
		if e != "destination not allowed" {
			t.Errorf("%s: error %q, want the generic %q (the reason is the operator's)", w.URL, e, "destination not allowed")
		}
		if !strings.Contains(logs.String(), urls[w.URL]) {
			t.Errorf("%s: the hub's log lacks the reason %q", w.URL, urls[w.URL])
		}
		if strings.Contains(e, "SECRETPATH") || len(e) > maxErrorLen {
			t.Errorf("%s: error leaks the URL or is too long: %q", w.URL, e)
		}
		if got := getWebhook(t, s, w); got.Attempt != 1 || got.NextAttemptAt.IsZero() {
			t.Errorf("%s: not scheduled for retry: %+v", w.URL, got)
		}
	}
	if strings.Contains(logs.String(), "SECRETPATH") {
		t.Fatalf("a webhook URL was logged: %s", logs)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	target := newReceiver(t, ok200)
	redirector := httptest.NewServer(http.RedirectHandler(target.URL(), http.StatusFound))
	defer redirector.Close()
	s := newStore(t)
	w := addWebhook(t, s, KindGeneric, redirector.URL+"/hook")
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: newClock().Now}) // test servers are loopback
	if n := runOnce(t, d); n != 0 {
		t.Fatalf("a redirect counted as delivered")
	}
	if len(target.got()) != 0 {
		t.Fatal("the redirect was followed")
	}
	ds := deliveries(t, s, w)
	if len(ds) != 1 || ds[0].StatusCode != http.StatusFound || !strings.Contains(ds[0].Error, "redirects are not followed") {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestTimeoutIsAFailure(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	s := newStore(t)
	w := addWebhook(t, s, KindSlack, slow.URL+"/services/T/B/SECRETPATH")
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: newClock().Now, Timeout: 200 * time.Millisecond})
	start := time.Now()
	if n := runOnce(t, d); n != 0 {
		t.Fatal("delivered")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %s", el)
	}
	ds := deliveries(t, s, w)
	if len(ds) != 1 || !strings.HasPrefix(ds[0].Error, "timeout") || strings.Contains(ds[0].Error, "SECRETPATH") {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestErrorTextHidesURL(t *testing.T) {
	d := NewDispatcher(newStore(t), Config{SMTP: SMTPConfig{Password: "hunter2"}})
	w := hub.Webhook{URL: "https://hooks.slack.com/services/T/B/SECRET", Secret: "whsec_abc"}
	err := &url.Error{Op: "Post", URL: w.URL, Err: errors.New("dial tcp: hunter2 whsec_abc " + w.URL + " " + strings.Repeat("x", 500))}
	got, detail := d.errorText(err, w)
	for _, text := range []string{got, detail} {
		for _, s := range []string{"SECRET", "hunter2", "whsec_abc"} {
			if strings.Contains(text, s) {
				t.Fatalf("%q leaks %q", text, s)
			}
		}
		if len([]rune(text)) > maxErrorLen {
			t.Fatalf("error text has %d runes", len([]rune(text)))
		}
	}
	_ = context.Background()
}
