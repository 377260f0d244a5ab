package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/handoff"
)

// SQLSTATE codes the store reacts to.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeQueryCanceled        = "57014" // statement_timeout, or a cancel request
	codeTooManyConnections   = "53300"
	codeLockNotAvailable     = "55P03" // lock_timeout
	codeIdleInTxTimeout      = "25P03" // idle_in_transaction_session_timeout ended the session
)

// translate is the one place that maps driver errors to the store's
// sentinels, prefixing what was being done:
//
//   - pgx.ErrNoRows → hub.ErrNotFound
//   - unique_violation → hub.ErrConflict
//   - foreign_key_violation (every foreign key references the tenant) →
//     hub.ErrNotFound
//   - connection failures, timeouts, a server shutting down →
//     hub.ErrUnavailable (the driver error stays wrapped)
//
// A caller's cancellation (context.Canceled) is returned as it is.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", what, hub.ErrNotFound)
	case errors.Is(err, context.Canceled) && !pgconn.Timeout(err):
		return fmt.Errorf("%s: %w", what, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", what, hub.ErrUnavailable, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%s: %w", what, hub.ErrConflict)
		case codeForeignKeyViolation:
			return fmt.Errorf("%s: tenant: %w", what, hub.ErrNotFound)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unavailable reports whether err means the database could not be reached
// or did not answer in time, rather than that it refused the statement.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || // connection_exception
			strings.HasPrefix(pgErr.Code, "57P") || // admin/crash shutdown, cannot connect now
			pgErr.Code == codeQueryCanceled ||
			pgErr.Code == codeTooManyConnections ||
			pgErr.Code == codeLockNotAvailable ||
			pgErr.Code == codeIdleInTxTimeout
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) ||
		pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "closed pool")
}

// connectionLost reports whether err means the session itself is gone
// (ended by the server, or the connection broke), as opposed to a
// statement refused or a lock waited for too long.
func connectionLost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") || pgErr.Code == codeIdleInTxTimeout
	}
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}

// lockTimedOut reports whether a statement gave up waiting for a lock
// (lock_timeout): another session holds a row or a lock the statement
// needs.
func lockTimedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == codeLockNotAvailable
}

// retryable reports whether a transaction failed only because it collided
// with another one and can simply be run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == codeDeadlockDetected || pgErr.Code == codeSerializationFailure)
}

// ctxError is the error of a call whose context ended
// (handoff.ContextError): a deadline means the store was too slow
// (hub.ErrUnavailable), a cancellation is the caller's own.
func ctxError(ctx context.Context, what string) error {
	return handoff.ContextError(ctx, what)
}

// openError describes a failure of Open without the password: the message
// names the server and the cause, with every password found in rawURL
// masked, and it wraps only hub.ErrUnavailable (for a server that could
// not be reached) and context errors, never the driver's error, whose
// fields may hold the raw URL.
func openError(rawURL, target, what string, err error) error {
	msg := fmt.Sprintf("postgres: %s %s: %v", what, target, err)
	for _, pw := range passwords(rawURL) {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	e := &redactedError{msg: msg}
	if errors.Is(err, context.Canceled) {
		e.wrapped = append(e.wrapped, context.Canceled)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		e.wrapped = append(e.wrapped, context.DeadlineExceeded)
	}
	if errors.Is(err, ErrRLSBypassed) {
		e.wrapped = append(e.wrapped, ErrRLSBypassed)
	}
	if what != "invalid database URL" && unavailable(err) {
		e.wrapped = append(e.wrapped, hub.ErrUnavailable)
	}
	return e
}

// redactedError is an error whose text was scrubbed of secrets.
type redactedError struct {
	msg     string
	wrapped []error
}

func (e *redactedError) Error() string   { return e.msg }
func (e *redactedError) Unwrap() []error { return e.wrapped }

// passwordPatterns find passwords in connection strings that url.Parse may
// reject: the userinfo of a URL and the password keyword of a DSN.
var passwordPatterns = []*regexp.Regexp{
	regexp.MustCompile(`://[^:/@?#]*:([^@]+)@`),
	regexp.MustCompile(`password\s*=\s*'((?:[^'\\]|\\.)*)'`),
	regexp.MustCompile(`password\s*=\s*([^\s']\S*)`),
	regexp.MustCompile(`[?&]password=([^&#]+)`),
}

// hostPattern finds the host and database of a URL that url.Parse rejects.
var hostPattern = regexp.MustCompile(`@([^/?#]*)(/[^?#]*)?`)

// passwords returns the secrets a connection string may contain, longest
// first, in the forms they may appear in messages (raw and unescaped).
func passwords(conn string) []string {
	var out []string
	add := func(pw string) {
		if pw == "" {
			return
		}
		out = append(out, pw)
		if un, err := url.PathUnescape(pw); err == nil && un != pw {
			out = append(out, un)
		}
	}
	if u, err := url.Parse(conn); err == nil && u.User != nil {
		pw, _ := u.User.Password()
		add(pw)
	}
	for _, re := range passwordPatterns {
		for _, m := range re.FindAllStringSubmatch(conn, -1) {
			add(m[1])
		}
	}
	// Mask longer secrets first, so that one that contains another is
	// masked whole.
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if len(out[j]) > len(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// describeConfig names the server a pool connects to, for messages:
// "host:port/database (user …)".
func describeConfig(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	host := c.Host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "/") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d/%s (user %s)", host, c.Port, c.Database, c.User)
}

// describeURL names the server of a connection string that pgx could not
// parse, as far as it can be read.
func describeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" && u.Path == "" {
		if m := hostPattern.FindStringSubmatch(raw); m != nil {
			return strconv.Quote(m[1] + m[2])
		}
		return "(unreadable URL)"
	}
	return strconv.Quote(u.Host + u.Path)
}
