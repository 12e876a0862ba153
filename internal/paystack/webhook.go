package paystack

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// SignatureHeader is the header carrying a webhook's signature.
const SignatureHeader = "x-paystack-signature"

// Webhook events this package knows the data of. Paystack sends webhooks
// only for successful charges, not for failed or abandoned ones.
const (
	EventChargeSuccess     = "charge.success"
	EventRefundPending     = "refund.pending"
	EventRefundProcessing  = "refund.processing"
	EventRefundProcessed   = "refund.processed"
	EventRefundFailed      = "refund.failed"
	EventRefundNeedsAction = "refund.needs-attention"
)

// Sign returns the x-paystack-signature value for body: the lowercase hex
// HMAC-SHA512 of the exact bytes, keyed with the secret key.
func Sign(secretKey string, body []byte) string {
	m := hmac.New(sha512.New, []byte(secretKey))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether signature (the x-paystack-signature
// header) is the HMAC-SHA512 of the exact raw body under secretKey. Pass the
// bytes as received: a re-encoded body does not necessarily hash the same.
// The comparison takes constant time.
func VerifySignature(secretKey string, body []byte, signature string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(got) != sha512.Size || secretKey == "" {
		return false
	}
	m := hmac.New(sha512.New, []byte(secretKey))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// Event is a webhook payload: {"event": "...", "data": {...}}. Paystack
// gives events no id; deduplicate on Name and the data's reference.
type Event struct {
	// Name is the event type, e.g. "charge.success".
	Name string `json:"event"`
	// Data is the raw event data; decode it with Transaction or Refund.
	Data json.RawMessage `json:"data"`
}

// ParseEvent checks the signature of a webhook body and decodes it. It
// returns ErrBadSignature, without looking at the body, when the signature
// does not match.
func ParseEvent(secretKey string, body []byte, signature string) (*Event, error) {
	if !VerifySignature(secretKey, body, signature) {
		return nil, ErrBadSignature
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("paystack: decode webhook: %w", err)
	}
	if e.Name == "" {
		return nil, fmt.Errorf("paystack: decode webhook: no event name")
	}
	return &e, nil
}

// Transaction decodes the data of a charge.* event.
func (e *Event) Transaction() (*Transaction, error) {
	var t Transaction
	if err := json.Unmarshal(e.Data, &t); err != nil {
		return nil, fmt.Errorf("paystack: decode %s data: %w", e.Name, err)
	}
	return &t, nil
}

// Refund decodes the data of a refund.* event.
func (e *Event) Refund() (*Refund, error) {
	var r Refund
	if err := json.Unmarshal(e.Data, &r); err != nil {
		return nil, fmt.Errorf("paystack: decode %s data: %w", e.Name, err)
	}
	return &r, nil
}
