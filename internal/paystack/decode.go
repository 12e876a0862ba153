package paystack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The flex types decode the field drift documented in paystack-api.md.
// Undocumented shapes (an amount that is not a number at all, a timestamp
// that does not parse) are still errors: guessing there could turn a real
// problem into a wrong amount.

// flexInt is an integer sent as a number or a numeric string; null and ""
// mean absent.
type flexInt struct {
	n   int64
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s, ok, err := scalar(b)
	if err != nil || !ok {
		*f = flexInt{}
		return err
	}
	n, err := parseInt(s)
	if err != nil {
		return err
	}
	*f = flexInt{n: n, set: true}
	return nil
}

// ptr returns the value, or nil when absent.
func (f flexInt) ptr() *int64 {
	if !f.set {
		return nil
	}
	n := f.n
	return &n
}

// flexUint is an id sent as a number or a numeric string.
type flexUint struct{ n uint64 }

func (f *flexUint) UnmarshalJSON(b []byte) error {
	s, ok, err := scalar(b)
	if err != nil || !ok {
		*f = flexUint{}
		return err
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("paystack: id %q is not an unsigned integer", s)
	}
	f.n = n
	return nil
}

// flexFloat is a number sent as a number or a numeric string.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s, ok, err := scalar(b)
	if err != nil || !ok {
		*f = 0
		return err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("paystack: %q is not a number", s)
	}
	*f = flexFloat(v)
	return nil
}

// flexString is a string that may be null, the string "null" or a number.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	s, ok, err := scalar(b)
	if err != nil || !ok || s == "null" {
		*f = ""
		return err
	}
	*f = flexString(s)
	return nil
}

// flexTime is an ISO-8601 timestamp that may be null or "".
type flexTime struct{ t *time.Time }

func (f *flexTime) UnmarshalJSON(b []byte) error {
	s, ok, err := scalar(b)
	if err != nil || !ok || s == "null" {
		*f = flexTime{}
		return err
	}
	t, err := parseTime(s)
	if err != nil {
		return err
	}
	f.t = &t
	return nil
}

// firstTime returns the first of ts that is set.
func firstTime(ts ...flexTime) *time.Time {
	for _, t := range ts {
		if t.t != nil {
			return t.t
		}
	}
	return nil
}

// scalar returns the text of a JSON number or string. ok is false for null,
// "" and objects or arrays that stand for "nothing" ({} and []).
func scalar(b []byte) (s string, ok bool, err error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null" || string(b) == "{}" || string(b) == "[]":
		return "", false, nil
	case b[0] == '"':
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
		s = strings.TrimSpace(s)
		return s, s != "", nil
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		return string(b), true, nil
	case string(b) == "true" || string(b) == "false":
		return string(b), true, nil
	}
	return "", false, fmt.Errorf("paystack: expected a number or string, got %.20s", b)
}

// parseInt accepts integers and integral numbers in float notation
// ("20000", "2e4", "20000.0"); fractions are errors, never rounded.
func parseInt(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("paystack: %q is not an integer amount", s)
	}
	return int64(f), nil
}

// timeLayouts are the timestamp shapes seen in Paystack material.
var timeLayouts = []string{
	time.RFC3339Nano, // 2024-08-22T09:15:02.000Z
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("paystack: unrecognised timestamp %q", s)
}

// decodeMetadata returns metadata sent as an object or as a string holding
// a JSON object; anything else (null, "", 0, a plain string) is no metadata.
// It never fails: metadata is the merchant's own data and must not stop a
// payment from being verified.
func decodeMetadata(raw json.RawMessage) map[string]any {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		raw = bytes.TrimSpace([]byte(s))
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// isEmptyJSON reports whether raw is absent or null.
func isEmptyJSON(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}
