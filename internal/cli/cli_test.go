package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
)

var now = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func TestAgo(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration // how long before now
		want string
	}{
		{0, "0s ago"},
		{999 * time.Millisecond, "0s ago"},
		{12 * time.Second, "12s ago"},
		{59*time.Second + 999*time.Millisecond, "59s ago"},
		{time.Minute, "1m ago"},
		{3*time.Minute + 59*time.Second, "3m ago"},
		{59 * time.Minute, "59m ago"},
		{time.Hour, "1h ago"},
		{2*time.Hour + 30*time.Minute, "2h ago"},
		{23*time.Hour + 59*time.Minute, "23h ago"},
		{24 * time.Hour, "1d ago"},
		{4*24*time.Hour + 23*time.Hour, "4d ago"},
		{400 * 24 * time.Hour, "400d ago"},
		{-5 * time.Minute, "in 5m"},
		{-720 * time.Hour, "in 30d"},
	} {
		if got := ago(now.Add(-tc.d), now); got != tc.want {
			t.Errorf("ago(now-%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := ago(time.Time{}, now); got != "never" {
		t.Errorf("ago(zero) = %q", got)
	}
}

func TestParseTimes(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ahead   bool
		want    time.Time
		wantErr string
	}{
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "7d", want: now.Add(-7 * 24 * time.Hour)},
		{in: "0s", want: now},
		{in: "2026-11-27T08:30:00Z", want: time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)},
		{in: "2026-11-27T10:30:00.5+02:00", want: time.Date(2026, 11, 27, 8, 30, 0, 5e8, time.UTC)},
		{in: "-1h", wantErr: "negative"},
		{in: "yesterday", wantErr: "neither an RFC 3339 time nor a duration"},
		{in: "xd", wantErr: "number of days"},
		{in: "720h", ahead: true, want: now.Add(720 * time.Hour)},
		{in: "30d", ahead: true, want: now.Add(30 * 24 * time.Hour)},
		{in: "2027-01-01T00:00:00Z", ahead: true, want: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "0s", ahead: true, wantErr: "future"},
		{in: "2026-01-01T00:00:00Z", ahead: true, wantErr: "future"},
	} {
		parse := parseAgo
		if tc.ahead {
			parse = parseAhead
		}
		got, err := parse(tc.in, now)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q (ahead %v): %v, %v; want an error with %q", tc.in, tc.ahead, got, err, tc.wantErr)
			}
		case err != nil || !got.Equal(tc.want):
			t.Errorf("%q (ahead %v) = %v, %v; want %v", tc.in, tc.ahead, got, err, tc.want)
		}
	}
}

func TestSeconds(t *testing.T) {
	for in, want := range map[string]int64{"80": 80, "2m": 120, "1h30m": 5400} {
		if got, err := seconds(in); err != nil || got != want {
			t.Errorf("seconds(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"1.5s", "soon", "500ms"} {
		if _, err := seconds(in); err == nil {
			t.Errorf("seconds(%q) accepted", in)
		}
	}
}

func TestSortProxies_OfflineFirstThenByName(t *testing.T) {
	ps := []client.Proxy{
		{Name: "b", Status: client.LivenessOnline}, {Name: "z", Status: client.LivenessOffline},
		{Name: "a", Status: client.LivenessOnline}, {Name: "c", Status: client.LivenessOffline},
	}
	sortProxies(ps)
	var got []string
	for _, p := range ps {
		got = append(got, p.Name)
	}
	if strings.Join(got, "") != "czab" {
		t.Fatalf("order %q, want c z a b", got)
	}
}

func TestWriteList_TableCSVJSON(t *testing.T) {
	type row struct{ A, B string }
	cols := []column[row]{
		{title: "FIRST COL", key: "first", text: func(r row) string { return r.A }},
		{title: "B", key: "b", text: func(r row) string { return "~" + r.B }, raw: func(r row) string { return r.B }},
	}
	rows := []row{{"x", "1"}, {"longer\tcell", ""}, {"", "a,b"}}
	var b bytes.Buffer
	if err := writeList(&b, formatTable, rows, cols, "3 rows", nil); err != nil {
		t.Fatal(err)
	}
	want := "FIRST COL    B\nx            ~1\nlonger cell  ~\n-            ~a,b\n3 rows\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	if err := writeList(&b, formatCSV, rows, cols, "3 rows", nil); err != nil {
		t.Fatal(err)
	}
	if want := "first,b\nx,1\nlonger\tcell,\n,\"a,b\"\n"; b.String() != want {
		t.Errorf("csv:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	if err := writeList(&b, formatJSON, rows, cols, "3 rows", rows); err != nil {
		t.Fatal(err)
	}
	var back []row
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 3 || back[1].A != "longer\tcell" {
		t.Errorf("json: %v %+v\n%s", err, back, b.String())
	}
}

func TestJSONArray(t *testing.T) {
	for n := range 3 {
		var b bytes.Buffer
		a := &jsonArray{w: &b}
		for i := range n {
			if err := a.add(map[string]int{"i": i}); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.close(); err != nil {
			t.Fatal(err)
		}
		var back []map[string]int
		if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != n {
			t.Errorf("%d elements: %v\n%s", n, err, b.String())
		}
		if !strings.HasSuffix(b.String(), "]\n") {
			t.Errorf("%d elements: no final newline: %q", n, b.String())
		}
	}
}

func TestReport(t *testing.T) {
	detail, loc := "validation failed", "body.id"
	fields := []client.ProblemField{{Location: &loc, Message: "expected length >= 2"}, {Message: "something else"}}
	pe := &client.ProblemError{StatusCode: 422, Problem: client.Problem{Title: "Unprocessable Entity", Detail: &detail, Errors: &fields}}
	notFound := "not found"
	for _, tc := range []struct {
		err  error
		want string
	}{
		{pe, "error: 422 Unprocessable Entity: validation failed\n  body.id: expected length >= 2\n  something else\n"},
		{&client.ProblemError{StatusCode: 404, Problem: client.Problem{Title: "Not Found", Detail: &notFound}}, "error: 404 Not Found: not found\n"},
		{fmt.Errorf("client credentials: %w", &client.ProblemError{StatusCode: 401, Problem: client.Problem{Title: "Unauthorized"}}),
			"error: client credentials: 401 Unauthorized\n"},
		{errors.New(`Get "http://hub/v1/tenants": dial tcp: connection refused`), "error: Get \"http://hub/v1/tenants\": dial tcp: connection refused\n"},
		{errors.New("bearer s3cret-token was refused"), "error: bearer [redacted] was refused\n"},
	} {
		var b bytes.Buffer
		c := conn{token: "s3cret-token"}
		report(&b, tc.err, c.scrub)
		if b.String() != tc.want {
			t.Errorf("report(%v):\n%q\nwant\n%q", tc.err, b.String(), tc.want)
		}
	}
}

func TestConn_ParsesAndScrubsTheCredential(t *testing.T) {
	for _, tc := range []struct {
		token, id, secret string
		wantErr           string
	}{
		{token: "eyJhbGciOiJFZERTQSJ9.e30.sig"},
		{token: "phc_abc:phs_def123", id: "phc_abc", secret: "phs_def123"},
		{token: "", wantErr: "required"},
		{token: "user:hunter22", wantErr: "phc_…:phs_…"},
		{token: "phc_abc:hunter22", wantErr: "phc_…:phs_…"},
	} {
		var c conn
		settings := c.settings()
		err := settings[1].Parse(tc.token)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: %v, want %q", tc.token, err, tc.wantErr)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("%q: the error repeats the credential", tc.token)
			}
			continue
		}
		if err != nil || c.clientID != tc.id || c.secret != tc.secret {
			t.Errorf("%q: %v %q %q", tc.token, err, c.clientID, c.secret)
		}
	}
	c := conn{token: "phc_abc:phs_def123", secret: "phs_def123", url: "https://admin:pa55word@hub.example"}
	if got := c.scrub("phc_abc:phs_def123 / phs_def123 / pa55word / phc_abc"); got != "[redacted] / [redacted] / [redacted] / phc_abc" {
		t.Errorf("scrub: %q", got)
	}
}

func TestWatch_ClearsTheScreenOnATerminalAndStopsCleanly(t *testing.T) {
	for _, term := range []bool{true, false} {
		var out, errb bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		var n atomic.Int32
		c := &call{Env: &Env{Stdout: &out, Stderr: &errb, Terminal: func(io.Writer) bool { return term }}, tenant: "demo", format: formatTable}
		frame := func(context.Context) ([]byte, error) {
			switch n.Add(1) {
			case 2:
				return nil, errors.New("hub unreachable")
			case 4:
				cancel()
			}
			return []byte("frame\n"), nil
		}
		if err := c.watch(ctx, time.Millisecond, frame); err != nil {
			t.Fatalf("terminal %v: %v", term, err)
		}
		want := "frame\n\nframe\n" // the failed refresh is reported, not drawn; the cancelled one is not drawn
		if term {
			head := clearScreen + "proxyhub status --tenant demo, every 1ms (Ctrl-C stops)\n\n"
			want = head + "frame\n" + head + "frame\n"
		}
		if out.String() != want {
			t.Errorf("terminal %v:\n%q\nwant\n%q", term, out.String(), want)
		}
		if errb.String() != "error: hub unreachable\n" {
			t.Errorf("terminal %v: stderr %q", term, errb.String())
		}
		cancel()
	}
	// A first refresh that fails is the command's error.
	c := &call{Env: &Env{Stdout: io.Discard, Stderr: io.Discard}}
	boom := errors.New("401")
	if err := c.watch(context.Background(), time.Millisecond, func(context.Context) ([]byte, error) { return nil, boom }); err != boom {
		t.Fatalf("first frame failing: %v", err)
	}
}
