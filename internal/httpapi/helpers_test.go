package httpapi_test

import (
	"encoding/base64"
	"time"

	"net/url"

	"github.com/proxyhub/proxyhub/internal/httpapi"

	"github.com/danielgtaylor/huma/v2"
)

func opOf(o *huma.Operation) *struct {
	id  string
	sec bool
} {
	if o == nil {
		return nil
	}
	return &struct {
		id  string
		sec bool
	}{o.OperationID, len(o.Security) > 0}
}

func basicValue(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(user) + ":" + url.QueryEscape(pass)))
}

// typo changes the last character of a secret: a token with a typo.
func typo(secret string) string {
	last := "a"
	if secret[len(secret)-1] == 'a' {
		last = "b"
	}
	return secret[:len(secret)-1] + last
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func httpapiKeepAlive(d time.Duration) func() { return httpapi.SetKeepAlive(d) }
