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
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/metrics"
)

// The pipeline, outermost first: requestID → accessLog → recoverPanics →
// resolveClientIP → problemFallback → mux → (Huma) operationName → handler.
// The access log wraps the panic recovery, so a panic is logged and counted
// as the 500 it answers.
// Authentication, rate limits and policy slot in as Huma middleware after
// operationName, where the operation (and its security) is known.

type ctxKey int

const infoKey ctxKey = iota

// requestInfo is filled in as the request travels through the pipeline and
// read by the access log when it finishes.
type requestInfo struct {
	id        string
	operation string
	principal string // kind:id of the authenticated caller, never a secret
	client    string // the resolved client IP, "-" until resolved
	// w is the response writer, for the few handlers that write beside
	// Huma (SSE comments).
	w http.ResponseWriter
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

// requestID takes a well-formed X-Request-Id from the caller (so ids chain
// through balancers) or makes one, and echoes it in the response.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ri := &requestInfo{id: id, operation: "unmatched", client: "-"}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey, ri)))
	})
}

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
	return hex.EncodeToString(b[:])
}

// recoverPanics turns a panicking handler into a logged 500 problem.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.ErrorContext(r.Context(), "panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())),
				slog.String("request_id", requestIDFrom(r.Context())))
			writeProblem(w, r, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLog logs one line per request and counts it in the metrics. It logs
// the path without the query and never a header: credentials stay out.
func accessLog(log *slog.Logger, m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		if ri := infoFrom(r.Context()); ri != nil {
			ri.w = sw
		}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		ri := infoFrom(r.Context())
		m.ObserveRequest(ri.operation, sw.code(), d)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.code()), slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.String("client_ip", ri.client), slog.String("request_id", ri.id),
			slog.String("operation", ri.operation), slog.String("principal", ri.principal))
	})
}

// resolveClientIP resolves the caller's IP once and stores the result (or
// the reason it failed) in the request context, and the client for the
// access log. Operations that need it fail closed on an error; the others
// ignore it.
func resolveClientIP(res *clientip.Resolver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, err := res.Resolve(r.RemoteAddr, r.Header)
		if ri := infoFrom(r.Context()); ri != nil && ip.Client.IsValid() {
			ri.client = ip.Client.String()
		}
		next.ServeHTTP(w, r.WithContext(clientip.WithResult(r.Context(), ip, err)))
	})
}

// operationName records the matched operation id for logs and metrics.
func operationName(ctx huma.Context, next func(huma.Context)) {
	if ri := infoFrom(ctx.Context()); ri != nil {
		ri.operation = ctx.Operation().OperationID
	}
	next(ctx)
}

// problemFallback turns the mux's plain-text 404 and 405 answers into
// problem+json, so every error of the API has one shape.
func problemFallback(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&fallbackWriter{ResponseWriter: w, r: r}, r)
	})
}

type fallbackWriter struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (f *fallbackWriter) WriteHeader(code int) {
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(f.Header().Get("Content-Type"), "text/plain") {
		f.swallow = true
		writeProblem(f.ResponseWriter, f.r, code, map[int]string{
			http.StatusNotFound:         "no such resource",
			http.StatusMethodNotAllowed: "method not allowed for this resource",
		}[code])
		return
	}
	f.ResponseWriter.WriteHeader(code)
}

func (f *fallbackWriter) Write(b []byte) (int, error) {
	if f.swallow {
		return len(b), nil
	}
	return f.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (flushing).
func (f *fallbackWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// writeProblem writes a minimal RFC 9457 problem outside Huma.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(withInstance(r.Context(), api.NewProblem(status, detail)))
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Unwrap lets http.ResponseController reach the real writer (flushing).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
