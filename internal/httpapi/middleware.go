package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/metrics"
)

// The pipeline, in order: request id → client IP → recover → routing →
// (Huma) operationName → store deadline → security → handler, then the
// access log and metrics. One handler (pipeline) does everything up to
// routing, with one piece of state per request (requestInfo) that is also
// the request's context: a request costs one context derivation, not one
// per step. Panics are recovered inside the access log, so a panic is
// logged and counted as the 500 it answers. Authentication, rate limits
// and policy run after routing, where the operation (and its security) is
// known.

type ctxKey int

const infoKey ctxKey = iota

// requestInfo is one request's state, filled in as it travels through the
// pipeline and read by the access log when it finishes. It is the context
// of the request (it embeds the server's and answers infoKey), so carrying
// it costs no further allocation.
type requestInfo struct {
	clientip.Resolved // the request's context, with the client IP resolution
	id                string
	operation         string
	principal         auth.Principal // the authenticated caller, if any
	// w is the response writer, for the few handlers that write beside
	// Huma (SSE comments).
	w answerWriter
}

// Value answers infoKey with ri and every other key as the resolution's
// context does.
func (ri *requestInfo) Value(key any) any {
	if key == any(infoKey) {
		return ri
	}
	return ri.Resolved.Value(key)
}

// principalForLog names the authenticated caller as the access log
// prints it: kind:id, never a secret; "" before authentication.
func (ri *requestInfo) principalForLog() string {
	if ri.principal.Kind == "" {
		return ""
	}
	return ri.principal.LogID()
}

// clientForLog is the resolved client IP as the access log prints it.
func (ri *requestInfo) clientForLog() string {
	res, err := clientip.FromContext(ri)
	if err != nil || !res.Client.IsValid() {
		return "-"
	}
	return res.Client.String()
}

func infoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(infoKey).(*requestInfo)
	return ri
}

// requestIDFrom returns the request id of the request that ctx belongs to.
func requestIDFrom(ctx context.Context) string {
	if ri := infoFrom(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// pipeline is the hub's outer handler: it takes a well-formed X-Request-Id
// from the caller (so ids chain through balancers) or makes one and echoes
// it; resolves the caller's IP once and stores the result (or the reason it
// failed) in the request context, where operations that need it fail
// closed on an error; recovers a panicking handler as a logged 500
// problem; turns the mux's plain-text 404 and 405 into problem+json; and
// logs and counts the request when it is answered.
type pipeline struct {
	log      *slog.Logger
	metrics  *metrics.Metrics
	clientIP *clientip.Resolver
	next     http.Handler
}

func (p *pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		id = newRequestID()
	}
	w.Header()[headerRequestID] = []string{id}
	ri := &requestInfo{id: id, operation: "unmatched"}
	ip, err := p.clientIP.Resolve(r.RemoteAddr, r.Header)
	ri.Resolved = clientip.NewResolved(r.Context(), ip, err)
	r = r.WithContext(ri)
	ri.w = answerWriter{ResponseWriter: w, r: r}
	p.serve(&ri.w, r)
	p.logRequest(ri, r, time.Since(start))
}

// serve runs the routes, answering a panic with a 500 problem.
func (p *pipeline) serve(w *answerWriter, r *http.Request) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		p.log.ErrorContext(r.Context(), "panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())),
			slog.String("request_id", requestIDFrom(r.Context())))
		writeProblem(w, r, http.StatusInternalServerError, "internal error")
	}()
	p.next.ServeHTTP(w, r)
}

// logRequest counts the request in the metrics and logs one line for it:
// the path without the query and never a header, so credentials stay out.
// A heartbeat that succeeded is only counted (its line is at debug level):
// at a fleet's rate those lines would cost more than the heartbeats, and
// the hub logs what matters about them (IP changes, denials, errors)
// itself.
func (p *pipeline) logRequest(ri *requestInfo, r *http.Request, d time.Duration) {
	code := ri.w.code()
	p.metrics.ObserveRequest(ri.operation, code, d)
	level := slog.LevelInfo
	if ri.operation == operationHeartbeat && code < 400 {
		level = slog.LevelDebug
	}
	if !p.log.Enabled(ri, level) {
		return
	}
	p.log.LogAttrs(ri, level, "request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", code), slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("client_ip", ri.clientForLog()), slog.String("request_id", ri.id),
		slog.String("operation", ri.operation), slog.String("principal", ri.principalForLog()))
}

// headerRequestID is X-Request-Id in canonical form.
const headerRequestID = "X-Request-Id"

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	var out [2 * len(b)]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// operationName records the matched operation id for logs and metrics.
func operationName(ctx huma.Context, next func(huma.Context)) {
	if ri := infoFrom(ctx.Context()); ri != nil {
		ri.operation = ctx.Operation().OperationID
	}
	next(ctx)
}

// writeProblem writes a minimal RFC 9457 problem outside Huma.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(withInstance(r.Context(), api.NewProblem(status, detail)))
}

// answerWriter is the response writer every handler writes to: it
// remembers the status written (for the access log) and turns the mux's
// plain-text 404 and 405 answers into problem+json, so every error of the
// API has one shape.
type answerWriter struct {
	http.ResponseWriter
	r       *http.Request
	status  int
	swallow bool
}

func (a *answerWriter) WriteHeader(code int) {
	if a.status != 0 {
		a.ResponseWriter.WriteHeader(code) // net/http reports the superfluous call
		return
	}
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(a.Header().Get("Content-Type"), "text/plain") {
		writeProblem(a, a.r, code, map[int]string{
			http.StatusNotFound:         "no such resource",
			http.StatusMethodNotAllowed: "method not allowed for this resource",
		}[code])
		a.swallow = true // the mux's own text
		return
	}
	a.status = code
	a.ResponseWriter.WriteHeader(code)
}

func (a *answerWriter) Write(b []byte) (int, error) {
	if a.swallow {
		return len(b), nil
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.ResponseWriter.Write(b)
}

func (a *answerWriter) code() int {
	if a.status == 0 {
		return http.StatusOK
	}
	return a.status
}

// Unwrap lets http.ResponseController reach the real writer (flushing).
func (a *answerWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }
