package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Role is what an admin JWT allows its bearer to do. The roles, in order of
// power, are RolePlatform, RoleOwner, RoleAdmin and RoleViewer.
type Role string

// The roles of admin JWTs, most powerful first.
const (
	// RolePlatform operates the hub: it creates tenants and may act on any tenant.
	RolePlatform Role = "platform"
	// RoleOwner controls one tenant, including who else administers it.
	RoleOwner Role = "owner"
	// RoleAdmin manages one tenant's proxies and tokens.
	RoleAdmin Role = "admin"
	// RoleViewer reads one tenant's data and changes nothing (auditors).
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	switch r {
	case RolePlatform, RoleOwner, RoleAdmin, RoleViewer:
		return true
	}
	return false
}

// Claims are the claims of an admin JWT.
type Claims struct {
	jwt.RegisteredClaims
	// Tenant is the tenant the token acts on; required unless Role is RolePlatform.
	Tenant string `json:"tenant,omitempty"`
	// Role is the bearer's role; always one of the four valid roles after Verify.
	Role Role `json:"role"`
}

// MaxTokenBytes is the size of the largest JWT accepted (8 KiB); larger
// tokens are rejected before any decoding.
const MaxTokenBytes = 8 << 10

// MaxLifetime is the longest lifetime (exp - iat) of an accepted JWT, and the
// longest ttl Signer.Sign accepts.
const MaxLifetime = 24 * time.Hour

// Leeway is the clock skew tolerated when checking exp, nbf and iat.
const Leeway = 30 * time.Second

// ErrInvalidToken is wrapped by every error Verify returns. The rest of the
// error's text says why, for logs only: it is made of fixed phrases and never
// contains the token or any part of it. The jwt/v5 sentinel errors (such as
// jwt.ErrTokenExpired) are wrapped too where one applies.
var ErrInvalidToken = errors.New("auth: invalid token")

// Causes wrapped next to ErrInvalidToken. Their texts are fixed so that no
// attacker-chosen bytes (a kid, a claim value) reach the logs.
var (
	errEmptyToken      = errors.New("empty token")
	errTokenTooLarge   = errors.New("token larger than 8 KiB")
	errUnknownIssuer   = errors.New("issuer not accepted")
	errCritHeader      = errors.New("token has a crit header")
	errMissingKeyID    = errors.New("token has no key id")
	errUnknownKeyID    = errors.New("unknown key id")
	errKeyUnavailable  = errors.New("no usable key for the key id (JWK Set refresh failed or rate-limited, or the key's alg or use does not fit)")
	errKeyNotUsable    = errors.New("key not usable for the token's algorithm")
	errMissingIssuedAt = errors.New("iat claim is required")
	errBadLifetime     = errors.New("lifetime (exp - iat) is not positive or exceeds 24h")
	errMissingSubject  = errors.New("sub claim is required")
	errInvalidRole     = errors.New("role is not valid")
	errMissingTenant   = errors.New("tenant is required unless role is platform")
	errRejected        = errors.New("token rejected")
)

// invalid returns ErrInvalidToken wrapping cause.
func invalid(cause error) error {
	return fmt.Errorf("%w: %w", ErrInvalidToken, cause)
}

// Signer mints admin JWTs with the hub's own Ed25519 key: alg EdDSA, header
// kid = KeyID of the public key. It is safe for concurrent use.
type Signer struct {
	key      ed25519.PrivateKey
	pub      ed25519.PublicKey // nil when key has the wrong size
	kid      string
	issuer   string
	audience string
	now      func() time.Time
}

// NewSigner returns a Signer that signs with key and sets iss to issuer and
// aud to audience. now is its clock; nil means time.Now. A key of the wrong
// size, or an empty issuer or audience, makes every Sign fail.
func NewSigner(key ed25519.PrivateKey, issuer, audience string, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	s := &Signer{key: key, issuer: issuer, audience: audience, now: now}
	if len(key) == ed25519.PrivateKeySize {
		s.pub = key.Public().(ed25519.PublicKey)
		s.kid = KeyID(s.pub)
	}
	return s
}

// PublicKey returns the signer's public key (nil if its private key has the
// wrong size).
func (s *Signer) PublicKey() ed25519.PublicKey {
	return s.pub
}

// signedClaims is what Sign serialises. Its Audience field shadows the
// embedded RegisteredClaims.Audience (encoding/json prefers the shallower
// field), so aud is written as a single string as RFC 7519 allows, without
// touching jwt.MarshalSingleStringAsString, which is global.
type signedClaims struct {
	jwt.RegisteredClaims
	Audience string `json:"aud"`
	Tenant   string `json:"tenant,omitempty"`
	Role     Role   `json:"role"`
}

// Sign returns a JWT for subject acting on tenant with role, valid for ttl,
// which must be > 0 and ≤ MaxLifetime. It sets iss, aud (a single string),
// sub, iat, nbf (= iat), exp (= iat + ttl, whole seconds) and a random jti.
// It refuses what Verify would reject: an empty subject, an invalid role, or
// an empty tenant for a role other than RolePlatform.
func (s *Signer) Sign(subject, tenant string, role Role, ttl time.Duration) (string, error) {
	switch {
	case s.pub == nil:
		return "", errors.New("auth: sign: signing key is not a valid Ed25519 private key")
	case s.issuer == "" || s.audience == "":
		return "", errors.New("auth: sign: signer has no issuer or audience")
	case ttl <= 0 || ttl > MaxLifetime:
		return "", fmt.Errorf("auth: sign: ttl %v is outside (0, %v]", ttl, MaxLifetime)
	case subject == "":
		return "", errors.New("auth: sign: subject is required")
	case !role.Valid():
		return "", fmt.Errorf("auth: sign: invalid role %q", role)
	case tenant == "" && role != RolePlatform:
		return "", fmt.Errorf("auth: sign: role %q needs a tenant", role)
	}
	jti := randomBase62(22) // ≈ 131 bits
	iat := s.now().Truncate(time.Second)
	claims := signedClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   subject,
			IssuedAt:  jwt.NewNumericDate(iat),
			NotBefore: jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
			ID:        jti,
		},
		Audience: s.audience,
		Tenant:   tenant,
		Role:     role,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return signed, nil
}

// randomBase62 returns n uniformly random base-62 characters.
func randomBase62(n int) string {
	buf := make([]byte, n)
	fillBase62(buf)
	return string(buf)
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// LocalKey is the hub's own public key (required). Tokens whose iss is
	// LocalIssuer are checked against it, with the algorithm pinned to EdDSA.
	LocalKey ed25519.PublicKey
	// LocalIssuer is the iss of the hub's own tokens (required).
	LocalIssuer string
	// Audience is the aud local tokens must carry (required).
	Audience string

	// JWKSURL is the JWK Set of an optional external issuer (an identity
	// provider). It must be https, or http to a loopback host.
	JWKSURL string
	// ExternalIssuer is the iss of external tokens; required with JWKSURL and
	// distinct from LocalIssuer.
	ExternalIssuer string
	// ExternalAudience is the aud external tokens must carry; required with JWKSURL.
	ExternalAudience string
	// HTTPClient fetches the JWK Set; nil means a client with a 10 s timeout.
	// Responses over 1 MiB are refused whatever the client.
	HTTPClient *http.Client

	// Now is the clock for every time check (exp, nbf, iat); nil means time.Now.
	Now func() time.Time
}

// issuerRule is how tokens of one issuer are verified.
type issuerRule struct {
	parser  *jwt.Parser
	keyfunc func(ctx context.Context) jwt.Keyfunc
}

// Verifier validates admin JWTs from the hub itself and, optionally, from one
// external issuer. It is safe for concurrent use.
type Verifier struct {
	localIssuer string
	local       issuerRule
	localKey    ed25519.PublicKey
	localKID    string

	externalIssuer string
	external       *issuerRule // nil without JWKSURL
}

// NewVerifier validates cfg and builds a Verifier.
//
// With a JWKSURL the key set is fetched eagerly, once, before NewVerifier
// returns (bounded by ctx and a 10 s timeout). A failed first fetch is logged
// but not fatal, so the hub still starts and serves local tokens while the
// identity provider is down; the set is then fetched again when a token with
// an unknown kid arrives (at most once a minute) and every hour in the
// background. ctx bounds that background goroutine: cancel it when the
// Verifier is no longer used.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	switch {
	case len(cfg.LocalKey) != ed25519.PublicKeySize:
		return nil, errors.New("auth: verifier: LocalKey must be an Ed25519 public key")
	case cfg.LocalIssuer == "":
		return nil, errors.New("auth: verifier: LocalIssuer is required")
	case cfg.Audience == "":
		return nil, errors.New("auth: verifier: Audience is required")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	v := &Verifier{
		localIssuer: cfg.LocalIssuer,
		localKey:    slices.Clone(cfg.LocalKey), // the caller may reuse its slice
		localKID:    KeyID(cfg.LocalKey),
	}
	localKF := jwt.Keyfunc(v.localKeyfunc)
	v.local = issuerRule{
		parser:  newParser([]string{jwt.SigningMethodEdDSA.Alg()}, cfg.LocalIssuer, cfg.Audience, now),
		keyfunc: func(context.Context) jwt.Keyfunc { return localKF },
	}

	if cfg.JWKSURL == "" {
		if cfg.ExternalIssuer != "" || cfg.ExternalAudience != "" {
			return nil, errors.New("auth: verifier: ExternalIssuer and ExternalAudience need a JWKSURL")
		}
		return v, nil
	}
	switch {
	case cfg.ExternalIssuer == "":
		return nil, errors.New("auth: verifier: ExternalIssuer is required with JWKSURL")
	case cfg.ExternalAudience == "":
		return nil, errors.New("auth: verifier: ExternalAudience is required with JWKSURL")
	case cfg.ExternalIssuer == cfg.LocalIssuer:
		return nil, errors.New("auth: verifier: ExternalIssuer must differ from LocalIssuer")
	}
	keys, err := newJWKS(ctx, cfg.JWKSURL, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	v.externalIssuer = cfg.ExternalIssuer
	v.external = &issuerRule{
		parser:  newParser(externalMethods, cfg.ExternalIssuer, cfg.ExternalAudience, now),
		keyfunc: keys.keyfunc,
	}
	return v, nil
}

// newParser returns a parser that accepts only methods and enforces iss, aud,
// a required exp, iat not in the future, Leeway and the clock now.
func newParser(methods []string, issuer, audience string, now func() time.Time) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
}

// Verify parses and validates raw and returns its claims. Every failure
// returns an error wrapping ErrInvalidToken, whose text never contains raw.
//
// The issuer is read from the unverified payload only to choose the key
// source and algorithms; it is then checked again as part of the verified
// claims. Local tokens must be EdDSA, signed by LocalKey (a kid, if present,
// must be the local key's); external tokens must be RS256, ES256 or EdDSA
// with a kid found in the JWK Set. Both need iss, aud, sub, exp and iat, a
// lifetime of at most MaxLifetime, a valid role, and a tenant unless the role
// is RolePlatform; exp, nbf and iat are checked with Leeway.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	switch {
	case raw == "":
		return Claims{}, invalid(errEmptyToken)
	case len(raw) > MaxTokenBytes:
		return Claims{}, invalid(errTokenTooLarge)
	}
	iss, ok := peekIssuer(raw)
	if !ok {
		return Claims{}, invalid(jwt.ErrTokenMalformed)
	}
	var rule *issuerRule
	switch {
	case iss == v.localIssuer:
		rule = &v.local
	case v.external != nil && iss == v.externalIssuer:
		rule = v.external
	default:
		return Claims{}, invalid(errUnknownIssuer)
	}
	var c Claims
	if _, err := rule.parser.ParseWithClaims(raw, &c, rule.keyfunc(ctx)); err != nil {
		return Claims{}, invalid(classify(err))
	}
	if err := checkClaims(&c); err != nil {
		return Claims{}, invalid(err)
	}
	return c, nil
}

// localKeyfunc returns the local key for a token already known to be EdDSA.
func (v *Verifier) localKeyfunc(t *jwt.Token) (any, error) {
	if err := checkHeader(t); err != nil {
		return nil, err
	}
	if kid, present := t.Header["kid"]; present {
		if s, ok := kid.(string); !ok || s != v.localKID {
			return nil, errUnknownKeyID
		}
	}
	return v.localKey, nil
}

// checkHeader rejects header parameters the verifier does not understand but
// must not ignore: RFC 7515 §4.1.11 requires rejecting a "crit" it cannot
// honour, and it honours none.
func checkHeader(t *jwt.Token) error {
	if _, ok := t.Header["crit"]; ok {
		return errCritHeader
	}
	return nil
}

// checkClaims enforces what the jwt parser does not: iat present, lifetime,
// subject, role and tenant.
func checkClaims(c *Claims) error {
	switch {
	case c.IssuedAt == nil:
		return errMissingIssuedAt
	case c.ExpiresAt == nil: // the parser requires exp; kept for safety
		return jwt.ErrTokenRequiredClaimMissing
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life <= 0 || life > MaxLifetime {
		return errBadLifetime
	}
	switch {
	case c.Subject == "":
		return errMissingSubject
	case !c.Role.Valid():
		return errInvalidRole
	case c.Role != RolePlatform && c.Tenant == "":
		return errMissingTenant
	}
	return nil
}

// peekIssuer returns the iss of raw's payload without verifying anything.
// ok is false when the token has no payload segment, the segment does not
// decode, or iss is present but not a string.
func peekIssuer(raw string) (iss string, ok bool) {
	first := strings.IndexByte(raw, '.')
	if first < 0 {
		return "", false
	}
	rest := raw[first+1:]
	second := strings.IndexByte(rest, '.')
	if second < 0 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(rest[:second])
	if err != nil {
		return "", false
	}
	var p struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", false
	}
	return p.Issuer, true
}

// classify maps a jwt parse error to one fixed cause, most specific first,
// so the error Verify returns carries no text derived from the token.
func classify(err error) error {
	for _, cause := range []error{
		errCritHeader, errMissingKeyID, errUnknownKeyID, errKeyUnavailable, errKeyNotUsable,
		jwt.ErrTokenMalformed,
		jwt.ErrTokenSignatureInvalid,
		jwt.ErrTokenUnverifiable,
		jwt.ErrTokenExpired,
		jwt.ErrTokenNotValidYet,
		jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenInvalidIssuer,
		jwt.ErrTokenInvalidAudience,
		jwt.ErrTokenRequiredClaimMissing,
		jwt.ErrTokenInvalidClaims,
	} {
		if errors.Is(err, cause) {
			return cause
		}
	}
	return errRejected
}
