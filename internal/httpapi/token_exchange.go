package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/metrics"
)

// maxTokenRequestBytes bounds the token request body.
const maxTokenRequestBytes = 4 << 10

// clientCredentialsGrant is the body of a token request: the client
// credentials grant (RFC 6749 section 4.4).
type clientCredentialsGrant struct {
	GrantType    string `json:"grant_type" enum:"client_credentials" doc:"Must be client_credentials."`
	ClientID     string `json:"client_id,omitempty" doc:"The credential's client_id (or use HTTP Basic authentication)." example:"phc_4fG7hJ2kL9mN3pQ8"`
	ClientSecret string `json:"client_secret,omitempty" doc:"The credential's client_secret (or use HTTP Basic authentication)."`
}

// TokenExchangeInput is the raw token request: form-encoded (as RFC 6749
// requires) or JSON.
type TokenExchangeInput struct {
	ContentType   string `header:"Content-Type" hidden:"true"`
	Authorization string `header:"Authorization" hidden:"true"`
	RawBody       []byte
}

// AccessTokenOutput wraps the issued access token.
type AccessTokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         api.AccessToken
}

// newOAuthError is an RFC 9457 problem that also carries RFC 6749's error
// code, so OAuth2 clients and problem-aware clients both understand it.
func newOAuthError(status int, code, detail string) *api.Problem {
	p := api.NewProblem(status, detail)
	p.OAuthError = code
	return p
}

func (h *handlers) registerTokenExchange(a huma.API) {
	reqSchema := a.OpenAPI().Components.Schemas.Schema(reflectType[clientCredentialsGrant](), true, "")
	o := huma.Operation{
		OperationID: "issue-access-token", Method: http.MethodPost, Path: "/auth/token", Tags: tagAuth,
		Summary: "Exchange client credentials for an access token",
		Description: "The OAuth2 client credentials grant (RFC 6749 section 4.4): send grant_type=client_credentials with the " +
			"client_id and client_secret of an admin credential, form-encoded or as JSON, or authenticate with HTTP Basic. " +
			"Answers a JWT valid for 15 minutes carrying the credential's tenant and role.",
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests},
	}
	o.RequestBody = &huma.RequestBody{
		Required: true,
		Content: map[string]*huma.MediaType{
			"application/x-www-form-urlencoded": {Schema: reqSchema},
			"application/json":                  {Schema: reqSchema},
		},
	}
	o.MaxBodyBytes = maxTokenRequestBytes
	// The handler parses the body itself: Huma would otherwise refuse the
	// form encoding and echo the body, secret included, in its error.
	o.SkipValidateBody = true
	huma.Register(a, o, h.exchangeToken)
	// The handler reads the raw body, which Huma documents as an octet
	// stream; the document says what the endpoint reads instead.
	for _, item := range a.OpenAPI().Paths {
		if item.Post != nil && item.Post.OperationID == o.OperationID {
			delete(item.Post.RequestBody.Content, "application/octet-stream")
		}
	}
}

func (h *handlers) exchangeToken(ctx context.Context, in *TokenExchangeInput) (*AccessTokenOutput, error) {
	var req clientCredentialsGrant
	mt, _, _ := mime.ParseMediaType(in.ContentType)
	switch mt {
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(in.RawBody))
		if err != nil {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "the body is not form-encoded")
		}
		req = clientCredentialsGrant{GrantType: v.Get("grant_type"), ClientID: v.Get("client_id"), ClientSecret: v.Get("client_secret")}
	case "application/json":
		if err := json.Unmarshal(in.RawBody, &req); err != nil {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "the body is not a JSON object")
		}
	default:
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "send application/x-www-form-urlencoded or application/json")
	}
	if req.GrantType != "client_credentials" {
		return nil, newOAuthError(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
	}
	if id, secret, ok := basicAuth(in.Authorization); ok {
		if req.ClientID != "" || req.ClientSecret != "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "use HTTP Basic or body parameters, not both")
		}
		req.ClientID, req.ClientSecret = id, secret
	}
	// An address whose failed attempts are used up is refused before the
	// secret is looked at: guessing from it stalls. A client id whose
	// failed attempts are used up (guesses spread over many addresses)
	// answers every wrong secret 429 instead of 401, but its right secret
	// still gets a token: anyone who knows a client id must not be able to
	// lock its owner out, and a secret of 178 random bits is not guessed.
	keys := []string{sourceKey(ctx), "client:" + req.ClientID}
	var clientLimited error
	if l := h.Limits.AuthFailures; l != nil && l.Exhausted() {
		answer := http.Header{}
		if err := h.allow(ctx, answer, l, keys[0], false); err != nil {
			return nil, huma.ErrorWithHeaders(err, answer)
		}
		answer = http.Header{}
		if err := h.allow(ctx, answer, l, keys[1], false); err != nil {
			clientLimited = huma.ErrorWithHeaders(err, answer)
		}
	}
	jwt, ttl, err := h.Hub.ExchangeClientCredentials(ctx, req.ClientID, req.ClientSecret)
	switch {
	case errors.Is(err, hub.ErrInvalidClient) && clientLimited != nil:
		h.Logger.InfoContext(ctx, "client credentials refused", "reason", err.Error(), "source", keys[0], "request_id", requestIDFrom(ctx))
		h.Metrics.AuthenticationFailed(metrics.AuthClientCredentials)
		_ = h.allow(ctx, http.Header{}, h.Limits.AuthFailures, keys[0], true)
		return nil, clientLimited
	case errors.Is(err, hub.ErrInvalidClient):
		h.Logger.InfoContext(ctx, "client credentials refused", "reason", err.Error(), "source", keys[0], "request_id", requestIDFrom(ctx))
		h.Metrics.AuthenticationFailed(metrics.AuthClientCredentials)
		for _, key := range keys {
			_ = h.allow(ctx, http.Header{}, h.Limits.AuthFailures, key, true) // counted; the answer is 401 either way
		}
		return nil, huma.ErrorWithHeaders(newOAuthError(http.StatusUnauthorized, "invalid_client", "client authentication failed"),
			http.Header{"WWW-Authenticate": {`Basic realm="proxyhub"`}})
	case err != nil:
		return nil, h.problem(ctx, err)
	}
	return &AccessTokenOutput{CacheControl: "no-store", Body: api.AccessToken{AccessToken: jwt, TokenType: "Bearer", ExpiresIn: int(ttl.Seconds())}}, nil
}

// basicAuth parses an HTTP Basic Authorization header; client id and
// secret are form-urlencoded inside it (RFC 6749 section 2.3.1).
func basicAuth(header string) (id, secret string, ok bool) {
	r := http.Request{Header: http.Header{"Authorization": {header}}}
	id, secret, ok = r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return id, secret, err1 == nil && err2 == nil
}
