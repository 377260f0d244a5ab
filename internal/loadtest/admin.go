package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/api"
)

// admin calls the hub's admin API with the JWT. The JWT goes in the
// Authorization header only: no error message, log line or summary
// carries it.
type admin struct {
	base   string
	jwt    string
	client *http.Client
	log    io.Writer
}

func newAdmin(base, jwt string, log io.Writer) *admin {
	return &admin{base: base, jwt: jwt, log: log, client: &http.Client{
		Transport: &http.Transport{Proxy: nil, ResponseHeaderTimeout: time.Minute, MaxIdleConnsPerHost: 2},
		// The audit export streams; the context bounds it, not a client timeout.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// apiError is a non-2xx answer of the admin API.
type apiError struct {
	method, path string
	status       int
	title        string
}

func (e *apiError) Error() string {
	return strings.TrimSpace(fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.title))
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	return 0
}

// maxAdminWait bounds how long one admin call waits out the hub's admin
// rate limit (429 with Retry-After) in total.
const maxAdminWait = 5 * time.Minute

// do sends one admin call with a JSON body (or none) and decodes a 2xx JSON
// answer into out (unless nil). A 429 is waited out as Retry-After asks.
func (a *admin) do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	waited := time.Duration(0)
	for {
		req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+a.jwt)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		ctxReq, cancel := context.WithTimeout(ctx, time.Minute)
		res, err := a.client.Do(req.WithContext(ctxReq))
		if err != nil {
			cancel()
			return fmt.Errorf("%s %s: %w", method, path, stripURLError(err))
		}
		b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		cancel()
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if res.StatusCode == http.StatusTooManyRequests && waited < maxAdminWait {
			d := retryAfter(res.Header.Get("Retry-After"))
			if a.log != nil {
				fmt.Fprintf(a.log, "loadtest: admin rate limit reached (PROXYHUB_RATE_ADMIN); waiting %s\n", d)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
			waited += d
			continue
		}
		if res.StatusCode < 200 || res.StatusCode > 299 {
			return &apiError{method: method, path: path, status: res.StatusCode, title: problemTitle(b)}
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
			}
		}
		return nil
	}
}

func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return min(time.Duration(s)*time.Second, time.Minute)
	}
	return time.Second
}

// problemTitle extracts "title: detail" from an RFC 9457 problem.
func problemTitle(b []byte) string {
	var p struct{ Title, Detail string }
	if json.Unmarshal(b, &p) != nil || p.Title == "" {
		return ""
	}
	if p.Detail != "" && p.Detail != p.Title {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// stripURLError drops the *url.Error wrapper (its text repeats the URL).
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (a *admin) logf(format string, args ...any) {
	if a.log != nil {
		fmt.Fprintf(a.log, "loadtest: "+format+"\n", args...)
	}
}

// ensureTenant makes sure tenant exists, lets unbound tokens register new
// names and allows at least n proxies: it is created when missing (a
// platform JWT may) and raised when too small.
func (a *admin) ensureTenant(ctx context.Context, tenant string, n int) error {
	path := "/v1/tenants/" + url.PathEscape(tenant)
	var t api.Tenant
	err := a.do(ctx, http.MethodGet, path, nil, &t)
	switch statusOf(err) {
	case 0:
		if err != nil {
			return err
		}
	case http.StatusUnauthorized:
		return fmt.Errorf("the hub refused the JWT (401): give a valid admin JWT with --jwt or PROXYHUB_LOADTEST_JWT")
	case http.StatusNotFound:
		create := api.TenantCreate{ID: tenant, Name: "proxyhub-loadtest"}
		if n > 10000 {
			create.MaxProxies = &n
		}
		if err := a.do(ctx, http.MethodPost, "/v1/tenants", create, &t); err != nil {
			if s := statusOf(err); s == http.StatusForbidden || s == http.StatusNotFound {
				return fmt.Errorf("tenant %q does not exist and this JWT may not create it (a platform JWT can): %w", tenant, err)
			}
			return fmt.Errorf("create tenant %q: %w", tenant, err)
		}
		a.logf("created tenant %s (max_proxies %d)", tenant, t.MaxProxies)
	default:
		return fmt.Errorf("read tenant %q: %w", tenant, err)
	}
	var up api.TenantUpdate
	if t.MaxProxies < n {
		up.MaxProxies = &n
	}
	if !t.AutoRegister {
		yes := true
		up.AutoRegister = &yes
	}
	if up.MaxProxies == nil && up.AutoRegister == nil {
		return nil
	}
	if err := a.do(ctx, http.MethodPatch, path, up, &t); err != nil {
		return fmt.Errorf("tenant %q allows %d proxies (auto_register %t) and this JWT may not raise it to %d with auto_register: %w",
			tenant, t.MaxProxies, t.AutoRegister, n, err)
	}
	a.logf("tenant %s: max_proxies now %d, auto_register %t", tenant, t.MaxProxies, t.AutoRegister)
	return nil
}

// createTokens makes k unbound heartbeat tokens and returns their secrets.
func (a *admin) createTokens(ctx context.Context, tenant string, k int) ([]string, error) {
	path := "/v1/tenants/" + url.PathEscape(tenant) + "/tokens"
	stamp := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	out := make([]string, 0, k)
	for i := range k {
		var tc api.TokenCreated
		if err := a.do(ctx, http.MethodPost, path, api.TokenCreate{Label: fmt.Sprintf("proxyhub-loadtest %s %d/%d", stamp, i+1, k)}, &tc); err != nil {
			return nil, fmt.Errorf("create heartbeat token %d of %d: %w", i+1, k, err)
		}
		if !strings.HasPrefix(tc.Secret, "phb_") {
			return nil, fmt.Errorf("create heartbeat token %d of %d: the answer holds no phb_ token", i+1, k)
		}
		out = append(out, tc.Secret)
	}
	a.logf("created %d heartbeat token(s) in tenant %s", k, tenant)
	return out, nil
}

// ipChanges opens the tenant's IP-change history since t as NDJSON.
func (a *admin) ipChanges(ctx context.Context, tenant string, since time.Time) (io.ReadCloser, error) {
	q := url.Values{"since": {since.UTC().Format(time.RFC3339Nano)}}
	path := "/v1/tenants/" + url.PathEscape(tenant) + "/ip-changes.ndjson"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.jwt)
	res, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, stripURLError(err))
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		return nil, &apiError{method: http.MethodGet, path: path, status: res.StatusCode, title: problemTitle(b)}
	}
	return res.Body, nil
}

// checkReachable fails fast when nothing answers at base.
func checkReachable(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return err
	}
	res, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the hub at %s: %w", base, stripURLError(err))
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("the hub at %s answers /healthz with %d", base, res.StatusCode)
	}
	return nil
}

// readTokens reads a tokens file: one phb_ token a line; blank lines and
// lines starting with # are skipped. ok is false when the file does not
// exist.
func readTokens(path string) (tokens []string, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if !strings.HasPrefix(t, "phb_") || strings.ContainsAny(t, " \t") {
			return nil, true, fmt.Errorf("%s:%d: not a phb_ heartbeat token", path, line)
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, true, err
	}
	if len(tokens) == 0 {
		return nil, true, fmt.Errorf("%s holds no tokens", path)
	}
	return tokens, true, nil
}

// writeTokens saves tokens to a new file readable by its owner only; an
// existing file is never overwritten.
func writeTokens(path, hub, tenant string, tokens []string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "# proxyhub-loadtest heartbeat tokens: tenant %s at %s, %s\n", tenant, hub, time.Now().UTC().Format(time.RFC3339))
	for _, t := range tokens {
		fmt.Fprintln(w, t)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
