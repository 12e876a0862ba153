// Package paystacksim is a local simulator of the Paystack API for
// development and tests. It speaks the same HTTP API as Paystack for
// initialize, verify, list and fetch transactions, refunds and subaccounts,
// serves a checkout page at each authorization_url where a person or a test
// chooses success, decline or abandonment, redirects to the callback URL and
// sends signed webhooks with retries. Fault switches make it answer 5xx,
// answer slowly, and drop, duplicate or delay webhooks.
//
// Behaviour follows shared/reference/paystack-api.md. Where that document
// says Paystack's exact message or status is unconfirmed, the simulator
// picks a plausible one; those places are marked "sim-defined".
package paystacksim

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ticketd-io/ticketd/internal/paystack"
)

// DefaultRetrySchedule is the wait before each webhook retry: Paystack's
// schedule (every 3 minutes, then hourly) compressed for development.
var DefaultRetrySchedule = []time.Duration{
	100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 5 * time.Second,
}

// Defaults applied by New.
const (
	// DefaultWebhookTimeout is Paystack's documented per-attempt timeout.
	DefaultWebhookTimeout = 30 * time.Second
	DefaultRefundDelay    = 200 * time.Millisecond
	DefaultLateDelay      = 3 * time.Second
	DefaultCurrency       = "NGN"
)

// Webhook timings for Faults.WebhookTiming.
const (
	// TimingBeforeRedirect delivers the first attempt of a charge webhook,
	// and waits for the receiver's answer, before the buyer is redirected.
	TimingBeforeRedirect = "before-redirect"
	// TimingAfterRedirect (the default) delivers it once the redirect has
	// been sent.
	TimingAfterRedirect = "after-redirect"
	// TimingLate delivers it Faults.LateDelay after the redirect.
	TimingLate = "late"
)

// Config configures a Sim. Only SecretKey and WebhookURL matter in most
// uses.
type Config struct {
	// SecretKey is the only bearer key accepted. When empty, any key that
	// starts with "sk_test_" is accepted and webhooks about a transaction
	// are signed with the key that created it.
	SecretKey string
	// PublicURL is the base URL the simulator is reachable at, used to build
	// authorization_url. When empty it is derived from each request's Host.
	PublicURL string
	// WebhookURL receives signed webhooks; none are sent when empty.
	WebhookURL string
	// HTTPClient sends webhooks; http.DefaultClient's equivalent when nil.
	// Each attempt is bounded by WebhookTimeout.
	HTTPClient *http.Client
	// Now is the clock for timestamps (created_at, paid_at) and the list
	// filters; time.Now when nil. Waits always use real time.
	Now func() time.Time
	// RetrySchedule is the wait before each webhook retry; a webhook is
	// retried until it is answered with 200 or the schedule ends. Nil means
	// DefaultRetrySchedule; an empty, non-nil slice means no retries.
	RetrySchedule []time.Duration
	// WebhookTimeout bounds each webhook attempt; DefaultWebhookTimeout
	// when zero.
	WebhookTimeout time.Duration
	// RefundDelay is how long a refund stays pending before it is
	// processed; DefaultRefundDelay when zero.
	RefundDelay time.Duration
	// Currency is the integration's currency, used when initialize names
	// none; DefaultCurrency when empty.
	Currency string
	// Logger receives a line per webhook attempt and checkout outcome;
	// nothing is logged when nil. The secret key is never logged.
	Logger *slog.Logger
}

// Faults are the fault switches. The zero value means no faults.
type Faults struct {
	// ServerErrors makes the next N API calls answer ServerErrorStatus
	// (500 when zero) without doing anything, then recover.
	ServerErrors      int
	ServerErrorStatus int
	// Latency is added to every API response.
	Latency time.Duration
	// DropWebhooks makes the simulator never deliver webhooks.
	DropWebhooks bool
	// DuplicateWebhooks delivers each webhook this many extra times, each
	// copy with its own retries.
	DuplicateWebhooks int
	// WebhookTiming is one of the Timing constants; TimingAfterRedirect
	// when empty.
	WebhookTiming string
	// LateDelay is the delay of TimingLate; DefaultLateDelay when zero.
	LateDelay time.Duration
	// RejectRefunds makes the next N refund requests answer 400 (as
	// Paystack refusing a refund on its merits) without creating one.
	RejectRefunds int
	// FailRefunds makes the next N refunds created end failed instead of
	// processed (pending, processing, then failed, with refund.failed);
	// their amount can be refunded again.
	FailRefunds int
}

// Delivery is one webhook attempt, for tests and debugging.
type Delivery struct {
	Event     string
	Reference string
	// Copy is 0 for the original webhook and 1.. for duplicates.
	Copy int
	// Attempt counts from 1 within a copy.
	Attempt int
	// StatusCode is the receiver's answer, 0 when there was none.
	StatusCode int
	// Err describes a failed attempt without an answer.
	Err string
	// At is the wall-clock time the attempt finished.
	At time.Time
}

// Sim is the simulator. It is an http.Handler and safe for concurrent use.
type Sim struct {
	cfg      Config
	mux      *http.ServeMux
	hc       *http.Client
	now      func() time.Time
	log      *slog.Logger
	schedule []time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	faults      Faults
	txs         []*txn
	byRef       map[string]*txn
	byCode      map[string]*txn
	byID        map[uint64]*txn
	customers   map[string]*customer
	refunds     map[uint64]*refund
	subaccounts map[string]*subaccount
	nextID      uint64
	deliveries  []Delivery
	busy        int
	idle        []chan struct{}
}

// New returns a simulator; call Close to stop its background work.
func New(cfg Config) *Sim {
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = DefaultWebhookTimeout
	}
	if cfg.RefundDelay <= 0 {
		cfg.RefundDelay = DefaultRefundDelay
	}
	if cfg.Currency == "" {
		cfg.Currency = DefaultCurrency
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Sim{
		cfg:         cfg,
		hc:          cfg.HTTPClient,
		now:         cfg.Now,
		log:         cfg.Logger,
		schedule:    cfg.RetrySchedule,
		byRef:       map[string]*txn{},
		byCode:      map[string]*txn{},
		byID:        map[uint64]*txn{},
		customers:   map[string]*customer{},
		refunds:     map[uint64]*refund{},
		subaccounts: map[string]*subaccount{},
		// Paystack's sample id 4099260516 already overflows an int32; ids
		// start above 2^32 so that clients storing them in any 32-bit
		// integer fail in tests.
		nextID: 1<<32 + 4099260516,
	}
	if s.hc == nil {
		s.hc = &http.Client{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.schedule == nil {
		s.schedule = DefaultRetrySchedule
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	return s
}

func (s *Sim) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /transaction/initialize", s.api(s.initialize))
	s.mux.HandleFunc("GET /transaction/verify/{reference}", s.api(s.verify))
	s.mux.HandleFunc("GET /transaction/verify/{$}", s.api(s.verifyEmpty))
	s.mux.HandleFunc("GET /transaction/{id}", s.api(s.fetchTransaction))
	s.mux.HandleFunc("GET /transaction", s.api(s.listTransactions))
	s.mux.HandleFunc("POST /refund", s.api(s.createRefund))
	s.mux.HandleFunc("GET /refund/{id}", s.api(s.fetchRefund))
	s.mux.HandleFunc("POST /subaccount", s.api(s.createSubaccount))
	s.mux.HandleFunc("GET /checkout/{code}", s.checkoutPage)
	s.mux.HandleFunc("POST /checkout/{code}", s.checkoutSubmit)
	s.mux.HandleFunc("GET /_sim/faults", s.getFaults)
	s.mux.HandleFunc("POST /_sim/faults", s.postFaults)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	})
}

// ServeHTTP serves the API, the checkout pages and the admin endpoint
// /_sim/faults (GET shows the faults, POST replaces them with a JSON Faults;
// durations as Go duration strings such as "250ms"). The admin endpoint
// needs no key: the simulator is for local use.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close stops webhook deliveries, retries and refund processing, and waits
// for them to return. The handler keeps answering.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// SetFaults replaces the fault switches.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Faults returns the current fault switches; ServerErrors counts down as
// API calls consume it.
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Transactions returns every transaction, oldest first, as the client
// decodes them from verify.
func (s *Sim) Transactions() []paystack.Transaction {
	s.mu.Lock()
	raws := make([][]byte, 0, len(s.txs))
	for _, t := range s.txs {
		b, err := json.Marshal(s.wireTransaction(t))
		if err != nil {
			panic(err) // the wire types always encode
		}
		raws = append(raws, b)
	}
	s.mu.Unlock()
	out := make([]paystack.Transaction, len(raws))
	for i, b := range raws {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			panic(fmt.Sprintf("paystacksim: the client cannot decode the simulator's transaction: %v", err))
		}
	}
	return out
}

// Refunds returns every refund created, oldest first, as the client
// decodes them from create refund (the transaction's reference included).
func (s *Sim) Refunds() []paystack.Refund {
	s.mu.Lock()
	ids := make([]uint64, 0, len(s.refunds))
	for id := range s.refunds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	raws := make([][]byte, 0, len(ids))
	for _, id := range ids {
		b, err := json.Marshal(s.wireRefund(s.refunds[id], true))
		if err != nil {
			panic(err) // the wire types always encode
		}
		raws = append(raws, b)
	}
	s.mu.Unlock()
	out := make([]paystack.Refund, len(raws))
	for i, b := range raws {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			panic(fmt.Sprintf("paystacksim: the client cannot decode the simulator's refund: %v", err))
		}
	}
	return out
}

// Deliveries returns every webhook attempt so far, in order.
func (s *Sim) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// WaitIdle returns once no background work is pending: webhook deliveries
// with their retries (late ones included) and refund processing. Tests use
// it instead of sleeping.
func (s *Sim) WaitIdle(ctx context.Context) error {
	s.mu.Lock()
	if s.busy == 0 {
		s.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	s.idle = append(s.idle, ch)
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// spawn runs f in the background once start is closed (at once when start
// is nil) and delay has passed, unless the simulator is closed first. The
// work counts for WaitIdle from the moment spawn returns, so callers
// schedule work before they answer the request that caused it. spawn
// reports whether f was scheduled.
func (s *Sim) spawn(start <-chan struct{}, delay time.Duration, f func(ctx context.Context)) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.busy++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer s.done()
		if start != nil {
			select {
			case <-start:
			case <-s.ctx.Done():
				return
			}
		}
		if sleep(s.ctx, delay) != nil {
			return
		}
		f(s.ctx)
	}()
	return true
}

// done marks one piece of background work finished.
func (s *Sim) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	if s.busy == 0 {
		for _, ch := range s.idle {
			close(ch)
		}
		s.idle = nil
	}
}

// api wraps an API handler with the faults and the bearer key check.
func (s *Sim) api(h func(w http.ResponseWriter, r *http.Request, key string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		latency, status := s.faults.Latency, 0
		if s.faults.ServerErrors > 0 {
			s.faults.ServerErrors--
			status = s.faults.ServerErrorStatus
			if status == 0 {
				status = http.StatusInternalServerError
			}
		}
		s.mu.Unlock()
		if sleep(r.Context(), latency) != nil {
			return
		}
		if status != 0 {
			writeError(w, status, "An error occurred while processing your request") // sim-defined
			return
		}
		key, ok := s.authorize(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "Invalid key")
			return
		}
		h(w, r, key)
	}
}

// authorize returns the bearer key when it is accepted.
func (s *Sim) authorize(r *http.Request) (string, bool) {
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	key = strings.TrimSpace(key)
	if !strings.EqualFold(scheme, "Bearer") || key == "" {
		return "", false
	}
	if s.cfg.SecretKey != "" {
		return key, subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.SecretKey)) == 1
	}
	return key, strings.HasPrefix(key, "sk_test_") && len(key) > len("sk_test_")
}

// signingKey is the key webhooks about t are signed with.
func (s *Sim) signingKey(t *txn) string {
	if s.cfg.SecretKey != "" {
		return s.cfg.SecretKey
	}
	return t.key
}

// publicURL is the base of authorization URLs.
func (s *Sim) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
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

// randomCode returns n random lowercase letters and digits, the shape of
// Paystack's access codes and generated references.
func randomCode(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// getFaults shows the fault switches.
func (s *Sim) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// postFaults replaces the fault switches with the JSON body.
func (s *Sim) postFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&f); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid faults: "+err.Error())
		return
	}
	if err := f.validate(); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid faults: "+err.Error())
		return
	}
	s.SetFaults(f)
	s.log.Info("paystacksim: faults set", "faults", fmt.Sprintf("%+v", f))
	writeJSON(w, http.StatusOK, f)
}

// validate rejects faults the admin endpoint should not accept.
func (f Faults) validate() error {
	switch f.WebhookTiming {
	case "", TimingBeforeRedirect, TimingAfterRedirect, TimingLate:
	default:
		return fmt.Errorf("webhookTiming must be %q, %q or %q", TimingBeforeRedirect, TimingAfterRedirect, TimingLate)
	}
	if f.ServerErrorStatus != 0 && (f.ServerErrorStatus < 500 || f.ServerErrorStatus > 599) {
		return fmt.Errorf("serverErrorStatus must be a 5xx status")
	}
	if f.ServerErrors < 0 || f.DuplicateWebhooks < 0 || f.Latency < 0 || f.LateDelay < 0 || f.RejectRefunds < 0 || f.FailRefunds < 0 {
		return fmt.Errorf("counts and durations must not be negative")
	}
	return nil
}

// faultsJSON is the admin endpoint's form of Faults, with durations as Go
// duration strings.
type faultsJSON struct {
	ServerErrors      int          `json:"serverErrors"`
	ServerErrorStatus int          `json:"serverErrorStatus,omitempty"`
	Latency           jsonDuration `json:"latency"`
	DropWebhooks      bool         `json:"dropWebhooks"`
	DuplicateWebhooks int          `json:"duplicateWebhooks"`
	WebhookTiming     string       `json:"webhookTiming,omitempty"`
	LateDelay         jsonDuration `json:"lateDelay"`
	RejectRefunds     int          `json:"rejectRefunds"`
	FailRefunds       int          `json:"failRefunds"`
}

// MarshalJSON encodes the faults with camelCase names and durations as
// strings ("250ms").
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		ServerErrors: f.ServerErrors, ServerErrorStatus: f.ServerErrorStatus,
		Latency: jsonDuration(f.Latency), DropWebhooks: f.DropWebhooks,
		DuplicateWebhooks: f.DuplicateWebhooks, WebhookTiming: f.WebhookTiming,
		LateDelay: jsonDuration(f.LateDelay), RejectRefunds: f.RejectRefunds, FailRefunds: f.FailRefunds,
	})
}

// UnmarshalJSON decodes what MarshalJSON encodes; durations may also be
// numbers of nanoseconds.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Faults{
		ServerErrors: j.ServerErrors, ServerErrorStatus: j.ServerErrorStatus,
		Latency: time.Duration(j.Latency), DropWebhooks: j.DropWebhooks,
		DuplicateWebhooks: j.DuplicateWebhooks, WebhookTiming: j.WebhookTiming,
		LateDelay: time.Duration(j.LateDelay), RejectRefunds: j.RejectRefunds, FailRefunds: j.FailRefunds,
	}
	return nil
}

// jsonDuration is a duration written as "1.5s" and read from that or from
// nanoseconds.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration must be a string like \"250ms\" or nanoseconds")
		}
		*d = jsonDuration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = jsonDuration(v)
	return nil
}

// errorBody is Paystack's error envelope; meta, type and code appear only
// on newer errors.
type errorBody struct {
	Status  bool      `json:"status"`
	Message string    `json:"message"`
	Meta    *nextStep `json:"meta,omitempty"`
	Type    string    `json:"type,omitempty"`
	Code    string    `json:"code,omitempty"`
}

type nextStep struct {
	NextStep string `json:"nextStep"`
}

// okBody is Paystack's success envelope.
type okBody struct {
	Status  bool   `json:"status"`
	Message string `json:"message"`
	Data    any    `json:"data"`
	Meta    any    `json:"meta,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeOK(w http.ResponseWriter, status int, message string, data any) {
	writeJSON(w, status, okBody{Status: true, Message: message, Data: data})
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody{Message: message})
}

// writeValidation writes a newer-style validation error.
func writeValidation(w http.ResponseWriter, message, code, next string) {
	writeJSON(w, http.StatusBadRequest, errorBody{
		Message: message, Meta: &nextStep{NextStep: next}, Type: "validation_error", Code: code,
	})
}
