package paystacksim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
)

const key = "sk_test_r3m3mb3r2pu70nasm1l3"

// hook is one webhook request as the receiver saw it.
type hook struct {
	body  []byte
	sig   string // the x-paystack-signature header
	sigOK bool   // sig verifies with key
	at    time.Time
}

func (h hook) event(t *testing.T) *paystack.Event {
	t.Helper()
	var ev paystack.Event
	if err := json.Unmarshal(h.body, &ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

// receiver is a real webhook endpoint. It answers the i-th request with
// statuses[i] (200 past the end) and, while gate is set, holds every answer
// until the gate is closed.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	hooks    []hook
	statuses []int
	gate     chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig := r.Header.Get("x-paystack-signature")
		sigOK := paystack.VerifySignature(key, body, sig)
		rc.mu.Lock()
		status := http.StatusOK
		if n := len(rc.hooks); n < len(rc.statuses) {
			status = rc.statuses[n]
		}
		rc.hooks = append(rc.hooks, hook{body: body, sig: sig, sigOK: sigOK, at: time.Now()})
		gate := rc.gate
		rc.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) answer(statuses ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.statuses = statuses
}

func (rc *receiver) hold() (release func()) {
	gate := make(chan struct{})
	rc.mu.Lock()
	rc.gate = gate
	rc.mu.Unlock()
	return sync.OnceFunc(func() { close(gate) })
}

// got returns the hooks received so far whose event is one of names (all
// when none).
func (rc *receiver) got(t *testing.T, names ...string) []hook {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hook
	for _, h := range rc.hooks {
		var ev struct{ Event string }
		json.Unmarshal(h.body, &ev)
		if len(names) == 0 || slices.Contains(names, ev.Event) {
			out = append(out, h)
		}
	}
	return out
}

type env struct {
	sim    *paystacksim.Sim
	srv    *httptest.Server
	hooks  *receiver
	client *paystack.Client
}

// newEnv starts a simulator on a real port with a webhook receiver and a
// client without retries.
func newEnv(t *testing.T, configure func(*paystacksim.Config)) *env {
	t.Helper()
	t.Parallel()
	e := &env{hooks: newReceiver(t)}
	e.srv = httptest.NewUnstartedServer(nil)
	cfg := paystacksim.Config{
		SecretKey:     key,
		PublicURL:     "http://" + e.srv.Listener.Addr().String(),
		WebhookURL:    e.hooks.URL,
		RetrySchedule: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond},
		RefundDelay:   40 * time.Millisecond,
	}
	if configure != nil {
		configure(&cfg)
	}
	e.sim = paystacksim.New(cfg)
	e.srv.Config.Handler = e.sim
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.sim.Close) // runs first: stops deliveries before the servers go
	e.client = e.newClient(paystack.WithRetries(0))
	return e
}

func (e *env) newClient(opts ...paystack.Option) *paystack.Client {
	return paystack.New(e.srv.URL, key, append([]paystack.Option{paystack.WithTimeout(5 * time.Second)}, opts...)...)
}

// initialize creates a transaction of amount NGN minor units.
func (e *env) initialize(t *testing.T, ref string, amount int64) *paystack.Authorization {
	t.Helper()
	auth, err := e.client.Initialize(context.Background(), paystack.InitializeRequest{
		Email: "buyer@example.com", Amount: amount, Currency: "NGN", Reference: ref,
		CallbackURL: "https://shop.example/v1/payments/callback",
	})
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

func (e *env) pay(t *testing.T, ref, outcome string) string {
	t.Helper()
	redirect, err := e.sim.Pay(context.Background(), ref, outcome)
	if err != nil {
		t.Fatal(err)
	}
	return redirect
}

func (e *env) verify(t *testing.T, ref string) *paystack.Transaction {
	t.Helper()
	tx, err := e.client.Verify(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func (e *env) waitIdle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.sim.WaitIdle(ctx); err != nil {
		t.Fatalf("simulator still busy: %v", err)
	}
}

// raw sends a request with the right key and returns status and body.
func (e *env) raw(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	return e.rawWithKey(t, key, method, path, body)
}

// rawWithKey is raw with another bearer key ("" sends no Authorization).
func (e *env) rawWithKey(t *testing.T, bearer, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
	}
	return res.StatusCode, m
}

// noRedirects is a browser that stops at the checkout's redirect.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// submit posts the checkout form like a browser and returns the answer.
func submit(t *testing.T, authorizationURL, outcome string) *http.Response {
	t.Helper()
	res, err := noRedirects.PostForm(authorizationURL, url.Values{"outcome": {outcome}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func apiError(t *testing.T, err error, status int, message string) *paystack.APIError {
	t.Helper()
	var ae *paystack.APIError
	if !errors.As(err, &ae) || ae.StatusCode != status || (message != "" && ae.Message != message) {
		t.Fatalf("err %v, want HTTP %d %q", err, status, message)
	}
	return ae
}

func TestCheckoutSuccessThenVerify(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	auth, err := e.client.Initialize(ctx, paystack.InitializeRequest{
		Email: "buyer@example.com", Amount: 500000, Currency: "NGN", Reference: "bk-42-1",
		CallbackURL: "https://shop.example/v1/payments/callback?src=ps",
		Metadata:    map[string]any{"tenant": "acme", "booking": "b-42"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if auth.Reference != "bk-42-1" || len(auth.AccessCode) != 15 ||
		auth.AuthorizationURL != e.srv.URL+"/checkout/"+auth.AccessCode {
		t.Fatalf("authorization %+v", auth)
	}

	// Before payment Paystack says abandoned: not paid yet, not final.
	tx := e.verify(t, "bk-42-1")
	if tx.Status != paystack.StatusAbandoned || tx.PaidAt != nil || tx.Fees != nil ||
		tx.GatewayResponse != "The transaction was not completed" || tx.Metadata["booking"] != "b-42" {
		t.Errorf("before payment: %+v", tx)
	}

	res, err := http.Get(auth.AuthorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), `name="outcome" value="success"`) ||
		!strings.Contains(string(page), "NGN 5000.00") {
		t.Errorf("checkout page %d:\n%s", res.StatusCode, page)
	}

	res = submit(t, auth.AuthorizationURL, "success")
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound ||
		loc != "https://shop.example/v1/payments/callback?src=ps&trxref=bk-42-1&reference=bk-42-1" {
		t.Errorf("checkout answered %d, Location %q", res.StatusCode, loc)
	}

	tx = e.verify(t, "bk-42-1")
	if tx.Status != paystack.StatusSuccess || tx.Amount != 500000 || tx.Currency != "NGN" ||
		tx.PaidAt == nil || tx.Fees == nil || *tx.Fees <= 0 || tx.Channel != "card" ||
		tx.GatewayResponse != "Successful" || tx.ID <= math.MaxUint32 || tx.Domain != "test" ||
		tx.Customer.Email != "buyer@example.com" || tx.Metadata["tenant"] != "acme" {
		t.Errorf("after payment: %+v", tx)
	}
	if got := e.sim.Transactions(); len(got) != 1 || !reflect.DeepEqual(got[0], *tx) {
		t.Errorf("Transactions() = %+v, want [%+v]", got, *tx)
	}

	e.waitIdle(t)
	hooks := e.hooks.got(t)
	if len(hooks) != 1 || !hooks[0].sigOK {
		t.Fatalf("%d webhooks (first signed correctly: %v)", len(hooks), len(hooks) > 0 && hooks[0].sigOK)
	}
	ev := hooks[0].event(t)
	wtx, err := ev.Transaction()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name != paystack.EventChargeSuccess || !reflect.DeepEqual(*wtx, *tx) {
		t.Errorf("webhook %s %+v, want verify's %+v", ev.Name, wtx, tx)
	}

	if res := submit(t, auth.AuthorizationURL, "decline"); res.StatusCode != http.StatusConflict {
		t.Errorf("second submission answered %d", res.StatusCode)
	}
	if tx := e.verify(t, "bk-42-1"); tx.Status != paystack.StatusSuccess {
		t.Errorf("a second submission changed the status to %s", tx.Status)
	}
}

func TestDeclineAndAbandon(t *testing.T) {
	e := newEnv(t, nil)
	e.initialize(t, "declined", 10000)
	e.initialize(t, "abandoned", 10000)

	if got := e.pay(t, "declined", paystacksim.OutcomeDecline); got !=
		"https://shop.example/v1/payments/callback?trxref=declined&reference=declined" {
		t.Errorf("decline redirect %q", got)
	}
	tx := e.verify(t, "declined")
	if tx.Status != paystack.StatusFailed || tx.GatewayResponse != "Declined" || tx.PaidAt != nil || tx.Fees != nil {
		t.Errorf("declined: %+v", tx)
	}
	e.pay(t, "abandoned", paystacksim.OutcomeAbandon)
	if tx := e.verify(t, "abandoned"); tx.Status != paystack.StatusAbandoned || tx.PaidAt != nil {
		t.Errorf("abandoned: %+v", tx)
	}
	e.waitIdle(t)
	if n := len(e.hooks.got(t)); n != 0 || len(e.sim.Deliveries()) != 0 {
		t.Errorf("%d webhooks for a decline and an abandonment; Paystack sends none", n)
	}

	// Abandoned is not final: the buyer may come back and pay.
	e.pay(t, "abandoned", paystacksim.OutcomeSuccess)
	if tx := e.verify(t, "abandoned"); tx.Status != paystack.StatusSuccess {
		t.Errorf("paid after abandoning: %+v", tx)
	}
	// Failed is final.
	if _, err := e.sim.Pay(context.Background(), "declined", paystacksim.OutcomeSuccess); !errors.Is(err, paystacksim.ErrCompleted) {
		t.Errorf("paying a failed transaction: %v", err)
	}
	if _, err := e.sim.Pay(context.Background(), "nope", paystacksim.OutcomeSuccess); !errors.Is(err, paystacksim.ErrUnknownTransaction) {
		t.Errorf("paying an unknown transaction: %v", err)
	}
	if _, err := e.sim.Pay(context.Background(), "abandoned", "maybe"); !errors.Is(err, paystacksim.ErrBadOutcome) {
		t.Errorf("unknown outcome: %v", err)
	}
	e.waitIdle(t)
	if n := len(e.hooks.got(t, paystack.EventChargeSuccess)); n != 1 {
		t.Errorf("%d charge.success webhooks, want 1", n)
	}
}

func TestInitializeValidation(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, body, message, code string
		status                    int
	}{
		{"amountAsString200", `{"email":"a@b.co","amount":"20000","reference":"s1"}`, "Authorization URL created", "", 200},
		{"metadataAsString200", `{"email":"a@b.co","amount":20000,"reference":"s2","metadata":"{\"booking\":\"b-1\"}"}`, "Authorization URL created", "", 200},
		{"missingEmail400", `{"amount":20000}`, "Email Address is required", "missing_params", 400},
		{"badEmail400", `{"email":"not-an-email","amount":20000}`, "Invalid Email Address Passed", "", 400},
		{"amountNotNumber400", `{"email":"a@b.co","amount":"abc"}`, "Invalid Amount Sent", "", 400},
		{"amountFraction400", `{"email":"a@b.co","amount":100.5}`, "Invalid Amount Sent", "", 400},
		{"amountZero400", `{"email":"a@b.co","amount":0}`, "You must specify a valid amount", "", 400},
		{"amountMissing400", `{"email":"a@b.co"}`, "You must specify a valid amount", "", 400},
		{"currency400", `{"email":"a@b.co","amount":20000,"currency":"EUR"}`, "Currency not supported by merchant", "", 400},
		{"referenceChars400", `{"email":"a@b.co","amount":20000,"reference":"bad ref!"}`, "Invalid character in transaction reference", "", 400},
		{"subaccount400", `{"email":"a@b.co","amount":20000,"subaccount":"XYZ"}`, "Invalid Subaccount", "", 400},
		{"chargeAboveAmount400", `{"email":"a@b.co","amount":20000,"subaccount":"ACCT_x","transaction_charge":30000}`, "Invalid Split transaction values", "", 400},
		{"duplicate400", `{"email":"a@b.co","amount":20000,"reference":"s1"}`, "Duplicate Transaction Reference", "duplicate_reference", 400},
		{"notJSON400", `email=a@b.co`, "", "", 400},
	} {
		status, body := e.raw(t, "POST", "/transaction/initialize", tc.body)
		if status != tc.status || (tc.message != "" && body["message"] != tc.message) ||
			(tc.code != "" && body["code"] != tc.code) || body["status"] != (status == 200) {
			t.Errorf("%s: %d %v", tc.name, status, body)
		}
	}
	if tx := e.verify(t, "s1"); tx.Amount != 20000 || tx.Currency != paystacksim.DefaultCurrency {
		t.Errorf("amount sent as a string: %+v", tx)
	}
	if tx := e.verify(t, "s2"); tx.Metadata["booking"] != "b-1" {
		t.Errorf("metadata sent as a JSON string: %+v", tx.Metadata)
	}

	// A generated reference has Paystack's shape.
	auth, err := e.client.Initialize(context.Background(), paystack.InitializeRequest{Email: "a@b.co", Amount: 5000})
	if err != nil || len(auth.Reference) != 10 {
		t.Errorf("generated reference %+v, %v", auth, err)
	}

	_, err = e.client.Initialize(context.Background(), paystack.InitializeRequest{Email: "a@b.co", Amount: 5000, Reference: "s1"})
	ae := apiError(t, err, 400, "Duplicate Transaction Reference")
	if !paystack.IsDuplicateReference(err) || paystack.IsNotFound(err) || ae.Code != "duplicate_reference" || ae.NextStep == "" {
		t.Errorf("duplicate: %+v", ae)
	}
}

func TestVerifyUnknownAndEmptyReference(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.client.Verify(context.Background(), "no-such-ref")
	apiError(t, err, 404, "Transaction reference not found")
	if !paystack.IsNotFound(err) {
		t.Errorf("IsNotFound(%v) = false", err)
	}
	status, body := e.raw(t, "GET", "/transaction/verify/", "")
	if status != 400 || body["message"] != "Transaction ID should be numeric." {
		t.Errorf("empty reference: %d %v", status, body)
	}
	status, body = e.raw(t, "GET", "/no/such/route", "")
	if status != 404 || body["status"] != false {
		t.Errorf("unknown route: %d %v", status, body)
	}
}

func TestWrongKey(t *testing.T) {
	e := newEnv(t, nil)
	e.initialize(t, "ref-1", 10000)
	c := paystack.New(e.srv.URL, "sk_test_other", paystack.WithRetries(0))
	_, err := c.Verify(context.Background(), "ref-1")
	apiError(t, err, 401, "Invalid key")
	if paystack.IsNotFound(err) || strings.Contains(err.Error(), "sk_test_other") {
		t.Errorf("wrong key: %v", err)
	}
	// The client refuses to send live keys over HTTP, so these go raw.
	for _, bearer := range []string{"sk_live_r3m3mb3r2pu70nasm1l3", "", "Bearer"} {
		status, body := e.rawWithKey(t, bearer, "GET", "/transaction/verify/ref-1", "")
		if status != 401 || body["status"] != false || body["message"] != "Invalid key" {
			t.Errorf("key %q: %d %v", bearer, status, body)
		}
	}
}

func TestAnyTestKeyWhenNoneConfigured(t *testing.T) {
	const own = "sk_test_someone_elses_key"
	e := newEnv(t, func(c *paystacksim.Config) { c.SecretKey = "" })
	c := paystack.New(e.srv.URL, own, paystack.WithRetries(0))
	if _, err := c.Initialize(context.Background(), paystack.InitializeRequest{Email: "a@b.co", Amount: 5000, Reference: "r"}); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"sk_live_x", "pk_test_x", "sk_test_"} {
		if status, _ := e.rawWithKey(t, other, "GET", "/transaction/verify/r", ""); status != 401 {
			t.Errorf("key %q: %d", other, status)
		}
	}
	e.pay(t, "r", paystacksim.OutcomeSuccess)
	e.waitIdle(t)
	hooks := e.hooks.got(t)
	if len(hooks) != 1 {
		t.Fatalf("%d webhooks", len(hooks))
	}
	if !paystack.VerifySignature(own, hooks[0].body, hooks[0].sig) || hooks[0].sigOK {
		t.Error("webhook not signed with the key that created the transaction")
	}
}

func TestServerErrorFault(t *testing.T) {
	e := newEnv(t, nil)
	e.initialize(t, "ref-1", 10000)
	retrying := e.newClient(paystack.WithRetries(3), paystack.WithBackoff(time.Millisecond, 5*time.Millisecond))
	ctx := context.Background()

	// 503 on a GET is retried by the client until the simulator recovers.
	e.sim.SetFaults(paystacksim.Faults{ServerErrors: 2, ServerErrorStatus: 503})
	if tx, err := retrying.Verify(ctx, "ref-1"); err != nil || tx.Reference != "ref-1" {
		t.Fatalf("verify through two 503s: %v", err)
	}
	if n := e.sim.Faults().ServerErrors; n != 0 {
		t.Errorf("%d server errors left", n)
	}

	// 500 is an answer: not retried, and the next call succeeds.
	e.sim.SetFaults(paystacksim.Faults{ServerErrors: 1})
	_, err := retrying.Verify(ctx, "ref-1")
	apiError(t, err, 500, "")
	if _, err := retrying.Verify(ctx, "ref-1"); err != nil {
		t.Errorf("after recovery: %v", err)
	}

	// A POST is never retried after an answer, even a 503.
	e.sim.SetFaults(paystacksim.Faults{ServerErrors: 2, ServerErrorStatus: 503})
	req := paystack.InitializeRequest{Email: "a@b.co", Amount: 5000, Reference: "ref-2"}
	_, err = retrying.Initialize(ctx, req)
	apiError(t, err, 503, "")
	if n := e.sim.Faults().ServerErrors; n != 1 {
		t.Errorf("initialize was sent %d times", 2-n)
	}
	e.sim.SetFaults(paystacksim.Faults{})
	if _, err := retrying.Initialize(ctx, req); err != nil {
		t.Errorf("initialize after recovery: %v", err)
	}
}

func TestLatencyFault(t *testing.T) {
	e := newEnv(t, nil)
	e.initialize(t, "ref-1", 10000)
	// A minute of latency: a client that waited it out would show, however
	// busy the machine.
	e.sim.SetFaults(paystacksim.Faults{Latency: time.Minute})
	impatient := e.newClient(paystack.WithTimeout(50*time.Millisecond), paystack.WithRetries(0))
	start := time.Now()
	_, err := impatient.Verify(context.Background(), "ref-1")
	if !errors.Is(err, context.DeadlineExceeded) || paystack.IsNotFound(err) {
		t.Errorf("err %v, want a timeout", err)
	}
	if time.Since(start) >= 30*time.Second {
		t.Errorf("the client waited out the latency: %v", time.Since(start))
	}
	e.sim.SetFaults(paystacksim.Faults{Latency: 30 * time.Millisecond})
	start = time.Now()
	if _, err := e.client.Verify(context.Background(), "ref-1"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Errorf("latency not applied: %v", time.Since(start))
	}
}

func TestWebhookRetriedUntil200(t *testing.T) {
	e := newEnv(t, nil)
	e.hooks.answer(500, 500)
	e.initialize(t, "ref-1", 10000)
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess)
	e.waitIdle(t)
	hooks := e.hooks.got(t)
	if len(hooks) != 3 {
		t.Fatalf("%d attempts, want 3", len(hooks))
	}
	for _, h := range hooks {
		if !h.sigOK || string(h.body) != string(hooks[0].body) {
			t.Errorf("retry differs from the first attempt or is badly signed: %s", h.body)
		}
	}
	var got []string
	for _, d := range e.sim.Deliveries() {
		got = append(got, fmt.Sprintf("%s %s #%d %d", d.Event, d.Reference, d.Attempt, d.StatusCode))
	}
	want := []string{"charge.success ref-1 #1 500", "charge.success ref-1 #2 500", "charge.success ref-1 #3 200"}
	if !slices.Equal(got, want) {
		t.Errorf("deliveries %q", got)
	}
}

func TestWebhookRetriesEndWithSchedule(t *testing.T) {
	e := newEnv(t, func(c *paystacksim.Config) {
		c.RetrySchedule = []time.Duration{5 * time.Millisecond, 5 * time.Millisecond}
	})
	e.hooks.answer(500, 503, 201, 500, 500)
	e.initialize(t, "ref-1", 10000)
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess)
	e.waitIdle(t)
	// 201 is not the 200 Paystack asks for, so all three attempts fail.
	if n := len(e.hooks.got(t)); n != 3 {
		t.Errorf("%d attempts, want 1 + 2 retries", n)
	}
}

func TestWebhookReceiverUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/hook"
	l.Close()
	e := newEnv(t, func(c *paystacksim.Config) { c.WebhookURL = dead })
	e.initialize(t, "ref-1", 10000)
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess)
	e.waitIdle(t)
	ds := e.sim.Deliveries()
	if len(ds) != 4 {
		t.Fatalf("%d attempts, want 1 + 3 retries", len(ds))
	}
	for _, d := range ds {
		if d.StatusCode != 0 || d.Err == "" {
			t.Errorf("delivery %+v", d)
		}
	}
}

func TestDuplicateWebhooks(t *testing.T) {
	e := newEnv(t, nil)
	e.sim.SetFaults(paystacksim.Faults{DuplicateWebhooks: 4})
	e.initialize(t, "ref-1", 10000)
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess)
	e.waitIdle(t)
	hooks := e.hooks.got(t)
	if len(hooks) != 5 {
		t.Fatalf("%d deliveries, want 5", len(hooks))
	}
	for _, h := range hooks {
		if !h.sigOK || string(h.body) != string(hooks[0].body) {
			t.Errorf("copy differs or is badly signed: %s", h.body)
		}
	}
	var copies []int
	for _, d := range e.sim.Deliveries() {
		copies = append(copies, d.Copy)
	}
	slices.Sort(copies)
	if !slices.Equal(copies, []int{0, 1, 2, 3, 4}) {
		t.Errorf("copies %v", copies)
	}
}

func TestDroppedWebhooks(t *testing.T) {
	e := newEnv(t, nil)
	e.sim.SetFaults(paystacksim.Faults{DropWebhooks: true})
	e.initialize(t, "ref-1", 10000)
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess)
	e.waitIdle(t)
	if n := len(e.hooks.got(t)); n != 0 {
		t.Errorf("%d webhooks delivered while dropping", n)
	}
	// Verify still tells the truth: reconciliation does not need webhooks.
	if tx := e.verify(t, "ref-1"); tx.Status != paystack.StatusSuccess {
		t.Errorf("status %s", tx.Status)
	}
}

func TestWebhookBeforeRedirect(t *testing.T) {
	e := newEnv(t, nil)
	e.sim.SetFaults(paystacksim.Faults{WebhookTiming: paystacksim.TimingBeforeRedirect})
	auth := e.initialize(t, "ref-1", 10000)
	res := submit(t, auth.AuthorizationURL, "success")
	// The receiver has answered by the time the browser is redirected.
	if n := len(e.hooks.got(t)); res.StatusCode != http.StatusFound || n != 1 {
		t.Errorf("redirect %d with %d webhooks received", res.StatusCode, n)
	}
}

func TestWebhookAfterRedirect(t *testing.T) {
	e := newEnv(t, nil)
	release := e.hooks.hold()
	defer release()
	auth := e.initialize(t, "ref-1", 10000)
	// The receiver holds its answer, so a simulator that waited for the
	// webhook before redirecting would block here.
	if res := submit(t, auth.AuthorizationURL, "success"); res.StatusCode != http.StatusFound {
		t.Errorf("checkout answered %d", res.StatusCode)
	}
	release()
	e.waitIdle(t)
	if n := len(e.hooks.got(t)); n != 1 {
		t.Errorf("%d webhooks", n)
	}
}

func TestWebhookLate(t *testing.T) {
	e := newEnv(t, nil)
	const delay = 150 * time.Millisecond
	e.sim.SetFaults(paystacksim.Faults{WebhookTiming: paystacksim.TimingLate, LateDelay: delay})
	e.initialize(t, "ref-1", 10000)
	paid := time.Now()
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess)
	e.waitIdle(t)
	hooks := e.hooks.got(t)
	if len(hooks) != 1 || hooks[0].at.Sub(paid) < delay {
		t.Errorf("%d webhooks, first %v after payment", len(hooks), hooks[0].at.Sub(paid))
	}
}

func TestCloseStopsRetries(t *testing.T) {
	e := newEnv(t, func(c *paystacksim.Config) { c.RetrySchedule = []time.Duration{time.Hour} })
	e.hooks.answer(500)
	e.sim.SetFaults(paystacksim.Faults{WebhookTiming: paystacksim.TimingBeforeRedirect})
	e.initialize(t, "ref-1", 10000)
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess) // returns after the first attempt
	start := time.Now()
	e.sim.Close()
	if time.Since(start) > 30*time.Second || len(e.sim.Deliveries()) != 1 { // not the hour of the retry
		t.Errorf("Close took %v; %d attempts", time.Since(start), len(e.sim.Deliveries()))
	}
	e.waitIdle(t)
}

func TestFullRefund(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.initialize(t, "ref-1", 500000)
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess)
	paid := e.verify(t, "ref-1")

	r, err := e.client.Refund(ctx, paystack.RefundRequest{Transaction: "ref-1", MerchantNote: "event cancelled"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != paystack.RefundPending || r.Amount != 500000 || r.TransactionReference != "ref-1" ||
		r.TransactionID != paid.ID || r.MerchantNote != "event cancelled" || r.Currency != "NGN" {
		t.Errorf("refund %+v", r)
	}
	e.waitIdle(t)
	got, err := e.client.FetchRefund(ctx, strconv.FormatUint(r.ID, 10))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != paystack.RefundProcessed || got.DeductedAmount != 500000 || !got.FullyDeducted ||
		got.RefundedAt == nil || got.TransactionID != paid.ID {
		t.Errorf("fetched refund %+v", got)
	}
	if tx := e.verify(t, "ref-1"); tx.Status != paystack.StatusReversed {
		t.Errorf("status after a full refund: %s", tx.Status)
	}
	_, err = e.client.Refund(ctx, paystack.RefundRequest{Transaction: "ref-1"})
	apiError(t, err, 400, "")

	var events []string
	for _, h := range e.hooks.got(t, paystack.EventRefundPending, paystack.EventRefundProcessing, paystack.EventRefundProcessed) {
		ev := h.event(t)
		rf, err := ev.Refund()
		if err != nil || !h.sigOK || rf.Amount != 500000 || rf.TransactionReference != "ref-1" || rf.Status != strings.TrimPrefix(ev.Name, "refund.") {
			t.Errorf("%s: %+v, %v", ev.Name, rf, err)
		}
		if ev.Name == paystack.EventRefundProcessed && rf.RefundReference == "" {
			t.Errorf("processed refund without a refund_reference")
		}
		events = append(events, ev.Name)
	}
	slices.Sort(events)
	if !slices.Equal(events, []string{"refund.pending", "refund.processed", "refund.processing"}) {
		t.Errorf("refund events %v", events)
	}
	// The amount of refund events is a string, as in Paystack's samples.
	h := e.hooks.got(t, paystack.EventRefundProcessed)[0]
	if !strings.Contains(string(h.body), `"amount":"500000"`) {
		t.Errorf("refund.processed body %s", h.body)
	}
}

func TestPartialRefunds(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.initialize(t, "ref-1", 500000)
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess)
	id := strconv.FormatUint(e.verify(t, "ref-1").ID, 10)

	// By transaction id this time.
	r1, err := e.client.Refund(ctx, paystack.RefundRequest{Transaction: id, Amount: 100000, Currency: "NGN"})
	if err != nil || r1.Amount != 100000 {
		t.Fatalf("partial refund %+v, %v", r1, err)
	}
	_, err = e.client.Refund(ctx, paystack.RefundRequest{Transaction: "ref-1", Amount: 450000})
	apiError(t, err, 400, "")
	_, err = e.client.Refund(ctx, paystack.RefundRequest{Transaction: "ref-1", Amount: 1000, Currency: "USD"})
	apiError(t, err, 400, "")
	e.waitIdle(t)
	if tx := e.verify(t, "ref-1"); tx.Status != paystack.StatusSuccess {
		t.Errorf("status after a partial refund: %s", tx.Status)
	}
	r2, err := e.client.Refund(ctx, paystack.RefundRequest{Transaction: "ref-1"})
	if err != nil || r2.Amount != 400000 {
		t.Fatalf("refund of the rest %+v, %v", r2, err)
	}
	e.waitIdle(t)
	if tx := e.verify(t, "ref-1"); tx.Status != paystack.StatusReversed {
		t.Errorf("status after refunding everything in two parts: %s", tx.Status)
	}
}

func TestRefundFaults(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.initialize(t, "ref-1", 500000)
	e.pay(t, "ref-1", paystacksim.OutcomeSuccess)

	// A rejected request creates nothing and takes nothing from the
	// transaction.
	e.sim.SetFaults(paystacksim.Faults{RejectRefunds: 1})
	_, err := e.client.Refund(ctx, paystack.RefundRequest{Transaction: "ref-1", Amount: 100000})
	if apiError(t, err, 400, ""); !paystack.IsRejected(err) || len(e.sim.Refunds()) != 0 {
		t.Fatalf("rejected refund: %v; %d refunds", err, len(e.sim.Refunds()))
	}
	// A failed refund ends failed, with refund.failed, and gives its amount
	// back: the whole transaction can then be refunded.
	e.sim.SetFaults(paystacksim.Faults{FailRefunds: 1})
	failed, err := e.client.Refund(ctx, paystack.RefundRequest{Transaction: "ref-1", Amount: 100000})
	if err != nil || failed.Status != paystack.RefundPending {
		t.Fatalf("refund to fail: %+v %v", failed, err)
	}
	e.waitIdle(t)
	if got, err := e.client.FetchRefund(ctx, strconv.FormatUint(failed.ID, 10)); err != nil || got.Status != paystack.RefundFailed {
		t.Fatalf("fetched failed refund: %+v %v", got, err)
	}
	if f := e.sim.Faults(); f.FailRefunds != 0 || f.RejectRefunds != 0 {
		t.Fatalf("faults not used up: %+v", f)
	}
	if h := e.hooks.got(t, paystack.EventRefundFailed); len(h) != 1 || !strings.Contains(string(h[0].body), `"amount":100000`) {
		t.Fatalf("refund.failed webhooks: %d", len(h))
	}
	whole, err := e.client.Refund(ctx, paystack.RefundRequest{Transaction: "ref-1"})
	if err != nil || whole.Amount != 500000 {
		t.Fatalf("refund of the whole transaction after a failed one: %+v %v", whole, err)
	}
	e.waitIdle(t)
	refunds := e.sim.Refunds()
	if len(refunds) != 2 || refunds[0].ID != failed.ID || refunds[0].Status != paystack.RefundFailed || refunds[0].TransactionReference != "ref-1" ||
		refunds[1].Status != paystack.RefundProcessed || refunds[1].Amount != 500000 {
		t.Fatalf("refunds %+v", refunds)
	}
	if tx := e.verify(t, "ref-1"); tx.Status != paystack.StatusReversed {
		t.Errorf("status after the whole transaction was refunded: %s", tx.Status)
	}
}

func TestRefundErrors(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.initialize(t, "unpaid", 10000)
	_, err := e.client.Refund(ctx, paystack.RefundRequest{Transaction: "unpaid"})
	apiError(t, err, 400, "")
	_, err = e.client.Refund(ctx, paystack.RefundRequest{Transaction: "nope"})
	if apiError(t, err, 404, ""); !paystack.IsNotFound(err) {
		t.Errorf("unknown transaction: %v", err)
	}
	if _, err := e.client.FetchRefund(ctx, "999"); !paystack.IsNotFound(err) {
		t.Errorf("unknown refund: %v", err)
	}
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestListTransactions(t *testing.T) {
	base := time.Date(2024, 8, 1, 9, 0, 0, 0, time.UTC)
	clk := &clock{t: base}
	e := newEnv(t, func(c *paystacksim.Config) { c.Now = clk.Now })
	ctx := context.Background()
	for i, at := range []time.Duration{0, time.Hour, 2 * time.Hour, 50 * time.Hour} {
		clk.Set(base.Add(at))
		e.initialize(t, fmt.Sprintf("t%d", i), int64(1000*(i+1)))
	}
	e.pay(t, "t1", paystacksim.OutcomeSuccess)
	e.pay(t, "t3", paystacksim.OutcomeSuccess)

	refs := func(txs []paystack.Transaction) []string {
		var out []string
		for _, tx := range txs {
			out = append(out, tx.Reference)
		}
		return out
	}
	txs, meta, err := e.client.ListTransactions(ctx, paystack.ListOptions{From: base.Add(30 * time.Minute), To: base.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := refs(txs); !slices.Equal(got, []string{"t2", "t1"}) || meta.Total != 2 || meta.TotalVolume != 5000 {
		t.Errorf("date range: %v %+v", got, meta)
	}
	if txs[1].Status != paystack.StatusSuccess || txs[1].CreatedAt != base.Add(time.Hour) {
		t.Errorf("listed t1: %+v", txs[1])
	}

	txs, _, err = e.client.ListTransactions(ctx, paystack.ListOptions{Status: paystack.StatusSuccess})
	if got := refs(txs); err != nil || !slices.Equal(got, []string{"t3", "t1"}) {
		t.Errorf("status filter: %v %v", got, err)
	}

	txs, meta, err = e.client.ListTransactions(ctx, paystack.ListOptions{PerPage: 1, Page: 2})
	if got := refs(txs); err != nil || !slices.Equal(got, []string{"t2"}) ||
		(*meta != paystack.Meta{Total: 4, TotalVolume: 10000, Skipped: 1, PerPage: 1, Page: 2, PageCount: 4}) {
		t.Errorf("page 2: %v %+v %v", got, meta, err)
	}

	txs, _, err = e.client.ListTransactions(ctx, paystack.ListOptions{From: base.Add(100 * time.Hour)})
	if err != nil || len(txs) != 0 {
		t.Errorf("empty range: %v %v", txs, err)
	}
	// Date-only bounds cover the whole day, as Paystack's examples suggest.
	status, body := e.raw(t, "GET", "/transaction?from=2024-08-01&to=2024-08-01", "")
	if data, _ := body["data"].([]any); status != 200 || len(data) != 3 {
		t.Errorf("date-only range: %d, %d transactions", status, len(data))
	}
}

func TestSubaccountSplit(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	sa, err := e.client.CreateSubaccount(ctx, paystack.SubaccountRequest{
		BusinessName: "Acme Events", SettlementBank: "058", AccountNumber: "0123456047", PercentageCharge: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sa.SubaccountCode, "ACCT_") || sa.SettlementBank != "Guaranty Trust Bank" ||
		sa.PercentageCharge != 10 || !sa.Active || sa.BusinessName != "Acme Events" || sa.ID == 0 {
		t.Errorf("subaccount %+v", sa)
	}
	_, err = e.client.CreateSubaccount(ctx, paystack.SubaccountRequest{BusinessName: "No bank"})
	apiError(t, err, 400, "")

	_, err = e.client.Initialize(ctx, paystack.InitializeRequest{
		Email: "buyer@example.com", Amount: 500000, Reference: "split-1",
		Subaccount: sa.SubaccountCode, TransactionCharge: new(int64(25000)), Bearer: "subaccount",
	})
	if err != nil {
		t.Fatal(err)
	}
	e.pay(t, "split-1", paystacksim.OutcomeSuccess)
	fees := *e.verify(t, "split-1").Fees
	e.waitIdle(t)
	var body struct {
		Data struct {
			FeesSplit struct{ Paystack, Integration, Subaccount int64 } `json:"fees_split"`
		}
	}
	if err := json.Unmarshal(e.hooks.got(t)[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if fs := body.Data.FeesSplit; fs.Paystack != fees || fs.Integration != 25000 || fs.Subaccount != 500000-25000-fees {
		t.Errorf("fees_split %+v with fees %d", fs, fees)
	}
}

func TestCheckoutErrors(t *testing.T) {
	e := newEnv(t, nil)
	res, err := http.Get(e.srv.URL + "/checkout/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("unknown checkout page: %d", res.StatusCode)
	}
	if res := submit(t, e.srv.URL+"/checkout/nope", "success"); res.StatusCode != 404 {
		t.Errorf("unknown checkout submission: %d", res.StatusCode)
	}
	auth := e.initialize(t, "ref-1", 10000)
	if res := submit(t, auth.AuthorizationURL, "maybe"); res.StatusCode != 400 {
		t.Errorf("unknown outcome: %d", res.StatusCode)
	}
	// Without a callback URL the checkout ends on its own page.
	auth, err = e.client.Initialize(context.Background(), paystack.InitializeRequest{Email: "a@b.co", Amount: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if res := submit(t, auth.AuthorizationURL, "success"); res.StatusCode != 200 {
		t.Errorf("no callback URL: %d", res.StatusCode)
	}
}

func TestAdminFaultsEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	post := func(body string) int {
		res, err := http.Post(e.srv.URL+"/_sim/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(`{"serverErrors":1,"latency":"10ms","duplicateWebhooks":2,"webhookTiming":"late","lateDelay":"1s","rejectRefunds":3,"failRefunds":4}`); code != 200 {
		t.Fatalf("POST /_sim/faults: %d", code)
	}
	want := paystacksim.Faults{ServerErrors: 1, Latency: 10 * time.Millisecond, DuplicateWebhooks: 2,
		WebhookTiming: paystacksim.TimingLate, LateDelay: time.Second, RejectRefunds: 3, FailRefunds: 4}
	if got := e.sim.Faults(); got != want {
		t.Errorf("faults %+v", got)
	}
	res, err := http.Get(e.srv.URL + "/_sim/faults")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `"latency":"10ms"`) {
		t.Errorf("GET /_sim/faults: %s", b)
	}
	_, err = e.client.Verify(context.Background(), "x")
	apiError(t, err, 500, "")
	for _, bad := range []string{`{"webhookTiming":"sometimes"}`, `{"latency":"soon"}`, `{"serverErrorStatus":404}`, `{"failRefunds":-1}`, `nope`} {
		if code := post(bad); code != 400 {
			t.Errorf("%s accepted: %d", bad, code)
		}
	}
	if code := post(`{}`); code != 200 || e.sim.Faults() != (paystacksim.Faults{}) {
		t.Errorf("clearing faults: %d %+v", code, e.sim.Faults())
	}
}

func TestConcurrentBuyers(t *testing.T) {
	e := newEnv(t, nil)
	e.sim.SetFaults(paystacksim.Faults{DuplicateWebhooks: 1})
	const n = 30
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ref := fmt.Sprintf("c%d", i)
			auth, err := e.client.Initialize(context.Background(), paystack.InitializeRequest{
				Email: fmt.Sprintf("b%d@example.com", i), Amount: 10000, Reference: ref,
				CallbackURL: "https://shop.example/cb",
			})
			if err != nil {
				errs <- err
				return
			}
			res, err := noRedirects.PostForm(auth.AuthorizationURL, url.Values{"outcome": {"success"}})
			if err != nil {
				errs <- err
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusFound {
				errs <- fmt.Errorf("%s: checkout answered %d", ref, res.StatusCode)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.waitIdle(t)
	refs := map[string]int{}
	for _, h := range e.hooks.got(t) {
		tx, err := h.event(t).Transaction()
		if err != nil || !h.sigOK {
			t.Fatal(err)
		}
		refs[tx.Reference]++
	}
	if len(refs) != n {
		t.Errorf("webhooks for %d references, want %d", len(refs), n)
	}
	for ref, c := range refs {
		if c != 2 {
			t.Errorf("%s: %d deliveries, want 2", ref, c)
		}
	}
	txs := e.sim.Transactions()
	for _, tx := range txs {
		if tx.Status != paystack.StatusSuccess {
			t.Errorf("%s: %s", tx.Reference, tx.Status)
		}
	}
	if len(txs) != n {
		t.Errorf("%d transactions", len(txs))
	}
}
