// Package logging builds the process logger: JSON lines by default, or, in
// text format, one human-readable line per heartbeat and IP change
// ("✅ update NAME [IP] time", "🔄 IP change NAME: OLD → NEW").
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Formats accepted by New.
const (
	FormatJSON = "json"
	FormatText = "text"
)

// New returns a logger writing to w in the given format ("json" or "text")
// at the given minimum level.
func New(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case FormatText:
		return slog.New(&humanHandler{text: slog.NewTextHandler(w, opts), w: w, mu: new(sync.Mutex), level: level}), nil
	default:
		return nil, fmt.Errorf("unknown log format %q (want json or text)", format)
	}
}

// ParseLevel parses debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
	}
	return l, nil
}

// humanHandler prints heartbeat and IP-change records as one short line each
// ("✅ update …", "🔄 IP change …") and hands every other record to a
// slog.TextHandler.
type humanHandler struct {
	text  slog.Handler
	w     io.Writer
	mu    *sync.Mutex
	level slog.Level
}

func (h *humanHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *humanHandler) Handle(ctx context.Context, r slog.Record) error {
	var line string
	switch r.Message {
	case "heartbeat":
		a := attrs(r, "proxy", "ip")
		line = fmt.Sprintf("✅ update %s [%s] %s\n", a["proxy"], a["ip"], r.Time.UTC().Format(time.DateTime))
	case "ip_change":
		a := attrs(r, "proxy", "old_ip", "new_ip")
		line = fmt.Sprintf("🔄 IP change %s: %s → %s\n", a["proxy"], a["old_ip"], a["new_ip"])
	default:
		return h.text.Handle(ctx, r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, line)
	return err
}

func (h *humanHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.text = h.text.WithAttrs(as)
	return &c
}

func (h *humanHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.text = h.text.WithGroup(name)
	return &c
}

// attrs collects the named attributes of r as strings, with control
// characters replaced so a hostile value cannot forge extra lines.
func attrs(r slog.Record, keys ...string) map[string]string {
	out := make(map[string]string, len(keys))
	r.Attrs(func(a slog.Attr) bool {
		for _, k := range keys {
			if a.Key == k {
				out[k] = strings.Map(func(c rune) rune {
					if c < 0x20 || c == 0x7f {
						return '?'
					}
					return c
				}, a.Value.String())
			}
		}
		return true
	})
	return out
}
