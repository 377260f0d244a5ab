package ui_test

import (
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/proxyhub/proxyhub/internal/ui"
)

// maxPageWeight is the most the dashboard may weigh, every asset together.
const maxPageWeight = 200 << 10

func TestUI_PageWeightAndNothingFromElsewhere(t *testing.T) {
	total := 0
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`)
	err := fs.WalkDir(ui.Assets(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ui.Assets(), path)
		if err != nil {
			return err
		}
		total += len(b)
		if external.Match(b) || strings.Contains(string(b), "@import") {
			t.Errorf("%s loads something from another origin", path)
		}
		if strings.HasSuffix(path, ".html") {
			if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).Match(b) || regexp.MustCompile(`\son[a-z]+=|\sstyle=`).Match(b) {
				t.Errorf("%s has inline script, handlers or styles (the CSP refuses them)", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("figure: ui_page_weight_bytes=%d", total)
	if total > maxPageWeight {
		t.Errorf("the dashboard weighs %d bytes, want under %d", total, maxPageWeight)
	}
}

func TestUI_ServedWithSecurityHeaders(t *testing.T) {
	h := startHub(t)
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/app.css"} {
		res, err := http.Get(h.url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline or eval'd script", path, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", path, k, got, want)
			}
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(h.url + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d %s, want a redirect to /ui/", res.StatusCode, res.Header.Get("Location"))
	}
	if res, err := http.Get(h.url + "/ui/nothing-here.js"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("GET an unknown asset: %v %v, want 404", res.StatusCode, err)
	}
}
