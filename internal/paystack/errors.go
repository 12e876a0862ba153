package paystack

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Errors returned by this package besides *APIError and wrapped network
// errors.
var (
	// ErrBadSignature is returned by ParseEvent when the
	// x-paystack-signature header does not match the body.
	ErrBadSignature = errors.New("paystack: bad webhook signature")
)

// APIError is an answer from Paystack that reports a failure: an HTTP
// status of 400 or more, or an envelope whose status is false.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is Paystack's message, e.g. "Duplicate Transaction
	// Reference", or the HTTP status text when the body was not a Paystack
	// envelope (a proxy's error page, say).
	Message string
	// Type and Code are set by newer Paystack errors only, e.g.
	// "validation_error" and "duplicate_reference".
	Type, Code string
	// NextStep is Paystack's meta.nextStep hint, when present.
	NextStep string
	// Op is the request, e.g. "GET /transaction/verify/ref-1".
	Op string

	// fromPaystack is true when the body was a Paystack envelope, so that
	// a 404 from a misconfigured base URL is not mistaken for an unknown
	// reference.
	fromPaystack bool
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("paystack: %s: HTTP %d: %s", e.Op, e.StatusCode, e.Message)
}

// IsNotFound reports whether err says the requested transaction, refund or
// other entity does not exist: a 404 envelope from Paystack, or a 400 whose
// message says "not found" (the reference notes Paystack has used both for
// "Transaction reference not found").
func IsNotFound(err error) bool {
	var e *APIError
	if !errors.As(err, &e) || !e.fromPaystack {
		return false
	}
	switch e.StatusCode {
	case http.StatusNotFound:
		return true
	case http.StatusBadRequest:
		return strings.Contains(strings.ToLower(e.Message), "not found")
	}
	return false
}

// IsDuplicateReference reports whether err is Paystack refusing to
// initialize a transaction whose reference was already used. After a
// timed-out Initialize this usually means the first attempt succeeded:
// verify the reference rather than treat the payment as failed.
func IsDuplicateReference(err error) bool {
	var e *APIError
	if !errors.As(err, &e) || !e.fromPaystack {
		return false
	}
	return e.Code == "duplicate_reference" ||
		strings.EqualFold(e.Message, "Duplicate Transaction Reference")
}

// IsRejected reports whether Paystack refused a request on its merits (a 4xx
// answer of its own other than 404 and 429): asking again the same way will
// not succeed.
func IsRejected(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.fromPaystack && e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusNotFound && e.StatusCode != http.StatusTooManyRequests
}
