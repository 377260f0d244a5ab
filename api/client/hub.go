// Package client is the Go SDK of the proxyhub API: the code in
// client.gen.go, generated from openapi.yaml by oapi-codegen, and a thin
// layer in this file where the generated code alone is awkward.
//
// Start with New. The Hub it returns has every operation of the API as a
// method (GetTenantWithResponse, CreateTokenWithResponse, …, one per
// operation id), answers that are not 2xx come back as a *ProblemError,
// and the helpers page through lists (IPChanges, Proxies) and stream the
// CSV export (ExportIPChangesCSV):
//
//	hub, err := client.New("https://hub.example:3001", client.WithToken(jwt))
//	res, err := hub.GetTenantWithResponse(ctx, "acme")
//	if pe, ok := client.AsProblem(err); ok && pe.Problem.Type == client.ProblemNotFound { … }
//	fmt.Println(res.JSON200.Name)
//
// Heartbeats are not part of the SDK's job: cron sends them with curl.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Hub is a client of one proxyhub: every generated operation (embedded
// ClientWithResponses) plus the helpers below.
type Hub struct {
	*ClientWithResponses
	raw *Client
}

// Option configures New.
type Option func(*settings)

type settings struct {
	httpClient   *http.Client
	token        string
	clientID     string
	clientSecret string
	userAgent    string
}

// WithToken authenticates every call with a bearer token: an admin JWT
// (from `proxyhub jwt`, the token endpoint or an identity provider). GET
// /status also takes a heartbeat token.
func WithToken(token string) Option {
	return func(s *settings) { s.token = token }
}

// WithClientCredentials authenticates with an admin credential: the
// client id and secret are exchanged at /v1/auth/token for a short-lived
// JWT, which is renewed shortly before it expires, or at once when the hub
// refuses it (the request is then sent once more).
func WithClientCredentials(clientID, clientSecret string) Option {
	return func(s *settings) { s.clientID, s.clientSecret = clientID, clientSecret }
}

// WithHTTP sends requests with c (timeouts, proxies, TLS settings).
// Without it, a client with a 60-second timeout is used; streams such as
// ExportIPChangesCSV are bounded by the context instead, so pass a client
// without Timeout for long exports.
func WithHTTP(c *http.Client) Option {
	return func(s *settings) { s.httpClient = c }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(s *settings) { s.userAgent = ua }
}

// New returns a client of the hub at baseURL (scheme, host and port, e.g.
// http://localhost:3001).
func New(baseURL string, opts ...Option) (*Hub, error) {
	s := settings{httpClient: &http.Client{Timeout: 60 * time.Second}, userAgent: "proxyhub-go-sdk"}
	for _, o := range opts {
		o(&s)
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: the hub URL %q is not an http(s) URL", baseURL)
	}
	if s.token != "" && s.clientID != "" {
		return nil, errors.New("client: use a token or client credentials, not both")
	}
	var doer HttpRequestDoer = problemDoer{s.httpClient}
	copts := []ClientOption{WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("User-Agent", s.userAgent)
		return nil
	})}
	switch {
	case s.token != "":
		copts = append(copts, WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+s.token)
			return nil
		}))
	case s.clientID != "":
		anon, err := NewClientWithResponses(baseURL, WithHTTPClient(doer), copts[0])
		if err != nil {
			return nil, err
		}
		ts := &tokenSource{exchange: anon, id: s.clientID, secret: s.clientSecret}
		copts = append(copts, WithRequestEditorFn(ts.authorize))
		doer = renewingDoer{next: doer, ts: ts}
	}
	copts = append(copts, WithHTTPClient(doer))
	raw, err := NewClient(baseURL, copts...)
	if err != nil {
		return nil, err
	}
	return &Hub{ClientWithResponses: &ClientWithResponses{ClientInterface: raw}, raw: raw}, nil
}

// ProblemError is an answer that is not 2xx: its status and the RFC 9457
// problem the hub sent.
type ProblemError struct {
	StatusCode int
	Problem    Problem
}

// Error reads like "404 Not Found: not found".
func (e *ProblemError) Error() string {
	msg := fmt.Sprintf("%d %s", e.StatusCode, e.Problem.Title)
	if e.Problem.Detail != nil && *e.Problem.Detail != "" {
		msg += ": " + *e.Problem.Detail
	}
	if e.Problem.Errors != nil {
		for _, f := range *e.Problem.Errors {
			if f.Location != nil {
				msg += fmt.Sprintf(" (%s: %s)", *f.Location, f.Message)
			} else {
				msg += " (" + f.Message + ")"
			}
		}
	}
	return msg
}

// AsProblem reports whether err is (or wraps) an answer that is not 2xx.
func AsProblem(err error) (*ProblemError, bool) {
	var pe *ProblemError
	ok := errors.As(err, &pe)
	return pe, ok
}

// maxProblemBytes bounds how much of an error answer is read.
const maxProblemBytes = 64 << 10

// problemDoer turns answers that are not 2xx into *ProblemError, so every
// call either succeeds or returns an error that says why.
type problemDoer struct{ c *http.Client }

func (d problemDoer) Do(req *http.Request) (*http.Response, error) {
	res, err := d.c.Do(req)
	if err != nil || res.StatusCode < 300 {
		return res, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxProblemBytes))
	pe := &ProblemError{StatusCode: res.StatusCode}
	if json.Unmarshal(b, &pe.Problem) != nil || pe.Problem.Title == "" {
		detail := strings.TrimSpace(string(b))
		pe.Problem = Problem{Type: ProblemOther, Title: http.StatusText(res.StatusCode), Status: int64(res.StatusCode), Detail: &detail}
	}
	return nil, pe
}

// tokenSource exchanges client credentials for a JWT and renews it a
// minute before it expires.
type tokenSource struct {
	exchange   *ClientWithResponses
	id, secret string

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (ts *tokenSource) authorize(ctx context.Context, r *http.Request) error {
	tok, err := ts.get(ctx)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

func (ts *tokenSource) get(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && time.Until(ts.expires) > time.Minute {
		return ts.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	res, err := ts.exchange.IssueAccessTokenWithBodyWithResponse(ctx, "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()), func(_ context.Context, r *http.Request) error {
			r.SetBasicAuth(url.QueryEscape(ts.id), url.QueryEscape(ts.secret))
			return nil
		})
	if err != nil {
		return "", fmt.Errorf("client credentials: %w", err)
	}
	if res.JSON200 == nil {
		return "", fmt.Errorf("client credentials: the hub answered %d without a token", res.StatusCode())
	}
	ts.token = res.JSON200.AccessToken
	ts.expires = time.Now().Add(time.Duration(res.JSON200.ExpiresIn) * time.Second)
	return ts.token, nil
}

// forget drops the cached token if it is the one the Authorization header
// sent carried, so that the next request exchanges the credential again.
func (ts *tokenSource) forget(sent string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && sent == "Bearer "+ts.token {
		ts.token = ""
	}
}

// renewingDoer sends requests authorized by a tokenSource. When the hub
// refuses the token (401) before the SDK would have renewed it (the hub's
// clock is ahead, its signing key changed), it forgets the token and sends
// the request once more with a fresh one: a 401 is answered before the
// request is handled, so sending it again is safe. A credential that is
// itself refused fails at the exchange, with its 401.
type renewingDoer struct {
	next HttpRequestDoer
	ts   *tokenSource
}

func (d renewingDoer) Do(req *http.Request) (*http.Response, error) {
	res, err := d.next.Do(req)
	if pe, ok := AsProblem(err); !ok || pe.StatusCode != http.StatusUnauthorized {
		return res, err
	}
	d.ts.forget(req.Header.Get("Authorization"))
	retry := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return res, err // the body cannot be sent again
		}
		body, berr := req.GetBody()
		if berr != nil {
			return res, err
		}
		retry.Body = body
	}
	if aerr := d.ts.authorize(req.Context(), retry); aerr != nil {
		return nil, aerr
	}
	return d.next.Do(retry)
}

// IPChanges yields a tenant's IP-change history, newest first, following
// the pages until the last one (or until the loop stops). The filters are
// those of list-ip-changes; params.Cursor starts at a given page and
// params.Limit sets the page size.
func (h *Hub) IPChanges(ctx context.Context, tenant string, params ListIpChangesParams) iter.Seq2[IPChange, error] {
	return func(yield func(IPChange, error) bool) {
		for {
			res, err := h.ListIpChangesWithResponse(ctx, tenant, &params)
			if err != nil {
				yield(IPChange{}, err)
				return
			}
			if res.JSON200 == nil {
				yield(IPChange{}, fmt.Errorf("client: list-ip-changes answered %d without a page", res.StatusCode()))
				return
			}
			for _, c := range res.JSON200.IpChanges {
				if !yield(c, nil) {
					return
				}
			}
			if res.JSON200.NextCursor == nil || *res.JSON200.NextCursor == "" {
				return
			}
			params.Cursor = res.JSON200.NextCursor
		}
	}
}

// Proxies yields a tenant's proxies sorted by name, following the pages.
func (h *Hub) Proxies(ctx context.Context, tenant string, params ListProxiesParams) iter.Seq2[Proxy, error] {
	return func(yield func(Proxy, error) bool) {
		for {
			res, err := h.ListProxiesWithResponse(ctx, tenant, &params)
			if err != nil {
				yield(Proxy{}, err)
				return
			}
			if res.JSON200 == nil {
				yield(Proxy{}, fmt.Errorf("client: list-proxies answered %d without a page", res.StatusCode()))
				return
			}
			for _, p := range res.JSON200.Proxies {
				if !yield(p, nil) {
					return
				}
			}
			if res.JSON200.NextCursor == nil || *res.JSON200.NextCursor == "" {
				return
			}
			params.Cursor = res.JSON200.NextCursor
		}
	}
}

// ExportIPChangesCSV streams the IP changes the filters select, newest
// first, as CSV with a header row, without paging or holding them in
// memory. The caller closes the stream.
func (h *Hub) ExportIPChangesCSV(ctx context.Context, tenant string, params ExportIpChangesCsvParams) (io.ReadCloser, error) {
	res, err := h.raw.ExportIpChangesCsv(ctx, tenant, &params)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}
