package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ticketd-io/ticketd/internal/authz"
	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/migrations"
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

// openAPIColumnEnums names the enums of the document that list the values
// of a column the migrations constrain with CHECK (column IN (...)), by
// their path in the document.
var openAPIColumnEnums = map[string]string{
	"/components/schemas/Tenant/properties/status":                                                "tenants.status",
	"/components/schemas/UpdateTenant/properties/status":                                          "tenants.status",
	"/paths/~1v1~1platform~1tenants/get/parameters/2/schema":                                      "tenants.status",
	"/components/schemas/User/properties/role":                                                    "users.role",
	"/paths/~1v1~1users/get/parameters/3/schema":                                                  "users.role",
	"/paths/~1v1~1users~1{id}/patch/requestBody/content/application~1json/schema/properties/role": "users.role",
	"/components/schemas/Event/properties/status":                                                 "events.status",
	"/paths/~1v1~1events/get/parameters/8/schema":                                                 "events.status",
	"/components/schemas/TicketTypeInput/properties/kind":                                         "ticket_types.kind",
	"/components/schemas/TicketType/properties/kind":                                              "ticket_types.kind",
	"/components/schemas/Booking/properties/status":                                               "bookings.status",
	"/components/schemas/PaymentReturn/properties/bookingStatus":                                  "bookings.status",
	"/paths/~1v1~1bookings/get/parameters/6/schema":                                               "bookings.status",
	"/components/schemas/Payment/properties/status":                                               "payments.status",
	"/components/schemas/PaymentReturn/properties/paymentStatus":                                  "payments.status",
	"/paths/~1v1~1payments/get/parameters/3/schema":                                               "payments.status",
	"/components/schemas/Ticket/properties/status":                                                "tickets.status",
	"/components/schemas/ScanResult/properties/ticket/properties/status":                          "tickets.status",
	"/paths/~1v1~1events~1{id}~1checkin-list/get/responses/200/content/application~1json/schema/properties/data/items/properties/status": "tickets.status",
	"/components/schemas/ScanResult/properties/result": "checkin_scans.result",
	"/components/schemas/Refund/properties/kind":       "refunds.kind",
	"/components/schemas/Refund/properties/status":     "refunds.status",
	"/paths/~1v1~1refunds/get/parameters/3/schema":     "refunds.status",
}

// TestOpenAPIEnumsMatchMigrations: an enum of the document that lists a
// column's values (openAPIColumnEnums) lists exactly the values the
// migrations allow in it, so a value the code may store and return (a
// refund's kind, a booking's status) is never missing from the document.
// An enum not in openAPIColumnEnums that shares two values with such a
// column fails too, so that a new one is checked as well.
func TestOpenAPIEnumsMatchMigrations(t *testing.T) {
	t.Parallel()
	columns := checkedColumns(t)
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	enums := map[string][]string{}
	collectEnums(doc, "", enums)
	for pointer, column := range openAPIColumnEnums {
		want, ok := columns[column]
		if !ok {
			t.Errorf("no migration constrains %s with CHECK (... IN (...))", column)
			continue
		}
		got, ok := enums[pointer]
		if !ok {
			t.Errorf("%s: no enum there in openapi.json", pointer)
			continue
		}
		if !sameSet(got, want) {
			t.Errorf("%s lists %q, the migrations allow %s to be %q", pointer, got, column, want)
		}
	}
	for pointer, got := range enums {
		if _, ok := openAPIColumnEnums[pointer]; ok {
			continue
		}
		for column, values := range columns {
			if shared(got, values) >= 2 {
				t.Errorf("%s lists %q, like the column %s (%q): add it to openAPIColumnEnums", pointer, got, column, values)
			}
		}
	}
}

// checkedColumns reads the values the migrations, applied in order, allow
// in each "table.column" constrained by CHECK (column IN ('a', 'b', ...)).
func checkedColumns(t *testing.T) map[string][]string {
	t.Helper()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	comment := regexp.MustCompile(`--[^\n]*`)
	table := regexp.MustCompile(`(?i)^\s*(?:CREATE\s+TABLE(?:\s+IF\s+NOT\s+EXISTS)?|ALTER\s+TABLE(?:\s+ONLY)?)\s+(\w+)`)
	check := regexp.MustCompile(`(?i)CHECK\s*\(\s*(\w+)\s+IN\s*\(([^)]*)\)\s*\)`)
	literal := regexp.MustCompile(`'([^']*)'`)
	columns := map[string][]string{}
	for _, name := range files {
		raw, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		up, _, _ := strings.Cut(string(raw), "-- +goose Down")
		for _, stmt := range strings.Split(comment.ReplaceAllString(up, ""), ";") {
			checks := check.FindAllStringSubmatch(stmt, -1)
			if len(checks) == 0 {
				continue
			}
			tm := table.FindStringSubmatch(stmt)
			if tm == nil {
				t.Fatalf("%s: a CHECK ... IN outside CREATE TABLE or ALTER TABLE: %s", name, strings.TrimSpace(stmt))
			}
			for _, c := range checks {
				var values []string
				for _, l := range literal.FindAllStringSubmatch(c[2], -1) {
					values = append(values, l[1])
				}
				columns[tm[1]+"."+c[1]] = values
			}
		}
	}
	return columns
}

// collectEnums records every enum of the document by its JSON pointer.
func collectEnums(v any, pointer string, enums map[string][]string) {
	switch v := v.(type) {
	case map[string]any:
		if list, ok := v["enum"].([]any); ok {
			values := make([]string, 0, len(list))
			for _, e := range list {
				if s, ok := e.(string); ok {
					values = append(values, s)
				}
			}
			enums[pointer] = values
		}
		for k, child := range v {
			k = strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
			collectEnums(child, pointer+"/"+k, enums)
		}
	case []any:
		for i, child := range v {
			collectEnums(child, pointer+"/"+strconv.Itoa(i), enums)
		}
	}
}

// sameSet reports whether a and b hold the same values.
func sameSet(a, b []string) bool {
	return len(a) == len(b) && shared(a, b) == len(a)
}

// shared counts the values of a that are in b.
func shared(a, b []string) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}
