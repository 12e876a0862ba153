package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// decodeJSON reads the request body into v strictly: one JSON object, no
// unknown fields (a misspelled field is an error, not a silent no-op), and
// values of the declared types. Decoding copies every string, so v never
// aliases Fiber's buffers.
func decodeJSON(c *fiber.Ctx, v any) error {
	if ct := c.Get(fiber.HeaderContentType); ct != "" && !strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		return ticketing.Errorf(ticketing.KindUnsupportedMedia, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
	}
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 || body[0] != '{' {
		return invalid("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data")
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		if !textOnly(reflect.ValueOf(v)) {
			return invalid("text in the request body must not contain NUL characters")
		}
		return nil
	case errors.As(err, &typeErr):
		return invalid("%s must be a %s", typeErr.Field, jsonType(typeErr.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return invalid("request body is not valid JSON")
	}
}

// jsonType names a Go kind as the JSON type a client should send.
func jsonType(kind string) string {
	switch {
	case kind == "string":
		return "string"
	case kind == "bool":
		return "boolean"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "slice" || kind == "array":
		return "array"
	}
	return "object"
}

// pathID returns the :id path parameter, copied; a malformed id is simply
// not found, like an id of another tenant.
func pathID(c *fiber.Ctx, what string) (string, error) {
	id := c.Params("id")
	if !ticketing.ValidID(id) {
		return "", ticketing.NotFound(what)
	}
	return strings.Clone(id), nil
}

// listOf is the shape of every list: the page, converted for the API, and
// the cursor of the next page, null on the last.
func listOf[T, R any](items []T, convert func(T) R, next string) fiber.Map {
	data := make([]R, 0, len(items))
	for _, it := range items {
		data = append(data, convert(it))
	}
	var cursor any
	if next != "" {
		cursor = next
	}
	return fiber.Map{"data": data, "nextCursor": cursor}
}

// textOnly reports whether every string in v is valid UTF-8 without NUL
// characters. JSON may carry NUL as \u0000, which Postgres refuses in text;
// invalid UTF-8 the decoder has already replaced.
func textOnly(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		return utf8.ValidString(s) && !strings.Contains(s, "\x00")
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || textOnly(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && !textOnly(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if !textOnly(v.Index(i)) {
				return false
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if !textOnly(it.Key()) || !textOnly(it.Value()) {
				return false
			}
		}
	}
	return true
}
