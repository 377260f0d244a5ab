package api

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// ProblemType is the stable URI that names a kind of error: what a client
// branches on. Titles and details are for people and may change.
type ProblemType string

// The kinds of error the API answers. Each is a URN: stable, and not a web
// address a client is expected to fetch.
const (
	ProblemInvalidRequest       ProblemType = "urn:proxyhub:problem:invalid-request"
	ProblemInvalidInput         ProblemType = "urn:proxyhub:problem:invalid-input"
	ProblemUnauthenticated      ProblemType = "urn:proxyhub:problem:unauthenticated"
	ProblemForbidden            ProblemType = "urn:proxyhub:problem:forbidden"
	ProblemSourceNotAllowed     ProblemType = "urn:proxyhub:problem:source-not-allowed"
	ProblemQuotaExceeded        ProblemType = "urn:proxyhub:problem:quota-exceeded"
	ProblemProxyNotRegistered   ProblemType = "urn:proxyhub:problem:proxy-not-registered"
	ProblemNotFound             ProblemType = "urn:proxyhub:problem:not-found"
	ProblemMethodNotAllowed     ProblemType = "urn:proxyhub:problem:method-not-allowed"
	ProblemNotAcceptable        ProblemType = "urn:proxyhub:problem:not-acceptable"
	ProblemConflict             ProblemType = "urn:proxyhub:problem:conflict"
	ProblemRequestTooLarge      ProblemType = "urn:proxyhub:problem:request-too-large"
	ProblemUnsupportedMediaType ProblemType = "urn:proxyhub:problem:unsupported-media-type"
	ProblemRateLimited          ProblemType = "urn:proxyhub:problem:rate-limited"
	ProblemClientClosedRequest  ProblemType = "urn:proxyhub:problem:client-closed-request"
	ProblemInternal             ProblemType = "urn:proxyhub:problem:internal"
	ProblemUnavailable          ProblemType = "urn:proxyhub:problem:unavailable"
	// ProblemOther is RFC 9457's default: nothing more is said than the
	// status code.
	ProblemOther ProblemType = "about:blank"
)

// problemTypes describes every ProblemType, in the order the document
// lists them, with the name generated clients give its constant.
var problemTypes = []struct {
	t    ProblemType
	name string
	when string
}{
	{ProblemInvalidRequest, "ProblemInvalidRequest", "400: the request cannot be read (malformed body or parameters, an unusable client address, an OAuth2 request error)."},
	{ProblemInvalidInput, "ProblemInvalidInput", "422 (400 for allowlist entries): a field breaks a rule; errors[] names each field (location) and what is wrong."},
	{ProblemUnauthenticated, "ProblemUnauthenticated", "401: missing, invalid, expired or revoked credentials. The answer never says which."},
	{ProblemForbidden, "ProblemForbidden", "403: the credential may not perform this operation (its role or tenant)."},
	{ProblemSourceNotAllowed, "ProblemSourceNotAllowed", "403: the caller's IP is outside the tenant's or the token's allowlist."},
	{ProblemQuotaExceeded, "ProblemQuotaExceeded", "403: the tenant has reached max_proxies; existing proxies keep working."},
	{ProblemProxyNotRegistered, "ProblemProxyNotRegistered", "403: the tenant does not auto-register new names and the token is not bound to this one."},
	{ProblemNotFound, "ProblemNotFound", "404: no such resource, or one the caller may not see."},
	{ProblemMethodNotAllowed, "ProblemMethodNotAllowed", "405: the resource exists but not with this method."},
	{ProblemNotAcceptable, "ProblemNotAcceptable", "406: none of the media types in Accept can be produced."},
	{ProblemConflict, "ProblemConflict", "409: the resource already exists."},
	{ProblemRequestTooLarge, "ProblemRequestTooLarge", "413: the body is larger than the operation accepts."},
	{ProblemUnsupportedMediaType, "ProblemUnsupportedMediaType", "415: the body's Content-Type is not one the operation reads."},
	{ProblemRateLimited, "ProblemRateLimited", "429: a rate limit is used up; retry after Retry-After seconds."},
	{ProblemClientClosedRequest, "ProblemClientClosedRequest", "499: the client went away before the answer (seen in logs, not by clients)."},
	{ProblemInternal, "ProblemInternal", "500: a fault of the hub; the detail is logged under the request id, never sent."},
	{ProblemUnavailable, "ProblemUnavailable", "503: the store cannot be reached in time; nothing was changed; retry after Retry-After seconds."},
	{ProblemOther, "ProblemOther", "Any other status: nothing more is said than the status code."},
}

// problemTypeByStatus is the kind of an error known only by its status.
var problemTypeByStatus = map[int]ProblemType{
	http.StatusBadRequest:            ProblemInvalidRequest,
	http.StatusUnauthorized:          ProblemUnauthenticated,
	http.StatusForbidden:             ProblemForbidden,
	http.StatusNotFound:              ProblemNotFound,
	http.StatusMethodNotAllowed:      ProblemMethodNotAllowed,
	http.StatusNotAcceptable:         ProblemNotAcceptable,
	http.StatusConflict:              ProblemConflict,
	http.StatusRequestEntityTooLarge: ProblemRequestTooLarge,
	http.StatusUnsupportedMediaType:  ProblemUnsupportedMediaType,
	http.StatusUnprocessableEntity:   ProblemInvalidInput,
	http.StatusTooManyRequests:       ProblemRateLimited,
	499:                              ProblemClientClosedRequest,
	http.StatusInternalServerError:   ProblemInternal,
	http.StatusServiceUnavailable:    ProblemUnavailable,
}

// ProblemTypeFor is the kind of error that status alone names.
func ProblemTypeFor(status int) ProblemType {
	if t, ok := problemTypeByStatus[status]; ok {
		return t
	}
	return ProblemOther
}

// Schema declares ProblemType once in the document, as a named enum whose
// description lists when each kind is answered.
func (ProblemType) Schema(r huma.Registry) *huma.Schema {
	const name = "ProblemType"
	if _, ok := r.Map()[name]; !ok {
		doc := "The kind of error, a stable URI to branch on:\n"
		enum, names := make([]any, len(problemTypes)), make([]string, len(problemTypes))
		for i, p := range problemTypes {
			enum[i], names[i] = string(p.t), p.name
			doc += "\n- `" + string(p.t) + "`: " + p.when
		}
		r.Map()[name] = &huma.Schema{Type: huma.TypeString, Description: doc, Enum: enum,
			Extensions: map[string]any{"x-enum-varnames": names}}
	}
	return &huma.Schema{Ref: "#/components/schemas/" + name}
}

// Problem is an RFC 9457 problem: the body of every error answer, served
// as application/problem+json.
type Problem struct {
	Type       ProblemType    `json:"type" doc:"The kind of error."`
	Title      string         `json:"title" doc:"A short summary of the kind of error (the status text)." example:"Not Found"`
	Status     int            `json:"status" doc:"The HTTP status code." example:"404"`
	Detail     string         `json:"detail,omitempty" doc:"What went wrong with this request." example:"not found"`
	Instance   string         `json:"instance,omitempty" doc:"This occurrence: urn:proxyhub:request: and the request id (X-Request-Id), which the hub's logs carry." example:"urn:proxyhub:request:9f2c1e7a5b3d"`
	Errors     []ProblemField `json:"errors,omitempty" doc:"The fields that broke a rule, for invalid-input."`
	OAuthError string         `json:"error,omitempty" doc:"On the token endpoint only: the OAuth2 error code (RFC 6749 section 5.2)." example:"invalid_client"`
}

// ProblemField is one field that broke a rule.
type ProblemField struct {
	Location string `json:"location,omitempty" doc:"Where the field is: body.<path>, query.<name>, path.<name> or header.<name>." example:"body.id"`
	Message  string `json:"message" doc:"What is wrong with it." example:"expected length >= 2"`
	Value    any    `json:"value,omitempty" doc:"The value that was sent, when it is safe to echo."`
}

// NewProblem is a problem of the kind that status names.
func NewProblem(status int, detail string) *Problem {
	return &Problem{Type: ProblemTypeFor(status), Title: http.StatusText(status), Status: status, Detail: detail}
}

// Error makes a Problem an error: its detail, or its title.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Detail
	}
	return p.Title
}

// GetStatus is the HTTP status of the answer.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType serves problems as application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// InstanceFor is the instance URI of the request with this id.
func InstanceFor(requestID string) string {
	if requestID == "" {
		return ""
	}
	return "urn:proxyhub:request:" + requestID
}
