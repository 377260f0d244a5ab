package notify

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Standard Webhooks header names.
const (
	// HeaderID is the webhook-id header: the message id, the same for
	// every attempt at one batch, so receivers can de-duplicate retries.
	HeaderID = standardwebhooks.HeaderWebhookID
	// HeaderTimestamp is the webhook-timestamp header: the attempt's Unix
	// time in seconds.
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	// HeaderSignature is the webhook-signature header:
	// "v1,<base64 HMAC-SHA256>".
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

// SignatureTolerance is how far a message's timestamp may be from the
// receiver's clock for Verify to accept it.
const SignatureTolerance = 5 * time.Minute

const (
	secretPrefix = "whsec_"
	secretBytes  = 32
)

// Verification errors, wrapped by Verify's errors (test with errors.Is).
var (
	// ErrMissingHeaders means a Standard Webhooks header is missing.
	ErrMissingHeaders = standardwebhooks.ErrRequiredHeaders
	// ErrInvalidHeaders means the timestamp header is not a Unix time.
	ErrInvalidHeaders = standardwebhooks.ErrInvalidHeaders
	// ErrSignatureMismatch means no signature matches the body, id and
	// timestamp.
	ErrSignatureMismatch = standardwebhooks.ErrNoMatchingSignature
	// ErrMessageTooOld means the timestamp is older than SignatureTolerance.
	ErrMessageTooOld = standardwebhooks.ErrMessageTooOld
	// ErrMessageTooNew means the timestamp is further than
	// SignatureTolerance in the future.
	ErrMessageTooNew = standardwebhooks.ErrMessageTooNew
)

// NewSecret returns a new Standard Webhooks secret: "whsec_" followed by
// the base64 of 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("notify: new secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// signer checks a secret's shape and returns the library's signer. Its
// errors never contain the secret.
func signer(secret string) (*standardwebhooks.Webhook, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) < 16 {
		return nil, errors.New("notify: malformed webhook secret")
	}
	return standardwebhooks.NewWebhookRaw(key)
}

// Sign returns the webhook-signature header value for a message:
// "v1," + base64(HMAC-SHA256(key, msgID + "." + unix(ts) + "." + body)),
// where key is the base64-decoded secret without its "whsec_" prefix.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	s, err := signer(secret)
	if err != nil {
		return "", err
	}
	return s.Sign(msgID, ts, body)
}

// Verify checks a received message as a receiver would: the three
// Standard Webhooks headers are present, the timestamp is within
// SignatureTolerance of now, and one of the space-separated v1 signatures
// matches. Errors wrap ErrMissingHeaders, ErrInvalidHeaders,
// ErrMessageTooOld, ErrMessageTooNew or ErrSignatureMismatch.
func Verify(secret string, header http.Header, body []byte, now time.Time) error {
	if header.Get(HeaderID) == "" || header.Get(HeaderTimestamp) == "" || header.Get(HeaderSignature) == "" {
		return fmt.Errorf("notify: verify: %w", ErrMissingHeaders)
	}
	sec, err := strconv.ParseInt(header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("notify: verify: %w", ErrInvalidHeaders)
	}
	ts := time.Unix(sec, 0)
	switch {
	case now.Sub(ts) > SignatureTolerance:
		return fmt.Errorf("notify: verify: %w", ErrMessageTooOld)
	case ts.Sub(now) > SignatureTolerance:
		return fmt.Errorf("notify: verify: %w", ErrMessageTooNew)
	}
	s, err := signer(secret)
	if err != nil {
		return err
	}
	if err := s.VerifyIgnoringTimestamp(body, header); err != nil {
		return fmt.Errorf("notify: verify: %w", err)
	}
	return nil
}
