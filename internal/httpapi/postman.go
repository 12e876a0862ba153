package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The Postman collection (docs/postman/ticketd.postman_collection.json,
// `make postman`) is generated from the OpenAPI document, so the two never
// disagree (TestPostmanCollectionIsCurrent): a folder per tag, a request per
// operation named by its summary, with its path variables, query
// parameters (disabled until filled in), headers and an example body. The
// collection's variables say where and as whom: baseUrl, tenant (sent as
// X-Tenant), accessToken (signed-in operations) and platformKey (the
// operators' ones).

// postmanSchema is the collection format: Postman Collection v2.1.
const postmanSchema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

type (
	postmanCollection struct {
		Info     postmanInfo       `json:"info"`
		Auth     *postmanAuth      `json:"auth,omitempty"`
		Variable []postmanKeyValue `json:"variable"`
		Item     []postmanFolder   `json:"item"`
	}
	postmanInfo struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
		Schema      string `json:"schema"`
	}
	postmanFolder struct {
		Name        string        `json:"name"`
		Description string        `json:"description,omitempty"`
		Item        []postmanItem `json:"item"`
	}
	postmanItem struct {
		Name    string         `json:"name"`
		Event   []postmanEvent `json:"event,omitempty"`
		Request postmanRequest `json:"request"`
	}
	postmanEvent struct {
		Listen string `json:"listen"`
		Script struct {
			Type string   `json:"type"`
			Exec []string `json:"exec"`
		} `json:"script"`
	}
	postmanRequest struct {
		Method      string            `json:"method"`
		Description string            `json:"description,omitempty"`
		Auth        *postmanAuth      `json:"auth,omitempty"`
		Header      []postmanKeyValue `json:"header"`
		URL         postmanURL        `json:"url"`
		Body        *postmanBody      `json:"body,omitempty"`
	}
	postmanURL struct {
		Raw      string            `json:"raw"`
		Host     []string          `json:"host"`
		Path     []string          `json:"path"`
		Query    []postmanKeyValue `json:"query,omitempty"`
		Variable []postmanKeyValue `json:"variable,omitempty"`
	}
	postmanKeyValue struct {
		Key         string `json:"key"`
		Value       string `json:"value"`
		Description string `json:"description,omitempty"`
		Disabled    bool   `json:"disabled,omitempty"`
	}
	postmanAuth struct {
		Type   string            `json:"type"`
		Bearer []postmanKeyValue `json:"bearer,omitempty"`
	}
	postmanBody struct {
		Mode    string `json:"mode"`
		Raw     string `json:"raw"`
		Options struct {
			Raw struct {
				Language string `json:"language"`
			} `json:"raw"`
		} `json:"options"`
	}
)

// openAPIDoc is the part of the OpenAPI document the collection is made of.
type openAPIDoc struct {
	Info struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"info"`
	Tags []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Parameters map[string]openAPIParameter `json:"parameters"`
		Schemas    map[string]*openAPISchema   `json:"schemas"`
	} `json:"components"`
}

type openAPIOp struct {
	Tags        []string              `json:"tags"`
	OperationID string                `json:"operationId"`
	Summary     string                `json:"summary"`
	Description string                `json:"description"`
	Security    []map[string][]string `json:"security"`
	Parameters  []openAPIParameter    `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema  *openAPISchema `json:"schema"`
			Example any            `json:"example"`
		} `json:"content"`
	} `json:"requestBody"`
}

type openAPIParameter struct {
	Ref         string         `json:"$ref"`
	Name        string         `json:"name"`
	In          string         `json:"in"`
	Description string         `json:"description"`
	Required    bool           `json:"required"`
	Example     any            `json:"example"`
	Schema      *openAPISchema `json:"schema"`
}

type openAPISchema struct {
	Ref        string                    `json:"$ref"`
	Type       string                    `json:"type"`
	Example    any                       `json:"example"`
	Default    any                       `json:"default"`
	Enum       []any                     `json:"enum"`
	Properties map[string]*openAPISchema `json:"properties"`
	Required   []string                  `json:"required"`
	Items      *openAPISchema            `json:"items"`
	AllOf      []*openAPISchema          `json:"allOf"`
	OneOf      []*openAPISchema          `json:"oneOf"`
	AnyOf      []*openAPISchema          `json:"anyOf"`
}

// PostmanCollection returns the Postman collection of the OpenAPI document,
// as indented JSON ending in a newline.
func PostmanCollection() ([]byte, error) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		return nil, fmt.Errorf("postman: the OpenAPI document: %w", err)
	}
	c := postmanCollection{
		Info: postmanInfo{Name: doc.Info.Title, Schema: postmanSchema, Description: doc.Info.Description +
			"\n\nGenerated from /api/openapi.json (`make postman`). Set baseUrl, tenant (the organizer's slug, sent as X-Tenant), accessToken (from Sign in) and, for the platform folder, platformKey."},
		Auth: bearer("accessToken"),
		Variable: []postmanKeyValue{
			{Key: "baseUrl", Value: "http://localhost:8080"},
			{Key: "tenant", Value: "demo"},
			{Key: "accessToken", Value: ""},
			{Key: "platformKey", Value: ""},
		},
	}
	folders := map[string]int{}
	for _, t := range doc.Tags {
		folders[t.Name] = len(c.Item)
		c.Item = append(c.Item, postmanFolder{Name: t.Name, Description: t.Description})
	}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, path := range paths {
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			raw, ok := doc.Paths[path][method]
			if !ok {
				continue
			}
			var op openAPIOp
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("postman: %s %s: %w", method, path, err)
			}
			if len(op.Tags) == 0 {
				return nil, fmt.Errorf("postman: %s %s has no tag", method, path)
			}
			f, ok := folders[op.Tags[0]]
			if !ok {
				return nil, fmt.Errorf("postman: %s %s: tag %q is not declared", method, path, op.Tags[0])
			}
			item := postmanItem{Name: op.Summary, Request: doc.request(method, path, &op)}
			if sessionOperations[op.OperationID] {
				item.Event = []postmanEvent{keepAccessToken()}
			}
			c.Item[f].Item = append(c.Item[f].Item, item)
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// sessionOperations answer a Session: the collection keeps its access
// token for the requests that follow.
var sessionOperations = map[string]bool{"signUp": true, "signIn": true, "refreshSession": true}

func keepAccessToken() postmanEvent {
	var e postmanEvent
	e.Listen, e.Script.Type = "test", "text/javascript"
	e.Script.Exec = []string{
		"if (pm.response.code < 300) {",
		"  pm.collectionVariables.set('accessToken', pm.response.json().accessToken);",
		"}",
	}
	return e
}

func bearer(variable string) *postmanAuth {
	return &postmanAuth{Type: "bearer", Bearer: []postmanKeyValue{{Key: "token", Value: "{{" + variable + "}}"}}}
}

var pathParam = regexp.MustCompile(`\{(\w+)\}`)

// request is one operation as a Postman request.
func (doc *openAPIDoc) request(method, path string, op *openAPIOp) postmanRequest {
	r := postmanRequest{Method: strings.ToUpper(method), Description: op.Description, Header: []postmanKeyValue{}}
	switch {
	case len(op.Security) == 0:
		r.Auth = &postmanAuth{Type: "noauth"}
	case op.Security[0]["platformKey"] != nil:
		r.Auth = bearer("platformKey")
	}
	// Otherwise the collection's bearer {{accessToken}}, optional or not.
	postmanPath := pathParam.ReplaceAllString(path, ":$1")
	r.URL = postmanURL{Raw: "{{baseUrl}}" + postmanPath, Host: []string{"{{baseUrl}}"},
		Path: strings.Split(strings.TrimPrefix(postmanPath, "/"), "/")}
	var query []string
	for _, p := range op.Parameters {
		if p.Ref != "" {
			p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
		}
		kv := postmanKeyValue{Key: p.Name, Value: exampleText(p.Example), Description: p.Description}
		switch p.In {
		case "path":
			r.URL.Variable = append(r.URL.Variable, kv)
		case "query":
			kv.Disabled = !p.Required
			r.URL.Query = append(r.URL.Query, kv)
			if !kv.Disabled {
				query = append(query, p.Name+"="+kv.Value)
			}
		case "header":
			switch p.Name {
			case "X-Tenant":
				kv.Value = "{{tenant}}"
			case "Idempotency-Key":
				// A new key per send, as a well-behaved client makes one
				// per purchase attempt.
				kv.Value = "{{$guid}}"
			default:
				kv.Disabled = !p.Required
			}
			r.Header = append(r.Header, kv)
		}
	}
	if len(query) > 0 {
		r.URL.Raw += "?" + strings.Join(query, "&")
	}
	if op.RequestBody != nil {
		if media, ok := op.RequestBody.Content["application/json"]; ok {
			example := media.Example
			if example == nil {
				example = doc.example(media.Schema, 0)
			}
			body, _ := json.MarshalIndent(example, "", "  ")
			r.Body = &postmanBody{Mode: "raw", Raw: string(body)}
			r.Body.Options.Raw.Language = "json"
			r.Header = append(r.Header, postmanKeyValue{Key: "Content-Type", Value: "application/json"})
		}
	}
	return r
}

// resolve follows a schema's $ref, once.
func (doc *openAPIDoc) resolve(s *openAPISchema) *openAPISchema {
	if s != nil && s.Ref != "" {
		if t := doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]; t != nil {
			return t
		}
	}
	if s == nil {
		return &openAPISchema{}
	}
	return s
}

func exampleText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// example builds an example value of schema: its own example, else one
// built of its required properties and those that have an example of their
// own (every property when none is either); a value without an example
// gets its default, its first enum value, or the zero value of its type.
func (doc *openAPIDoc) example(s *openAPISchema, depth int) any {
	if s == nil || depth > 8 {
		return nil
	}
	if s.Ref != "" {
		return doc.example(doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], depth+1)
	}
	switch {
	case s.Example != nil:
		return s.Example
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	case len(s.AllOf) > 0:
		merged := map[string]any{}
		for _, part := range s.AllOf {
			if m, ok := doc.example(part, depth+1).(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		return merged
	case len(s.OneOf) > 0:
		return doc.example(s.OneOf[0], depth+1)
	case len(s.AnyOf) > 0:
		return doc.example(s.AnyOf[0], depth+1)
	}
	switch s.Type {
	case "array":
		if item := doc.example(s.Items, depth+1); item != nil {
			return []any{item}
		}
		return []any{}
	case "string":
		return ""
	case "integer", "number":
		return 0
	case "boolean":
		return false
	}
	obj := map[string]any{}
	for name, prop := range s.Properties {
		if slices.Contains(s.Required, name) || doc.resolve(prop).Example != nil {
			obj[name] = doc.example(prop, depth+1)
		}
	}
	if len(obj) == 0 {
		for name, prop := range s.Properties {
			obj[name] = doc.example(prop, depth+1)
		}
	}
	return obj
}
