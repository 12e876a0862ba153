package ticketing

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an application error. The HTTP layer maps each kind to one
// status code in exactly one place; nothing else looks at status codes.
type Kind int

// Error kinds returned by the services of this module.
const (
	KindInternal         Kind = iota // unexpected failure; clients see "Internal Server Error"
	KindInvalid                      // malformed or invalid input (400)
	KindUnauthorized                 // missing or bad credentials (401)
	KindForbidden                    // authenticated but not allowed (403)
	KindNotFound                     // missing, or belongs to another tenant (404)
	KindConflict                     // state or uniqueness conflict (409)
	KindUnprocessable                // well-formed but not possible now (422)
	KindTooManyRequests              // rate limited (429)
	KindUnavailable                  // a dependency is down (503)
	KindUnsupportedMedia             // a body in a format the API does not read (415)
)

// Machine-readable codes shared by several packages. Packages may use their own
// more specific codes (for example SOLD_OUT) with the same kinds.
const (
	CodeInternal        = "INTERNAL"
	CodeValidation      = "VALIDATION_FAILED"
	CodeUnauthorized    = "UNAUTHORIZED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeConflict        = "CONFLICT"
	CodeTenantNotFound  = "TENANT_NOT_FOUND"
	CodeSlugTaken       = "SLUG_TAKEN"
	CodeDomainTaken     = "DOMAIN_TAKEN"
	CodeTooManyRequests = "TOO_MANY_REQUESTS"
	CodeUnavailable     = "UNAVAILABLE"
)

// Error is the one application error type. Messages are safe to show to the
// client; Err, when set, is the underlying cause and is only logged.
type Error struct {
	Kind     Kind
	Code     string
	Messages []string
	Err      error
	// Details are machine-readable facts of the error (a limit and what
	// the caller already has), shown as "details"; nil for most errors.
	Details map[string]any
}

// Error implements the error interface.
func (e *Error) Error() string {
	msg := strings.Join(e.Messages, "; ")
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, msg, e.Err)
	}
	return e.Code + ": " + msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an application error of the given kind and code with one
// formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Messages: []string{fmt.Sprintf(format, args...)}}
}

// NotFound returns a KindNotFound error naming what was not found.
func NotFound(what string) *Error {
	return Errorf(KindNotFound, CodeNotFound, "%s not found", what)
}

// Internal wraps an unexpected error. Its cause is logged, never shown.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Code: CodeInternal, Messages: []string{"Internal Server Error"}, Err: err}
}

// AsError returns the application error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// ErrorKind returns the kind of err; any non-application error is internal.
func ErrorKind(err error) Kind {
	if e := AsError(err); e != nil {
		return e.Kind
	}
	return KindInternal
}

// Problems collects validation messages for one input, so a client sees every
// problem at once rather than one per round trip, up to MaxProblems of them:
// an input with thousands of bad entries gets a bounded answer.
type Problems []string

// MaxProblems bounds the messages one input's Problems lists.
const MaxProblems = 50

// Addf records a problem when cond is true.
func (p *Problems) Addf(cond bool, format string, args ...any) {
	switch {
	case !cond:
	case len(*p) < MaxProblems:
		*p = append(*p, fmt.Sprintf(format, args...))
	case len(*p) == MaxProblems:
		*p = append(*p, fmt.Sprintf("and more problems: only the first %d are listed", MaxProblems))
	}
}

// Err returns nil when there are no problems, else a KindInvalid error.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Code: CodeValidation, Messages: p}
}
