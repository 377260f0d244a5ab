package httpapi_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
)

// withHistory makes edge-1 change IP n times (one minute apart) and edge-2
// once.
func withHistory(t *testing.T, n int) (*testHub, string) {
	th, tok := newAcme(t)
	th.heartbeat(tok, "edge-2", "198.51.100.1:1", http.StatusOK)
	for i := 0; i <= n; i++ {
		th.heartbeat(tok, "edge-1", fmt.Sprintf("203.0.113.%d:1", i%250+1), http.StatusOK)
		th.clock.Advance(time.Minute)
	}
	th.heartbeat(tok, "edge-2", "198.51.100.2:1", http.StatusOK)
	return th, th.jwt("acme", auth.RoleViewer)
}

func TestIPChanges_PagesNewestFirstWithCursor(t *testing.T) {
	t.Parallel()
	th, viewer := withHistory(t, 7)
	var ids []float64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		b := th.do(request{target: "/v1/tenants/acme/ip-changes?limit=3&cursor=" + cursor, bearer: viewer}).json(t)
		for _, r := range b["ip_changes"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(float64))
		}
		c, _ := b["next_cursor"].(string)
		if c == "" {
			break
		}
		cursor = c
	}
	if len(ids) != 8 {
		t.Fatalf("%d records over all pages, want 8 (7 for edge-1, 1 for edge-2)", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("not newest first: %v", ids)
		}
	}
}

func TestIPChanges_Filters(t *testing.T) {
	t.Parallel()
	th, viewer := withHistory(t, 4)
	count := func(target string) int {
		t.Helper()
		res := th.do(request{target: target, bearer: viewer})
		if res.code != 200 {
			t.Fatalf("%s: %d %s", target, res.code, res.body)
		}
		return len(res.json(t)["ip_changes"].([]any))
	}
	cases := map[string]int{
		"/v1/tenants/acme/ip-changes":                                5,
		"/v1/tenants/acme/ip-changes?proxy=edge-2":                   1,
		"/v1/tenants/acme/proxies/edge-1/ip-changes":                 4,
		"/v1/tenants/acme/ip-changes?ip=203.0.113.2":                 2, // new in one, old in the next
		"/v1/tenants/acme/ip-changes?ip=::ffff:203.0.113.2":          2,
		"/v1/tenants/acme/ip-changes?since=2026-11-28T09:03:00Z":     3,
		"/v1/tenants/acme/ip-changes?until=2026-11-28T09:02:00Z":     1,
		"/v1/tenants/acme/proxies/edge-1/ip-changes?ip=198.51.100.1": 0,
		"/v1/tenants/acme/proxies/nope/ip-changes":                   0,
	}
	for target, want := range cases {
		if got := count(target); got != want {
			t.Errorf("%s: %d records, want %d", target, got, want)
		}
	}
	for _, bad := range []string{"ip=300.1.1.1", "cursor=xyz", "limit=5000", "format=xml", "since=yesterday"} {
		assertProblem(t, th.do(request{target: "/v1/tenants/acme/ip-changes?" + bad, bearer: viewer}), http.StatusUnprocessableEntity)
	}
}

func TestIPChanges_CSVAndNDJSONStreamEverything(t *testing.T) {
	t.Parallel()
	th, viewer := withHistory(t, 1200) // more than a json page may hold
	res := th.do(request{target: "/v1/tenants/acme/ip-changes.csv", bearer: viewer})
	if res.code != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", res.code, res.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+1201 || strings.Join(rows[0], ",") != "id,proxy,old_ip,new_ip,at,token_id,request_id" {
		t.Fatalf("csv has %d rows, header %v", len(rows), rows[0])
	}
	if rows[1][1] != "edge-2" || !strings.HasPrefix(rows[1][5], "tok_") {
		t.Fatalf("newest row %v", rows[1])
	}

	res = th.do(request{target: "/v1/tenants/acme/proxies/edge-1/ip-changes.ndjson?since=2026-11-28T09:10:00Z", bearer: viewer})
	if res.code != 200 || res.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("ndjson: %d %s", res.code, res.header.Get("Content-Type"))
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(string(res.body)))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec["proxy"] != "edge-1" {
			t.Fatalf("line %d: %v %s", n, err, sc.Text())
		}
		n++
	}
	if n != 1200-9 {
		t.Fatalf("%d ndjson lines, want %d", n, 1200-9)
	}
}

func TestDeniedAndStats(t *testing.T) {
	t.Parallel()
	th, viewer := withHistory(t, 3)
	for i, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		if _, err := th.store.RecordDenied(context.Background(), hub.Denied{TenantID: "acme", Proxy: "edge-1", IP: mustAddr(ip),
			At: start.Add(time.Duration(i) * time.Minute), TokenID: "tok_x", Reason: "source_ip_not_allowed"}); err != nil {
			t.Fatal(err)
		}
	}
	d := th.do(request{target: "/v1/tenants/acme/denied?ip=192.0.2.2", bearer: viewer}).json(t)["denied"].([]any)
	if len(d) != 1 || d[0].(map[string]any)["reason"] != "source_ip_not_allowed" {
		t.Fatalf("denied: %v", d)
	}
	st := th.do(request{target: "/v1/tenants/acme/stats", bearer: viewer}).json(t)
	if st["total_changes"] != 4.0 || st["proxies_changed"] != 2.0 {
		t.Fatalf("stats: %v", st)
	}
	p := st["proxies"].([]any)[0].(map[string]any)
	if p["proxy"] != "edge-1" || p["changes"] != 3.0 || p["distinct_ips"] != 3.0 {
		t.Fatalf("edge-1 stats: %v", p)
	}
	w := th.do(request{target: "/v1/tenants/acme/stats?since=2026-11-28T09:02:00Z&until=2026-11-28T09:03:00Z", bearer: viewer}).json(t)
	if w["total_changes"] != 1.0 {
		t.Fatalf("windowed stats: %v", w)
	}
	assertProblem(t, th.do(request{target: "/v1/tenants/acme/stats?since=2026-11-28T10:00:00Z&until=2026-11-28T09:00:00Z", bearer: viewer}), http.StatusUnprocessableEntity)
}

// The JSON listing answers JSON only; asking it for an export says where
// the export is.
func TestIPChanges_ListingPointsAtTheExports(t *testing.T) {
	t.Parallel()
	th, viewer := withHistory(t, 3)
	p := assertProblem(t, th.do(request{target: "/v1/tenants/acme/ip-changes?format=csv", bearer: viewer}), http.StatusUnprocessableEntity)
	if !strings.Contains(string(mustJSON(t, p)), "/v1/tenants/{tenant}/ip-changes.csv") {
		t.Fatalf("the problem does not name the CSV export: %v", p)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An export of a tenant that does not exist is a 404, as its listing is,
// not an empty 200 stream.
func TestExports_UnknownTenantIsNotFound(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	platform := th.jwt("", auth.RolePlatform)
	for _, path := range []string{"ip-changes.csv", "ip-changes.ndjson", "denied.csv", "denied.ndjson", "proxies/edge-1/ip-changes.csv"} {
		assertProblem(t, th.do(request{target: "/v1/tenants/nosuch/" + path, bearer: platform}), http.StatusNotFound)
	}
}

// Finding: CSV exports carried caller-chosen text (request ids from
// X-Request-Id) as it came, so a spreadsheet evaluated "-2-3-A1" or
// "=HYPERLINK(…)" as a formula. A request id outside the allowed
// characters is replaced (never stored or echoed), and a cell that starts
// a formula is exported with a leading quote.
func TestExports_CSVCellsNeverStartAFormula(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	viewer := th.jwt("acme", auth.RoleViewer)
	formula := `=HYPERLINK("http://evil.example/","x")`
	for i, id := range []string{"", "-2-3-A1", formula} {
		h := http.Header{}
		if id != "" {
			h.Set("X-Request-Id", id)
		}
		res := th.do(request{target: "/proxy_server?name=edge-1", peer: fmt.Sprintf("203.0.113.%d:1", i+1), bearer: tok, header: h})
		if res.code != http.StatusOK {
			t.Fatalf("heartbeat %d: %d %s", i, res.code, res.body)
		}
		if echoed := res.header.Get("X-Request-Id"); id == formula && (echoed == formula || !strings.HasPrefix(string(res.body), "{")) {
			t.Fatalf("a request id with a formula was echoed: %q", echoed)
		}
	}
	res := th.do(request{target: "/v1/tenants/acme/ip-changes.csv", bearer: viewer})
	rows, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
	if err != nil || len(rows) != 1+2 {
		t.Fatalf("csv: %v, %d rows\n%s", err, len(rows), res.body)
	}
	ids := map[string]bool{}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q starts a formula", cell)
			}
		}
		ids[row[6]] = true
	}
	if !ids["'-2-3-A1"] {
		t.Errorf("request ids exported: %v, want '-2-3-A1 among them", ids)
	}
}
