// Package paystack is a small typed client for the parts of the Paystack API
// that ticketd uses: initialize and verify transactions, list transactions,
// refunds and subaccounts, plus webhook signature checks.
//
// The client is deliberately lenient when decoding: Paystack's responses
// drift between documented shapes (metadata as an object, a JSON string, ""
// or null; amounts as numbers or numeric strings; nullable fees and paid_at),
// and a payment must not fail to verify because of such drift. See
// shared/reference/paystack-api.md for the facts this package follows.
//
// The secret key is sent only in the Authorization header; it never appears
// in errors, logs or the client's string form.
package paystack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// DefaultBaseURL is Paystack's API endpoint.
const DefaultBaseURL = "https://api.paystack.co"

// Defaults used by New when no option overrides them.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultRetries    = 2
	defaultBackoffMin = 200 * time.Millisecond
	defaultBackoffMax = 2 * time.Second
	// maxBody bounds how much of a response the client reads; Paystack's
	// largest documented responses are a few kilobytes per item.
	maxBody = 8 << 20
)

// Client calls the Paystack API with one secret key. It is safe for
// concurrent use.
type Client struct {
	baseURL    string
	key        string
	hc         *http.Client
	timeout    time.Duration
	retries    int
	backoffMin time.Duration
	backoffMax time.Duration
	// cleartextLive is set when a live key would go over plain HTTP;
	// requests then fail instead of exposing the key.
	cleartextLive bool
	// tracing, when set, traces every request (WithTracing).
	tracing trace.TracerProvider
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send requests through hc instead of a
// dedicated http.Client. The client never modifies hc.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithTimeout bounds each attempt of a request (connect, send, wait and read
// the response). Zero or negative disables the per-attempt bound; the
// caller's context still applies.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithRetries sets how many times a request is retried after a network
// error. GET requests (verify, list, fetch) are idempotent and are retried
// after any network error and after 502, 503 and 504 answers. POST requests
// (initialize, refund, create subaccount) are retried only when the
// connection could not be established, because a POST that reached Paystack
// may have taken effect. No other answer from Paystack is ever retried.
func WithRetries(n int) Option {
	return func(c *Client) { c.retries = max(n, 0) }
}

// WithBackoff sets the exponential backoff between retries: the first wait
// is about first, each further wait doubles, capped at ceiling. Waits are jittered
// to between half and all of their nominal length.
func WithBackoff(first, ceiling time.Duration) Option {
	return func(c *Client) { c.backoffMin, c.backoffMax = first, ceiling }
}

// New returns a client for the API at baseURL (DefaultBaseURL when empty)
// that authenticates with secretKey (sk_test_... or sk_live_...). A live
// key is only ever sent over HTTPS: with an http:// base URL every request
// fails.
func New(baseURL, secretKey string, opts ...Option) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	c := &Client{
		baseURL:    strings.TrimRight(baseURL, "/"),
		key:        secretKey,
		hc:         &http.Client{},
		timeout:    DefaultTimeout,
		retries:    DefaultRetries,
		backoffMin: defaultBackoffMin,
		backoffMax: defaultBackoffMax,
	}
	for _, o := range opts {
		o(c)
	}
	if c.tracing != nil {
		c.hc = traced(c.hc, c.tracing)
	}
	c.cleartextLive = strings.HasPrefix(secretKey, "sk_live_") && !strings.HasPrefix(c.baseURL, "https://")
	return c
}

// String describes the client without its secret key.
func (c *Client) String() string {
	return fmt.Sprintf("paystack.Client{baseURL: %q, key: %s}", c.baseURL, maskKey(c.key))
}

// GoString is String, so that %#v does not print the secret key either.
func (c *Client) GoString() string { return c.String() }

// maskKey keeps the mode prefix of a key (sk_test_, sk_live_), which is
// useful when diagnosing test/live mix-ups, and hides the rest.
func maskKey(k string) string {
	for _, p := range []string{"sk_test_", "sk_live_"} {
		if strings.HasPrefix(k, p) {
			return p + "xxxxx"
		}
	}
	return "xxxxx"
}

// Initialize creates a transaction and returns the checkout URL to send the
// customer to.
func (c *Client) Initialize(ctx context.Context, req InitializeRequest) (*Authorization, error) {
	var out Authorization
	if err := c.do(ctx, http.MethodPost, "/transaction/initialize", nil, req, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// Verify returns the transaction with the given reference. A successful call
// says nothing about the payment: check Transaction.Status, Amount and
// Currency. An unknown reference yields an error for which IsNotFound is
// true.
func (c *Client) Verify(ctx context.Context, reference string) (*Transaction, error) {
	if reference == "" {
		// Paystack answers an empty reference with a confusing 400
		// "Transaction ID should be numeric.".
		return nil, errors.New("paystack: verify: empty reference")
	}
	var out Transaction
	if err := c.do(ctx, http.MethodGet, "/transaction/verify/"+url.PathEscape(reference), nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTransactions returns one page of transactions matching opts, newest
// first, with the pagination meta Paystack sent.
func (c *Client) ListTransactions(ctx context.Context, opts ListOptions) ([]Transaction, *Meta, error) {
	q := url.Values{}
	if !opts.From.IsZero() {
		q.Set("from", formatTime(opts.From))
	}
	if !opts.To.IsZero() {
		q.Set("to", formatTime(opts.To))
	}
	if opts.PerPage > 0 {
		q.Set("perPage", strconv.Itoa(opts.PerPage))
	}
	if opts.Page > 0 {
		q.Set("page", strconv.Itoa(opts.Page))
	}
	if opts.Status != "" {
		q.Set("status", opts.Status)
	}
	var out []Transaction
	var meta Meta
	if err := c.do(ctx, http.MethodGet, "/transaction", q, nil, &out, &meta); err != nil {
		return nil, nil, err
	}
	return out, &meta, nil
}

// Refund asks Paystack to refund all (Amount 0) or part of a successful
// transaction. The returned refund is usually still "pending".
func (c *Client) Refund(ctx context.Context, req RefundRequest) (*Refund, error) {
	var out Refund
	if err := c.do(ctx, http.MethodPost, "/refund", nil, req, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// FetchRefund returns the refund with the given id.
func (c *Client) FetchRefund(ctx context.Context, id string) (*Refund, error) {
	if id == "" {
		return nil, errors.New("paystack: fetch refund: empty id")
	}
	var out Refund
	if err := c.do(ctx, http.MethodGet, "/refund/"+url.PathEscape(id), nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateSubaccount creates a subaccount that receives the organizer's share
// of split payments.
func (c *Client) CreateSubaccount(ctx context.Context, req SubaccountRequest) (*Subaccount, error) {
	var out Subaccount
	if err := c.do(ctx, http.MethodPost, "/subaccount", nil, req, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// envelope is the {status, message, data} wrapper of every response. Error
// bodies may add meta.nextStep, type and code; list bodies add pagination
// meta.
type envelope struct {
	Status  json.RawMessage `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Meta    json.RawMessage `json:"meta"`
	Type    string          `json:"type"`
	Code    string          `json:"code"`
}

// ok reports whether the envelope's status is true; the docs show it both
// as a boolean and as the string "false".
func (e *envelope) ok() bool {
	s := string(bytes.TrimSpace(e.Status))
	return s == "true" || s == `"true"`
}

// response is what one attempt read from the server.
type response struct {
	status int
	body   []byte
}

// do sends the request, retrying as described at WithRetries, and decodes
// the envelope's data into out and its meta into meta (when not nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any, meta *Meta) error {
	op := method + " " + path
	if c.cleartextLive {
		return fmt.Errorf("paystack: %s: refusing to send a live secret key over plain HTTP", op)
	}
	var payload []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("paystack: %s: encode request: %w", op, err)
		}
		payload = b
	}
	u := c.baseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	idempotent := method == http.MethodGet
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, method, u, payload)
		retry := false
		switch {
		case err != nil:
			retry = ctx.Err() == nil && (idempotent || notSent(err))
		case idempotent:
			retry = resp.status == http.StatusBadGateway ||
				resp.status == http.StatusServiceUnavailable ||
				resp.status == http.StatusGatewayTimeout
		}
		if retry && attempt < c.retries {
			if werr := c.wait(ctx, attempt); werr != nil {
				return fmt.Errorf("paystack: %s: %w", op, werr)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("paystack: %s: %w", op, err)
		}
		return decode(op, resp, out, meta)
	}
}

// attempt sends one request and reads the whole response within the
// per-attempt timeout.
func (c *Client) attempt(ctx context.Context, method, u string, payload []byte) (*response, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ticketd-paystack")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return &response{status: res.StatusCode, body: b}, nil
}

// notSent reports whether err proves the request never left this process:
// the connection (or the DNS lookup before it) failed. Anything later, even
// a timeout, may mean the server received it.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// wait sleeps the jittered backoff before retry number attempt+1.
func (c *Client) wait(ctx context.Context, attempt int) error {
	d := c.backoffMin << min(attempt, 20)
	if d > c.backoffMax || d <= 0 {
		d = c.backoffMax
	}
	if d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decode turns a response into data or an *APIError.
func decode(op string, resp *response, out any, meta *Meta) error {
	var env envelope
	jsonErr := json.Unmarshal(resp.body, &env)
	if resp.status >= 400 || jsonErr != nil || !env.ok() {
		if jsonErr != nil && resp.status < 400 {
			return fmt.Errorf("paystack: %s: HTTP %d: response is not a Paystack envelope: %w", op, resp.status, jsonErr)
		}
		e := &APIError{StatusCode: resp.status, Op: op, Message: http.StatusText(resp.status)}
		if jsonErr == nil && env.Message != "" {
			e.Message, e.Type, e.Code, e.fromPaystack = env.Message, env.Type, env.Code, true
			var m struct {
				NextStep string `json:"nextStep"`
			}
			if json.Unmarshal(env.Meta, &m) == nil {
				e.NextStep = m.NextStep
			}
		}
		return e
	}
	if out != nil && len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("paystack: %s: decode data: %w", op, err)
		}
	}
	if meta != nil && len(env.Meta) > 0 && string(env.Meta) != "null" {
		if err := json.Unmarshal(env.Meta, meta); err != nil {
			return fmt.Errorf("paystack: %s: decode meta: %w", op, err)
		}
	}
	return nil
}

// formatTime renders t as Paystack's timestamps are written,
// e.g. 2024-08-22T09:15:02.000Z.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
