package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestTextFormat_PrintsHeartbeatAndIPChangeLines(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, FormatText, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("heartbeat", "proxy", "edge-7", "ip", "112.161.54.7")
	log.Info("ip_change", "proxy", "edge-7", "old_ip", "112.161.54.7", "new_ip", "112.161.54.8")
	log.Info("ip_change", "proxy", "evil\n✅ update forged", "old_ip", "1.1.1.1", "new_ip", "2.2.2.2")
	log.Info("listening", "addr", ":3001")
	log.Debug("hidden")
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 lines (no debug, no forged line), got %d:\n%s", len(lines), out)
	}
	if !strings.HasPrefix(lines[0], "✅ update edge-7 [112.161.54.7] ") {
		t.Errorf("line 1 = %q", lines[0])
	}
	if lines[1] != "🔄 IP change edge-7: 112.161.54.7 → 112.161.54.8" {
		t.Errorf("line 2 = %q", lines[1])
	}
	if !strings.Contains(lines[2], "evil?✅ update forged") {
		t.Errorf("control character not neutralised: %q", lines[2])
	}
	if !strings.Contains(lines[3], "msg=listening") || !strings.Contains(lines[3], "addr=:3001") {
		t.Errorf("other records should be key=value text: %q", lines[3])
	}
}

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	log, _ := New(&buf, FormatJSON, slog.LevelInfo)
	log.Info("heartbeat", "proxy", "edge-7")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["msg"] != "heartbeat" || m["proxy"] != "edge-7" {
		t.Fatalf("%v %v", err, m)
	}
	if _, err := New(&buf, "xml", slog.LevelInfo); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "WARN": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel accepted loud")
	}
}
