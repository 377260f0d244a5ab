package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/internal/httpapi"
)

// The rules that make the document a contract mainstream generators take
// as it is.
func TestOpenAPI_IsAContractGeneratorsTakeAsItIs(t *testing.T) {
	t.Parallel()
	doc := httpapi.OpenAPI()

	if doc.Info.License == nil || doc.Info.Contact == nil || doc.Info.Description == "" {
		t.Error("info lacks a description, license or contact")
	}
	if len(doc.Servers) == 0 || doc.ExternalDocs == nil {
		t.Error("the document lacks servers or externalDocs")
	}
	declared := map[string]bool{}
	for _, tag := range doc.Tags {
		if tag.Description == "" {
			t.Errorf("tag %s has no description", tag.Name)
		}
		declared[tag.Name] = true
	}

	ids := map[string]bool{}
	for path, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			if ids[op.OperationID] {
				t.Errorf("operation id %s is used twice", op.OperationID)
			}
			ids[op.OperationID] = true
			for _, tag := range op.Tags {
				if !declared[tag] {
					t.Errorf("%s uses tag %s, which the document does not describe", op.OperationID, tag)
				}
			}
			for _, p := range op.Parameters {
				if p.In == "header" && (strings.EqualFold(p.Name, "Authorization") || strings.EqualFold(p.Name, "Content-Type")) {
					t.Errorf("%s documents the %s header as a parameter; security schemes and media types say it", op.OperationID, p.Name)
				}
			}
			if op.RequestBody != nil {
				if _, ok := op.RequestBody.Content["application/octet-stream"]; ok {
					t.Errorf("%s %s documents an octet-stream body", path, op.OperationID)
				}
			}
			for status, res := range op.Responses {
				if len(res.Content) > 1 {
					t.Errorf("%s answers %s in %d media types; one per status", op.OperationID, status, len(res.Content))
				}
				if status[0] == '4' || status[0] == '5' || status == "default" {
					mt, ok := res.Content["application/problem+json"]
					if !ok || mt.Schema.Ref != "#/components/schemas/Problem" {
						t.Errorf("%s %s is not an application/problem+json Problem", op.OperationID, status)
					}
				}
			}
		}
	}

	// No schema, however deeply nested, is an array that may be null.
	b, err := json.Marshal(doc.Components.Schemas.Map())
	if err != nil {
		t.Fatal(err)
	}
	var schemas any
	if err := json.Unmarshal(b, &schemas); err != nil {
		t.Fatal(err)
	}
	walk(schemas, func(m map[string]any) {
		if types, ok := m["type"].([]any); ok && slices.Contains(types, any("null")) {
			t.Errorf("a schema may be null: %v", m)
		}
		if m["nullable"] == true {
			t.Errorf("a schema is nullable: %v", m)
		}
	})

	// The problem types are listed, each a URI.
	pt, ok := doc.Components.Schemas.Map()["ProblemType"]
	if !ok || len(pt.Enum) < 10 {
		t.Fatal("the document does not list the problem types")
	}
	for _, v := range pt.Enum {
		if s := v.(string); !strings.HasPrefix(s, "urn:proxyhub:problem:") && s != "about:blank" {
			t.Errorf("problem type %q is not a proxyhub URN", s)
		}
	}
}

// walk calls fn on every JSON object inside v.
func walk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, c := range x {
			walk(c, fn)
		}
	case []any:
		for _, c := range x {
			walk(c, fn)
		}
	}
}
