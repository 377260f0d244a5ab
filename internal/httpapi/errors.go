package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/api"

	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

func init() {
	// Every error Huma makes, and every one made here, is an api.Problem:
	// one schema in the document and one shape on the wire.
	huma.NewError = newProblem
}

// newProblem is huma.NewError: a problem of the kind status names, with
// the fields that broke a rule.
func newProblem(status int, detail string, errs ...error) huma.StatusError {
	p := api.NewProblem(status, detail)
	for _, err := range errs {
		if err == nil {
			continue
		}
		f := api.ProblemField{Message: err.Error()}
		if d, ok := err.(huma.ErrorDetailer); ok {
			ed := d.ErrorDetail()
			f = api.ProblemField{Location: ed.Location, Message: ed.Message, Value: ed.Value}
		}
		p.Errors = append(p.Errors, f)
	}
	return p
}

// problemOf is a problem of a kind its status alone does not name.
func problemOf(t api.ProblemType, status int, detail string) *api.Problem {
	p := api.NewProblem(status, detail)
	p.Type = t
	return p
}

// withInstance fills the problem's instance from the request id in ctx;
// every path that writes a problem passes through here.
func withInstance(ctx context.Context, v any) any {
	if p, ok := v.(*api.Problem); ok && p.Instance == "" {
		p.Instance = api.InstanceFor(requestIDFrom(ctx))
	}
	return v
}

// retryAfterSeconds is what a 503 asks clients to wait before retrying.
const retryAfterSeconds = "5"

// statusClientClosedRequest is nginx's 499: the client hung up before the
// answer. Nobody reads the answer; the status is for logs and metrics.
const statusClientClosedRequest = 499

// ErrShuttingDown is the cause with which the server cancels the requests
// still running when its shutdown timeout ends: they are answered 503.
var ErrShuttingDown = fmt.Errorf("the hub is shutting down: %w", hub.ErrUnavailable)

// clientGone reports whether err is the cancellation of a request whose
// client went away: context.Canceled while the request context is done,
// and not cancelled by the server itself (ErrShuttingDown). A
// cancellation the client did not cause stays an internal error.
func clientGone(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && ctx.Err() != nil && !cancelledByHub(ctx)
}

// cancelledByHub reports whether ctx was cancelled because the hub could
// not go on (ErrShuttingDown, or any cause wrapping hub.ErrUnavailable).
func cancelledByHub(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), hub.ErrUnavailable)
}

// fieldError is invalid input that names its field (hub.FieldError).
type fieldError interface {
	error
	FieldName() string
}

// badRequest is invalid input answered with 400 rather than 422
// (hub.CIDRError: allowlist entries).
type badRequest interface {
	error
	BadRequest() bool
}

// problem maps an error from the domain, the store or authorization to an
// RFC 9457 problem with the right status. It is the only place that decides
// statuses for those errors. Unknown errors become a 500 whose detail is
// logged, never sent; a client that hung up gets a quiet 499.
func (h *handlers) problem(ctx context.Context, err error) error {
	var fe fieldError
	var br badRequest
	switch {
	case clientGone(ctx, err):
		// Quiet: no error of ours, and no ERROR line.
		return huma.NewError(statusClientClosedRequest, "client closed request")
	case errors.As(err, &br) && errors.As(err, &fe):
		p := problemOf(api.ProblemInvalidInput, http.StatusBadRequest, "invalid input")
		p.Errors = []api.ProblemField{{Location: fe.FieldName(), Message: fe.Error()}}
		return p
	case errors.As(err, &fe):
		return huma.Error422UnprocessableEntity("invalid input", &huma.ErrorDetail{Location: fe.FieldName(), Message: fe.Error()})
	case errors.Is(err, hub.ErrInvalidBadge):
		return huma.Error422UnprocessableEntity("invalid badge", &huma.ErrorDetail{Location: "body.label", Message: err.Error()})
	case errors.Is(err, hub.ErrInvalidName):
		return huma.Error422UnprocessableEntity("invalid proxy name", &huma.ErrorDetail{
			Location: "query.name",
			Message:  hub.NameRule,
		})
	case errors.Is(err, clientip.ErrBadForwarded), errors.Is(err, clientip.ErrBadPeer), errors.Is(err, hub.ErrInvalidIP):
		return huma.Error400BadRequest("could not determine the client IP address of this request")
	case errors.Is(err, hub.ErrTokenRevoked):
		// Revoked (on another hub, say) after this request authenticated:
		// the same answer as any invalid credential.
		return huma.ErrorWithHeaders(huma.Error401Unauthorized(unauthenticatedDetail),
			http.Header{"WWW-Authenticate": {wwwAuthenticate}})
	case errors.Is(err, policy.ErrHidden), errors.Is(err, hub.ErrNotFound):
		return huma.Error404NotFound("not found")
	case errors.Is(err, policy.ErrForbidden):
		return huma.Error403Forbidden("this credential may not perform this operation")
	case errors.Is(err, hub.ErrSourceDenied):
		return problemOf(api.ProblemSourceNotAllowed, http.StatusForbidden, "the source IP of this request is not allowed for this tenant or token")
	case errors.Is(err, hub.ErrQuotaExceeded):
		return problemOf(api.ProblemQuotaExceeded, http.StatusForbidden, "quota exceeded: the tenant has reached max_proxies; existing proxies keep working")
	case errors.Is(err, hub.ErrNotRegistered):
		return problemOf(api.ProblemProxyNotRegistered, http.StatusForbidden, "proxy not registered: this tenant does not auto-register new names; use a token bound to this name")
	case errors.Is(err, hub.ErrConflict):
		return huma.Error409Conflict("already exists")
	case errors.Is(err, hub.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), cancelledByHub(ctx):
		return huma.ErrorWithHeaders(
			huma.Error503ServiceUnavailable("the store is unavailable; retry later"),
			http.Header{"Retry-After": {retryAfterSeconds}})
	default:
		h.Logger.ErrorContext(ctx, "internal error", slog.String("error", err.Error()), slog.String("request_id", requestIDFrom(ctx)))
		return huma.Error500InternalServerError("internal error")
	}
}
