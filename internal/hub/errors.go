package hub

import (
	"errors"
	"fmt"
)

// Errors of the domain. The HTTP layer maps each to one status in one
// place (internal/httpapi/errors.go); the store's sentinels are in store.go.
var (
	// ErrInvalidName reports a proxy name that breaks the name rule
	// (NameRule).
	ErrInvalidName = errors.New("invalid proxy name")
	// ErrInvalidIP reports a heartbeat without a usable client IP.
	ErrInvalidIP = errors.New("invalid client IP")
	// ErrSourceDenied reports a heartbeat from a source IP outside the
	// tenant's or the token's allowlist. The heartbeat changed nothing and
	// was kept as a denied audit record.
	ErrSourceDenied = errors.New("source IP not allowed")
	// ErrInvalidClient reports a failed client credentials exchange:
	// unknown client, wrong secret, or revoked credential (never which).
	ErrInvalidClient = errors.New("invalid client credentials")
)

// FieldError is invalid input, naming the offending field. The API
// answers it with 422 (400 when it is also a BadRequest, as CIDRError is).
type FieldError struct {
	Field  string // e.g. "body.id"
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// FieldName returns the offending field (the HTTP layer reports it).
func (e *FieldError) FieldName() string { return e.Field }
