package httpapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ticketd-io/ticketd/internal/authz"
	"github.com/ticketd-io/ticketd/internal/httpapi"
)

// openAPIOperation is what TestOpenAPIOperations reads of an operation.
type openAPIOperation struct {
	OperationID string                 `json:"operationId"`
	Security    *[]map[string][]string `json:"security"`
}

// TestOpenAPIOperations: every operation of the document has a unique
// operationId (what generated clients and the Postman collection name it
// by) and declares its security, and the declaration says what the
// authorization policy decides: public operations need no credentials
// (security: [], or {} first where credentials are optional), the
// operators' need the platform key, every other one an access token.
// Redocly's lint (make openapi-lint) checks the rest of the recommended
// ruleset.
func TestOpenAPIOperations(t *testing.T) {
	t.Parallel()
	ops := openAPIOperations(t)
	policy, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(role, path, method string) bool {
		ok, err := policy.Allowed(role, path, method)
		if err != nil {
			t.Fatalf("policy: %v", err)
		}
		return ok
	}
	camel := regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
	param := regexp.MustCompile(`\{(\w+)\}`)
	seen := map[string]string{}
	for key, op := range ops {
		method, path, _ := strings.Cut(key, " ")
		name := strings.ToUpper(method) + " " + path
		switch {
		case !camel.MatchString(op.OperationID):
			t.Errorf("%s: operationId %q is not a camelCase name", name, op.OperationID)
		case seen[op.OperationID] != "":
			t.Errorf("%s: operationId %q is also %s's", name, op.OperationID, seen[op.OperationID])
		}
		seen[op.OperationID] = name
		if op.Security == nil {
			t.Errorf("%s: declares no security", name)
			continue
		}
		route, verb := param.ReplaceAllString(path, ":$1"), strings.ToUpper(method)
		sec := *op.Security
		public := len(sec) == 0 || len(sec[0]) == 0
		switch {
		case allowed("PLATFORM", route, verb):
			if len(sec) != 1 || sec[0]["platformKey"] == nil || len(sec[0]) != 1 {
				t.Errorf("%s: the operators' operation declares %v, not the platform key", name, sec)
			}
		case allowed("ANONYMOUS", route, verb):
			if !public {
				t.Errorf("%s: the policy lets anyone call it, the document asks for %v", name, sec)
			}
		default:
			if public || len(sec) == 0 {
				t.Errorf("%s: the policy needs a signed-in user, the document asks for nothing", name)
			}
			for _, req := range sec {
				for scheme := range req {
					if scheme != "bearer" && scheme != "accessCookie" {
						t.Errorf("%s: a signed-in user's operation accepts %s", name, scheme)
					}
				}
			}
		}
	}
	if len(ops) < 70 {
		t.Fatalf("read %d operations from openapi.json, expected every route's", len(ops))
	}
}

// TestPostmanCollectionIsCurrent: the committed Postman collection is the
// one the document generates (run `make postman` after changing
// openapi.json), and it has a request for every operation, each with the
// method, path and credentials the document gives it.
func TestPostmanCollectionIsCurrent(t *testing.T) {
	t.Parallel()
	want, err := httpapi.PostmanCollection()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/postman/ticketd.postman_collection.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/postman/ticketd.postman_collection.json is not what openapi.json generates: run make postman")
	}
	var c struct {
		Info struct{ Schema string }
		Item []struct {
			Item []struct {
				Request struct {
					Method string
					Auth   *struct{ Type string }
					URL    struct{ Path []string }
				}
			}
		}
	}
	if err := json.Unmarshal(want, &c); err != nil {
		t.Fatal(err)
	}
	ops := openAPIOperations(t)
	colon := regexp.MustCompile(`^:(\w+)$`)
	requests := 0
	for _, folder := range c.Item {
		for _, it := range folder.Item {
			requests++
			segs := make([]string, len(it.Request.URL.Path))
			for i, s := range it.Request.URL.Path {
				segs[i] = colon.ReplaceAllString(s, "{$1}")
			}
			path, method := "/"+strings.Join(segs, "/"), strings.ToLower(it.Request.Method)
			op, ok := ops[method+" "+path]
			if !ok {
				t.Errorf("the collection has %s %s, which the document does not", method, path)
				continue
			}
			public := op.Security != nil && len(*op.Security) == 0
			if gotPublic := it.Request.Auth != nil && it.Request.Auth.Type == "noauth"; gotPublic != public {
				t.Errorf("%s %s: sent without credentials %v, public in the document %v", method, path, gotPublic, public)
			}
		}
	}
	if operations := len(ops); requests != operations || c.Info.Schema == "" {
		t.Errorf("the collection has %d requests for %d operations (schema %q)", requests, operations, c.Info.Schema)
	}
}

// openAPIOperations reads the operations of openapi.json by "method path".
func openAPIOperations(t *testing.T) map[string]openAPIOperation {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string]openAPIOperation{}
	for path, methods := range doc.Paths {
		for method, body := range methods {
			if method == "parameters" {
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(body, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ops[method+" "+path] = op
		}
	}
	return ops
}
