package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// maxErrorLen bounds the error text kept in a Delivery.
const maxErrorLen = 300

// userAgent identifies the hub to receivers.
const userAgent = "proxyhub-webhooks/1"

// errSecretUnavailable: the hub cannot open a webhook's sealed signing
// secret (it was sealed with another hub's key). Tenants see only this;
// the log has the key ids.
var errSecretUnavailable = errors.New("cannot sign: this hub cannot open the webhook's signing secret")

// send delivers m to w and returns the HTTP status (0 for email or when no
// response came) and the failure, if any.
func (d *Dispatcher) send(ctx context.Context, w hub.Webhook, m message) (int, error) {
	if err := ValidateTarget(w.Kind, w.URL, w.Settings); err != nil {
		return 0, err
	}
	switch w.Kind {
	case KindGeneric:
		body, err := m.genericBody()
		if err != nil {
			return 0, err
		}
		ts := d.now()
		secrets, err := hub.WebhookSecrets(d.cfg.Secrets, w, ts)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errSecretUnavailable, err)
		}
		if len(secrets) == 0 {
			return 0, errors.New("webhook has no signing secret")
		}
		// During a rotation's grace period the header carries a signature
		// by each secret, space-separated (Standard Webhooks), so receivers
		// with either verify.
		sigs := make([]string, len(secrets))
		for i, secret := range secrets {
			if sigs[i], err = Sign(secret, m.id, ts, body); err != nil {
				return 0, err
			}
		}
		sig := strings.Join(sigs, " ")
		h := http.Header{}
		h.Set(HeaderID, m.id)
		h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		h.Set(HeaderSignature, sig)
		return d.post(ctx, w.URL, h, body)
	case KindSlack:
		body, err := m.slackBody()
		if err != nil {
			return 0, err
		}
		return d.post(ctx, w.URL, http.Header{}, body)
	case KindEmail:
		u, _ := url.Parse(w.URL) // ValidateURL parsed it
		to, err := mailtoAddress(u)
		if err != nil {
			return 0, err
		}
		return 0, d.sendMail(ctx, to, m)
	}
	var cred string
	if TakesCredential(w.Kind) {
		creds, err := hub.WebhookSecrets(d.cfg.Secrets, w, d.now())
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errSecretUnavailable, err)
		}
		if len(creds) > 0 {
			cred = creds[0]
		}
		if err := ValidateCredential(w.Kind, cred); err != nil {
			return 0, errNoCredential
		}
	}
	return d.sendChannel(ctx, w, cred, m)
}

// post sends a JSON body; success is a 2xx answer.
func (d *Dispatcher) post(ctx context.Context, rawURL string, h http.Header, body []byte) (int, error) {
	return d.do(ctx, http.MethodPost, rawURL, h, "application/json", body)
}

// responseSnippetLen is how much of a receiver's answer the test
// operation shows.
const responseSnippetLen = 200

// httpFailure is an answer outside 2xx: its status, how long the receiver
// asked to wait (Retry-After), and the start of its body.
type httpFailure struct {
	status     int
	retryAfter time.Duration
	body       string
}

func (f *httpFailure) Error() string {
	if f.status >= 300 && f.status < 400 {
		return fmt.Sprintf("HTTP %d %s: redirects are not followed", f.status, http.StatusText(f.status))
	}
	return fmt.Sprintf("HTTP %d %s", f.status, http.StatusText(f.status))
}

// permanent reports a refusal that retrying cannot fix: a 4xx other than
// 408 (timeout) and 429 (rate limited). The batch is given up at once.
func (f *httpFailure) permanent() bool {
	return f.status >= 400 && f.status < 500 && f.status != http.StatusRequestTimeout && f.status != http.StatusTooManyRequests
}

// do sends one request; success is a 2xx answer. The answer's body is read
// (at most 64 KiB) and its start kept for the test operation's report.
func (d *Dispatcher) do(ctx context.Context, method, rawURL string, h http.Header, contentType string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("cannot build the request")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// The URL's path can hold a credential (a Telegram bot token):
			// errors name the host only.
			return 0, &url.Error{Op: ue.Op, URL: req.URL.Scheme + "://" + req.URL.Host, Err: ue.Err}
		}
		return 0, err
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if report := responseReport(ctx); report != nil {
		*report = snippet(answer)
	}
	if c := resp.StatusCode; c >= 200 && c < 300 {
		return c, nil
	}
	return resp.StatusCode, &httpFailure{status: resp.StatusCode, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), d.now()), body: snippet(answer)}
}

// snippet is the start of a receiver's answer, on one line, without
// control characters.
func snippet(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, string(b))
	return truncate(strings.TrimSpace(s), responseSnippetLen)
}

// parseRetryAfter reads a Retry-After value: seconds, or an HTTP date.
// Zero when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// reportKey marks a context whose requests keep the receiver's answer
// (the test operation).
type reportKey struct{}

// withResponseReport returns ctx whose requests store the start of the
// receiver's latest answer in *report.
func withResponseReport(ctx context.Context, report *string) context.Context {
	return context.WithValue(ctx, reportKey{}, report)
}

func responseReport(ctx context.Context) *string {
	r, _ := ctx.Value(reportKey{}).(*string)
	return r
}

// sendMail sends m as a plain-text mail through the configured relay:
// STARTTLS when the server offers it, PLAIN auth when a username is set
// (net/smtp allows it only over TLS or to localhost).
func (d *Dispatcher) sendMail(ctx context.Context, to string, m message) error {
	c := d.cfg.SMTP
	if c.Addr == "" {
		return errors.New("email is not configured on this hub (PROXYHUB_SMTP_ADDR)")
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return errors.New("the hub's sender address is missing or invalid (PROXYHUB_SMTP_FROM)")
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return errors.New("the hub's SMTP address is invalid (PROXYHUB_SMTP_ADDR)")
	}
	msg := d.mailMessage(from, to, m)

	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return err
	}
	defer cl.Close()
	if ok, _ := cl.Extension("STARTTLS"); ok {
		if err := cl.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	}
	if c.Username != "" {
		if ok, _ := cl.Extension("AUTH"); !ok {
			return errors.New("smtp: the server does not offer AUTH")
		}
		if err := cl.Auth(smtp.PlainAuth("", c.Username, c.Password, host)); err != nil {
			return err
		}
	}
	if err := cl.Mail(from.Address); err != nil {
		return err
	}
	if err := cl.Rcpt(to); err != nil {
		return err
	}
	wc, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write(msg); err != nil {
		return err
	}
	if err := wc.Close(); err != nil { // the server's answer to the message
		return err
	}
	_ = cl.Quit()
	return nil
}

// mailMessage renders the RFC 5322 message: headers, then the body in
// quoted-printable UTF-8.
func (d *Dispatcher) mailMessage(from *mail.Address, to string, m message) []byte {
	domain := "proxyhub.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		domain = from.Address[i+1:]
	}
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	hdr("To", to)
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.mailSubject()))
	hdr("Date", d.now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+messageIDLocal(m.id)+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.mailBody(), "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

// messageIDLocal makes a message id usable left of the @ of a Message-ID:
// characters outside dot-atom text become dots.
func messageIDLocal(id string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)) {
			return r
		}
		return '.'
	}, id)
}

// errorText is the short, secret-free text of a failure kept in the
// delivery log and shown to the tenant, and detail the fuller text for the
// hub's own log. A destination the SSRF guard refuses reads "destination
// not allowed" and a failure to resolve or reach the host "could not
// connect": what the resolver answered or which internal address a name
// has is the hub operator's business, not the tenant's (detail keeps it).
// The URL (a Slack URL is a credential) is cut out of transport errors,
// and the webhook secret, the URL and the SMTP password are redacted
// should they appear anyway, in both texts.
func (d *Dispatcher) errorText(err error, w hub.Webhook) (text, detail string) {
	detail = d.redact(err.Error(), w)
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Sprintf("timeout: no answer within %s", d.cfg.Timeout), detail
		}
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("timeout: no answer within %s", d.cfg.Timeout), detail
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, ErrRefusedAddress):
		return "destination not allowed", detail
	case errors.Is(err, errSecretUnavailable):
		return errSecretUnavailable.Error(), detail
	case errors.As(err, &opErr), errors.As(err, &dnsErr):
		return "could not connect", detail
	}
	return d.redact(err.Error(), w), detail
}

// redact removes the webhook's URL and secret and the SMTP password from
// s, replaces control characters and cuts it to maxErrorLen.
func (d *Dispatcher) redact(s string, w hub.Webhook) string {
	for _, secret := range []string{w.URL, w.Secret, d.cfg.SMTP.Password} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return truncate(s, maxErrorLen)
}
