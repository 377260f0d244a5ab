package hub

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// IPChange is one audit record of a proxy's IP changing. Records are
// append-only: once stored they are never updated or deleted by the
// application.
type IPChange struct {
	ID        int64
	TenantID  string
	Proxy     string
	OldIP     netip.Addr
	NewIP     netip.Addr
	At        time.Time
	TokenID   string
	RequestID string
}

// Denied is the audit record of a heartbeat refused by policy.
type Denied struct {
	ID        int64
	TenantID  string
	Proxy     string
	IP        netip.Addr
	At        time.Time
	TokenID   string
	RequestID string
	Reason    string
}

// AuditQuery selects audit records of one tenant, newest first (by id).
// The zero value selects all of them.
type AuditQuery struct {
	Proxy    string     // only this proxy
	IP       netip.Addr // only records where this address is the old or new (or denied) IP
	Since    time.Time  // only records at or after this
	Until    time.Time  // only records before this
	BeforeID int64      // keyset cursor: only ids below this
	Limit    int        // at most this many; 0 means all
}

// ProxyStats summarises one proxy's IP changes in a time window.
type ProxyStats struct {
	Proxy       string
	Changes     int64
	DistinctIPs int64     // distinct new IPs in the window
	LastChange  time.Time // latest change in the window
}

// AuditStore keeps the IP-change history and denied-heartbeat records.
type AuditStore interface {
	// ScanIPChanges calls fn for each IP change matching q, newest first,
	// streaming rather than loading the selection into memory. It stops at
	// fn's first error and returns it.
	ScanIPChanges(ctx context.Context, tenantID string, q AuditQuery, fn func(IPChange) error) error
	// RecordDenied appends a denied-heartbeat record and returns its id.
	RecordDenied(ctx context.Context, d Denied) (int64, error)
	// ScanDenied calls fn for each denied record matching q, newest first.
	ScanDenied(ctx context.Context, tenantID string, q AuditQuery, fn func(Denied) error) error
	// IPChangeStats summarises IP changes per proxy in [since, until),
	// sorted by proxy name; zero times leave that side open.
	IPChangeStats(ctx context.Context, tenantID string, since, until time.Time) ([]ProxyStats, error)
	// PruneHistory deletes, across tenants, the history recorded before
	// before: IP changes, denied heartbeats, events and webhook deliveries,
	// at most max records of each kind per call (max <= 0: no limit). It
	// returns how many it deleted. It is the history's only way out
	// (retention, off by default) and refuses a before later than
	// MinRetention ago, deleting nothing.
	PruneHistory(ctx context.Context, before time.Time, max int) (int64, error)
}

// MinRetention is the youngest history PruneHistory may delete: records of
// the last day are never removed, whatever the settings (the PostgreSQL
// store enforces it in the database too).
const MinRetention = 24 * time.Hour

// CheckPruneBefore returns an error when before is later than
// MinRetention before now.
func CheckPruneBefore(before, now time.Time) error {
	if before.After(now.Add(-MinRetention)) {
		return fmt.Errorf("store: history of the last %v is never deleted (asked to prune before %s)", MinRetention, before.UTC().Format(time.RFC3339))
	}
	return nil
}
