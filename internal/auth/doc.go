// Package auth holds proxyhub's credential primitives: the opaque secrets
// proxies and API clients present, the hub's Ed25519 signing key, and the
// admin JWTs signed with it or by an external identity provider.
//
// # Opaque secrets
//
// Heartbeat tokens ("phb_…", sent by a proxy's cron curl as
// "Authorization: Bearer phb_…") and admin API client secrets ("phs_…")
// follow GitHub's token format: a prefix that secret scanners can match, 30
// random base-62 characters (≥ 178 bits) and a 6-character CRC32 checksum.
// WellFormed checks the format and checksum, so a mistyped or truncated
// secret is refused without a store lookup. The store keeps only HashSecret
// (hex SHA-256) of a secret and compares hashes with EqualHashes. NewID makes
// public identifiers ("tok_…", "phc_…"), which are not secrets.
//
// # The hub's key
//
// GenerateKeyFile and LoadKeyFile keep the hub's Ed25519 private key as a
// PKCS#8 PEM file with mode 0600; KeyID derives the "kid" that names it.
//
// # Admin JWTs
//
// A Signer mints EdDSA JWTs with the hub's key; their claims (Claims) carry a
// Role and, except for RolePlatform, a tenant. A Verifier accepts the hub's
// own tokens and, optionally, tokens of one external issuer whose keys it
// reads from a JWK Set URL (RS256, ES256 or EdDSA, looked up by kid with
// github.com/MicahParks/keyfunc/v3, refreshed when an unknown kid appears, at
// most once a minute). The unverified "iss" only chooses between the two key
// sources; algorithms are pinned per source, so "alg: none", HMAC-with-the-
// public-key and RSA-for-a-local-issuer tokens are all refused. Tokens are
// limited to MaxTokenBytes and a lifetime of MaxLifetime, and exp, nbf and
// iat are checked with Leeway against the Verifier's clock. Every failure
// wraps the single sentinel ErrInvalidToken.
package auth
