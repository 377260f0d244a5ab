// Package api holds proxyhub's public contract: the request and response
// types of every operation. The OpenAPI document (openapi.yaml) is generated
// from these types, so their doc and example tags are the documentation SDK
// users read.
package api

import (
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// TimeLayout is the wire format of every timestamp: RFC 3339 in UTC with
// exactly three fractional digits, as JavaScript's Date.toISOString prints it
// (the seed hub's format).
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Time is a timestamp that marshals in TimeLayout. The zero Time marshals as
// JSON null.
type Time time.Time

// NewTime converts t to UTC and wraps it.
func NewTime(t time.Time) Time { return Time(t.UTC()) }

// String formats t in TimeLayout.
func (t Time) String() string { return time.Time(t).UTC().Format(TimeLayout) }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler; it accepts any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	var tt time.Time
	if err := tt.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = NewTime(tt)
	return nil
}

// Schema describes Time in the OpenAPI document as a date-time string.
func (Time) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		Type:        huma.TypeString,
		Format:      "date-time",
		Description: "RFC 3339 timestamp in UTC with milliseconds.",
		Examples:    []any{"2026-11-28T09:00:00.000Z"},
	}
}

var _ huma.SchemaProvider = Time{}
