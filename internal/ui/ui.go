// Package ui serves the team admins' dashboard at /ui/: a page, a
// stylesheet and a script embedded in the binary, so that it works
// air-gapped with nothing loaded from elsewhere. The page talks only to the
// hub's own API with the admin's bearer token; what a user may see and do
// is decided there, not here.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var assets embed.FS

// Path is where the dashboard is served.
const Path = "/ui/"

// ContentSecurityPolicy allows the page its own script, stylesheet and API
// (same origin) and nothing else: no inline script or style, no framing,
// no form posts elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Assets returns the embedded files (index.html, app.js, app.css).
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// Handler serves the dashboard under Path with its security headers.
func Handler() http.Handler {
	files := http.StripPrefix(Path, http.FileServerFS(Assets()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
