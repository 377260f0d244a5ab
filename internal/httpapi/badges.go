package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

func (h *handlers) registerBadges(api huma.API) {
	huma.Register(api, secured(huma.Operation{
		OperationID: "create-badge", Method: http.MethodPost, Path: "/tenants/{tenant}/badges", DefaultStatus: http.StatusCreated, Tags: tagBadges,
		Summary: "Create a status badge",
		Description: "A badge shows the tenant's state (up, late, N down) or one proxy's (up, late, down) as an SVG image or shields.io JSON " +
			"at /badge/{key}.svg and /badge/{key}.json, to whoever has the key, and nothing else. The key is in this answer only.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.BadgeWrite, scopePath}), h.createBadge)
	huma.Register(api, secured(huma.Operation{
		OperationID: "list-badges", Method: http.MethodGet, Path: "/tenants/{tenant}/badges", Tags: tagBadges,
		Summary: "List status badges", Description: "The tenant's badges without their keys.",
	}, access{policy.BadgeRead, scopePath}), h.listBadges)
	huma.Register(api, secured(huma.Operation{
		OperationID: "revoke-badge", Method: http.MethodDelete, Path: "/tenants/{tenant}/badges/{id}", Tags: tagBadges,
		Summary: "Revoke a status badge", Description: "Its URLs answer 404 from then on.",
	}, access{policy.BadgeWrite, scopePath}), h.revokeBadge)
}

// CreateBadgeInput is a badge creation.
type CreateBadgeInput struct {
	TenantPath
	Body api.BadgeCreate
}

// BadgeCreatedOutput wraps a new badge with its key.
type BadgeCreatedOutput struct{ Body api.BadgeCreated }

// BadgeListOutput wraps a badge list.
type BadgeListOutput struct{ Body api.BadgeList }

// BadgePath addresses one badge.
type BadgePath struct {
	TenantPath
	ID string `path:"id" maxLength:"40" doc:"Badge id." example:"bdg_7Hq2ZbKc9XwLmN4p"`
}

func badgeOut(b hub.Badge) api.Badge {
	out := api.Badge{ID: b.ID, Label: b.Label, Proxy: b.Proxy, CreatedAt: api.Time(b.CreatedAt)}
	if !b.RevokedAt.IsZero() {
		t := api.Time(b.RevokedAt)
		out.RevokedAt = &t
	}
	return out
}

func (h *handlers) createBadge(ctx context.Context, in *CreateBadgeInput) (*BadgeCreatedOutput, error) {
	b, key, err := h.Hub.CreateBadge(ctx, in.Tenant, in.Body.Proxy, in.Body.Label)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &BadgeCreatedOutput{Body: api.BadgeCreated{Badge: badgeOut(b), Key: key,
		SVGPath: badgePath + key + ".svg", JSONPath: badgePath + key + ".json"}}, nil
}

func (h *handlers) listBadges(ctx context.Context, in *TenantPath) (*BadgeListOutput, error) {
	bs, err := h.Hub.Badges(ctx, in.Tenant)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &BadgeListOutput{Body: api.BadgeList{Badges: make([]api.Badge, len(bs))}}
	for i, b := range bs {
		out.Body.Badges[i] = badgeOut(b)
	}
	return out, nil
}

func (h *handlers) revokeBadge(ctx context.Context, in *BadgePath) (*struct{}, error) {
	if err := h.Hub.RevokeBadge(ctx, in.Tenant, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

// badgePath is where badges are served: badgePath + key + ".svg" or ".json".
const badgePath = "/badge/"

// badgeMaxAge is how long caches (a README's image proxy, shields.io)
// may keep a badge.
const badgeMaxAge = 60

// serveBadge answers GET /badge/{key}.svg and /badge/{key}.json. The key
// is the only credential: a malformed, unknown or revoked one gets the same
// 404, and the answer carries the status word and the badge's own label,
// nothing else. Not part of the OpenAPI document: it is an image URL for
// README files, not an API operation.
func (h *handlers) serveBadge(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	key, format, ok := strings.Cut(file, ".")
	if !ok || (format != "svg" && format != "json") {
		writeBadgeNotFound(w)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := h.Hub.BadgeStatus(ctx, key)
	if err != nil {
		if errors.Is(err, hub.ErrNotFound) {
			writeBadgeNotFound(w)
			return
		}
		h.Logger.WarnContext(ctx, "badge status failed", "error", err.Error())
		w.Header().Set("Retry-After", "5")
		http.Error(w, "badge unavailable", http.StatusServiceUnavailable)
		return
	}
	var body []byte
	switch format {
	case "svg":
		body = []byte(badgeSVG(st.Label, st.Message, st.Color))
		w.Header().Set("Content-Type", "image/svg+xml; charset=utf-8")
		// An SVG opened directly must not run anything.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	default:
		body, _ = json.Marshal(api.ShieldsEndpoint{SchemaVersion: 1, Label: st.Label, Message: st.Message, Color: st.Color, CacheSeconds: badgeMaxAge})
		w.Header().Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", badgeMaxAge))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(body)
}

func writeBadgeNotFound(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "no such badge", http.StatusNotFound)
}

// badgeColors maps shields.io colour names to the fills of the SVG.
var badgeColors = map[string]string{"brightgreen": "#4c1", "red": "#e05d44", "orange": "#fe7d37", "lightgrey": "#9f9f9f"}

// badgeSVG draws a flat two-part badge; both texts are escaped (the label
// is user input).
func badgeSVG(label, message, color string) string {
	textWidth := func(s string) int { return 7*len([]rune(s)) + 10 }
	lw, mw := textWidth(label), textWidth(message)
	fill := badgeColors[color]
	if fill == "" {
		fill = badgeColors["lightgrey"]
	}
	l, m := html.EscapeString(label), html.EscapeString(message)
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`+
		`<title>%s: %s</title>`+
		`<rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%d" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`,
		lw+mw, l, m, l, m, lw, lw, mw, fill, lw/2, l, lw+mw/2, m)
}
