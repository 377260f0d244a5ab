package cli

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
	"github.com/proxyhub/proxyhub/internal/config"
)

// DefaultURL is the hub the admin commands talk to when neither --url nor
// PROXYHUB_URL names one: a hub on this machine.
const DefaultURL = "http://localhost:3001"

// conn is where the hub is and the credential that is used with it.
type conn struct {
	url   string
	token string
	// clientID and secret are set when token is an admin API credential
	// (phc_…:phs_…) rather than a JWT.
	clientID, secret string
}

// settings are --url (PROXYHUB_URL) and --token (PROXYHUB_TOKEN). Neither
// Parse puts the value it refuses in its error.
func (c *conn) settings() []config.Setting {
	return []config.Setting{
		{Name: "url", Default: DefaultURL, Usage: "the hub's base URL", Parse: func(v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("must be an http(s) URL such as " + DefaultURL)
			}
			c.url = v
			return nil
		}},
		{Name: "token", Default: "", Usage: "an admin JWT, or an admin API credential written CLIENT_ID:SECRET (phc_…:phs_…); " +
			"prefer PROXYHUB_TOKEN: a flag shows in ps. Never printed", Parse: func(v string) error {
			c.token = v
			if v == "" {
				return errors.New("required: set PROXYHUB_TOKEN to an admin JWT (proxyhub jwt) or an admin API credential phc_…:phs_…")
			}
			if id, secret, ok := strings.Cut(v, ":"); ok {
				if !strings.HasPrefix(id, "phc_") || !strings.HasPrefix(secret, "phs_") {
					return errors.New("an admin API credential is written phc_…:phs_… (client id, colon, secret)")
				}
				c.clientID, c.secret = id, secret
			}
			return nil
		}},
	}
}

// client returns an SDK client of the hub with the credential: a JWT as a
// bearer token, client credentials exchanged at /v1/auth/token.
func (c *conn) client() (*client.Hub, error) {
	auth := client.WithToken(c.token)
	if c.clientID != "" {
		auth = client.WithClientCredentials(c.clientID, c.secret)
	}
	return client.New(c.url, auth, client.WithHTTP(httpClient()), client.WithUserAgent("proxyhub-cli"))
}

// httpClient bounds how long the hub may take to answer, not how long an
// answer may take to arrive: a long CSV export is bounded by the context
// (Ctrl-C) instead.
func httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
}

// redacted replaces a credential in text that is printed.
const redacted = "[redacted]"

// scrub removes the credential (the token, the client secret, a password
// in the URL) from s, so no error message can print it.
func (c *conn) scrub(s string) string {
	secrets := []string{c.token, c.secret}
	if u, err := url.Parse(c.url); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	for _, x := range secrets {
		if len(x) >= 4 {
			s = strings.ReplaceAll(s, x, redacted)
		}
	}
	return s
}
