package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// externalMethods are the only algorithms accepted from the external issuer.
var externalMethods = []string{
	jwt.SigningMethodRS256.Alg(),
	jwt.SigningMethodES256.Alg(),
	jwt.SigningMethodEdDSA.Alg(),
}

const (
	// jwksHTTPTimeout bounds one JWK Set fetch, including a wait for the
	// unknown-kid rate limiter.
	jwksHTTPTimeout = 10 * time.Second
	// jwksMaxBytes is the largest JWK Set response read.
	jwksMaxBytes = 1 << 20
	// jwksRefreshInterval is how often the JWK Set is fetched in the background.
	jwksRefreshInterval = time.Hour
	// jwksUnknownKIDEvery is the least time between two fetches caused by
	// tokens with an unknown kid, so that random kids cannot make the hub
	// hammer the identity provider.
	jwksUnknownKIDEvery = time.Minute
	// minRSABits is the smallest RSA modulus accepted from the JWK Set.
	minRSABits = 2048
)

// jwks is the external issuer's key set, kept by github.com/MicahParks/keyfunc/v3
// (storage and refresh by github.com/MicahParks/jwkset).
type jwks struct {
	kf keyfunc.Keyfunc
}

// newJWKS validates rawURL, fetches the key set once (see NewVerifier) and
// starts its background refresh, which ends with ctx.
func newJWKS(ctx context.Context, rawURL string, client *http.Client) (*jwks, error) {
	u, err := checkJWKSURL(rawURL)
	if err != nil {
		return nil, err
	}
	// Copy the client so that the size limit does not leak into the caller's.
	var c http.Client
	if client != nil {
		c = *client
	} else {
		c.Timeout = jwksHTTPTimeout
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = limitBodyTransport{base: base, max: jwksMaxBytes}

	redacted := u.Redacted()
	tolerateFirstFailure := true
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{rawURL}, keyfunc.Override{
		Client:                    &c,
		HTTPTimeout:               jwksHTTPTimeout,
		NoErrorReturnFirstHTTPReq: &tolerateFirstFailure,
		RateLimitWaitMax:          jwksHTTPTimeout,
		RefreshInterval:           jwksRefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(jwksUnknownKIDEvery), 1),
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				slog.WarnContext(ctx, "auth: fetching the JWK Set failed", "url", redacted, "error", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: verifier: JWK Set %s: %w", redacted, err)
	}
	// Rebuild around the same storage to refuse keys marked for encryption
	// ("use": "enc"); keys without "use" are accepted, as most providers omit it.
	kf, err = keyfunc.New(keyfunc.Options{
		Ctx:          ctx,
		Storage:      kf.Storage(),
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: verifier: JWK Set %s: %w", redacted, err)
	}
	return &jwks{kf: kf}, nil
}

// keyfunc returns a jwt.Keyfunc that looks a token's kid up in the key set,
// refreshing it (rate-limited, bounded by ctx) when the kid is unknown. It
// requires a kid, and a key whose type fits the token's algorithm: RS256 an
// RSA key of at least 2048 bits, ES256 a P-256 key, EdDSA an Ed25519 key.
// The errors it returns have fixed texts; the library's, which quote the kid,
// are dropped.
func (j *jwks) keyfunc(ctx context.Context) jwt.Keyfunc {
	lookup := j.kf.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		if err := checkHeader(t); err != nil {
			return nil, err
		}
		if kid, _ := t.Header["kid"].(string); kid == "" {
			// keyfunc would try every key; a key set is looked up by kid only.
			return nil, errMissingKeyID
		}
		key, err := lookup(t)
		switch {
		case errors.Is(err, jwkset.ErrKeyNotFound):
			return nil, errUnknownKeyID
		case err != nil:
			return nil, errKeyUnavailable
		}
		if !keyFitsAlg(key, t.Method.Alg()) {
			return nil, errKeyNotUsable
		}
		return key, nil
	}
}

// keyFitsAlg reports whether key is of the type and strength alg needs.
func keyFitsAlg(key any, alg string) bool {
	switch alg {
	case jwt.SigningMethodRS256.Alg():
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N != nil && k.N.BitLen() >= minRSABits
	case jwt.SigningMethodES256.Alg():
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	case jwt.SigningMethodEdDSA.Alg():
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}

// checkJWKSURL accepts https URLs, and http URLs only to a loopback host
// (a local identity provider in development).
func checkJWKSURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("auth: verifier: JWKSURL is not a valid URL")
	}
	if u.Host == "" {
		return nil, fmt.Errorf("auth: verifier: JWKSURL %s has no host", u.Redacted())
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("auth: verifier: JWKSURL %s must be https (http only for a loopback host)", u.Redacted())
	}
	return nil, fmt.Errorf("auth: verifier: JWKSURL %s must be https", u.Redacted())
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// limitBodyTransport caps the size of every response body it returns.
type limitBodyTransport struct {
	base http.RoundTripper
	max  int64
}

// RoundTrip implements http.RoundTripper.
func (t limitBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.max}
	return resp, nil
}

// errJWKSTooLarge fails reads past the response size limit.
var errJWKSTooLarge = fmt.Errorf("auth: JWK Set response larger than %d bytes", jwksMaxBytes)

// limitedBody returns errJWKSTooLarge once more than left bytes would be read.
type limitedBody struct {
	io.ReadCloser
	left int64
}

// Read implements io.Reader.
func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errJWKSTooLarge
	}
	// Allow one byte past the limit so that a body of exactly left bytes
	// still ends with io.EOF.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errJWKSTooLarge
	}
	return n, err
}
