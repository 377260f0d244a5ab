package notify

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailbox is an in-process SMTP server that keeps what it accepts.
type mailbox struct {
	mu       sync.Mutex
	msgs     []smtpMsg
	rejectTo string // RCPT TO this address is refused
	addr     string
}

type smtpMsg struct {
	from, user, pass string
	to               []string
	data             []byte
}

type smtpSession struct {
	mb  *mailbox
	cur smtpMsg
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "hub" || pass != "s3cret-pw" {
			return errors.New("bad credentials")
		}
		s.cur.user, s.cur.pass = user, pass
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == s.mb.rejectTo {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, s.cur)
	s.mb.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        { s.cur = smtpMsg{user: s.cur.user, pass: s.cur.pass} }
func (s *smtpSession) Logout() error { return nil }

func newMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{mb: mb}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return mb
}

func (mb *mailbox) messages() []smtpMsg {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]smtpMsg(nil), mb.msgs...)
}

func TestEmailThroughSMTP(t *testing.T) {
	mb := newMailbox(t)
	clk := newClock()
	s := newStore(t)
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	w := addWebhook(t, s, KindEmail, "mailto:ops@example.com")
	heartbeat(t, s, "edge-7", "112.161.54.8", t0.Add(time.Minute))
	d := NewDispatcher(s, Config{Now: clk.Now, SMTP: SMTPConfig{Addr: mb.addr, From: "proxyhub <alerts@hub.example>", Username: "hub", Password: "s3cret-pw"}})
	if n := runOnce(t, d); n != 1 {
		t.Fatalf("sent %d", n)
	}
	msgs := mb.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails", len(msgs))
	}
	got := msgs[0]
	if got.from != "alerts@hub.example" || len(got.to) != 1 || got.to[0] != "ops@example.com" || got.user != "hub" {
		t.Fatalf("envelope from %q to %q auth %q", got.from, got.to, got.user)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(got.data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "[proxyhub] acme: IP change edge-7: 112.161.54.7 → 112.161.54.8" {
		t.Fatalf("subject %q %v", subject, err)
	}
	if msg.Header.Get("To") != "ops@example.com" || msg.Header.Get("From") != `"proxyhub" <alerts@hub.example>` ||
		!strings.HasPrefix(msg.Header.Get("Message-ID"), "<"+w.ID+".") || !strings.HasSuffix(msg.Header.Get("Message-ID"), "@hub.example>") {
		t.Fatalf("headers %v", msg.Header)
	}
	if date, err := msg.Header.Date(); err != nil || !date.Equal(t0) {
		t.Fatalf("Date %v %v", date, err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), "🔄 IP change edge-7: 112.161.54.7 → 112.161.54.8\r\n") {
		t.Fatalf("body %q", body)
	}
	if ds := deliveries(t, s, w); len(ds) != 1 || ds[0].Error != "" || ds[0].StatusCode != 0 || ds[0].Events != 1 {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestEmailDigestAndFailures(t *testing.T) {
	mb := newMailbox(t)
	mb.rejectTo = "nobody@example.com"
	clk := newClock()
	s := newStore(t)
	ok := addWebhook(t, s, KindEmail, "mailto:ops@example.com")
	rejected := addWebhook(t, s, KindEmail, "mailto:nobody@example.com")
	for _, n := range []string{"edge-1", "edge-2", "edge-3"} {
		heartbeat(t, s, n, "198.51.100.1", t0)
	}
	d := NewDispatcher(s, Config{Now: clk.Now, SMTP: SMTPConfig{Addr: mb.addr, From: "alerts@hub.example", Username: "hub", Password: "s3cret-pw"}})
	if n := runOnce(t, d); n != 1 {
		t.Fatalf("sent %d", n)
	}
	msg, _ := mail.ReadMessage(bytes.NewReader(mb.messages()[0].data))
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if subject != "[proxyhub] acme: 3 proxies registered" || !strings.HasPrefix(string(body), "🆕 3 proxies registered: edge-1, edge-2, edge-3\r\n") {
		t.Fatalf("digest mail %q\n%s", subject, body)
	}
	_ = ok
	ds := deliveries(t, s, rejected)
	if len(ds) != 1 || !strings.Contains(ds[0].Error, "550") || strings.Contains(ds[0].Error, "s3cret-pw") {
		t.Fatalf("rejected recipient: %+v", ds)
	}

	// No relay configured: a recorded failure, not a panic.
	s2 := newStore(t)
	w2 := addWebhook(t, s2, KindEmail, "mailto:ops@example.com")
	heartbeat(t, s2, "edge-1", "198.51.100.1", t0)
	runOnce(t, NewDispatcher(s2, Config{Now: clk.Now}))
	if ds := deliveries(t, s2, w2); len(ds) != 1 || !strings.Contains(ds[0].Error, "not configured") {
		t.Fatalf("unconfigured: %+v", ds)
	}
}
