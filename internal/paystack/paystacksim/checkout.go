package paystacksim

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/ticketd-io/ticketd/internal/paystack"
)

// Checkout outcomes, the values of the checkout form's "outcome" field.
const (
	OutcomeSuccess = "success"
	OutcomeDecline = "decline"
	OutcomeAbandon = "abandon"
)

// Errors of Pay (and of the checkout form, as HTTP statuses).
var (
	ErrUnknownTransaction = errors.New("paystacksim: unknown transaction")
	ErrBadOutcome         = errors.New(`paystacksim: outcome must be "success", "decline" or "abandon"`)
	ErrCompleted          = errors.New("paystacksim: transaction already completed")
)

// Pay acts like a buyer submitting the checkout form of the transaction
// with the given reference: it sets the outcome, sends the webhook as the
// faults say, and returns the URL the buyer would be redirected to ("" when
// the transaction has no callback URL).
func (s *Sim) Pay(ctx context.Context, reference, outcome string) (redirectURL string, err error) {
	s.mu.Lock()
	t := s.byRef[reference]
	s.mu.Unlock()
	if t == nil {
		return "", fmt.Errorf("%w: %q", ErrUnknownTransaction, reference)
	}
	redirect, after, err := s.complete(ctx, t.accessCode, outcome)
	if err != nil {
		return "", err
	}
	after()
	return redirect, nil
}

// complete applies a checkout outcome. It returns the redirect URL and a
// function to call once the redirect has been sent (it starts an
// after-redirect or late webhook); a before-redirect webhook has had its
// first attempt when complete returns.
func (s *Sim) complete(ctx context.Context, code, outcome string) (string, func(), error) {
	switch outcome {
	case OutcomeSuccess, OutcomeDecline, OutcomeAbandon:
	default:
		return "", nil, ErrBadOutcome
	}
	s.mu.Lock()
	t := s.byCode[code]
	if t == nil {
		s.mu.Unlock()
		return "", nil, ErrUnknownTransaction
	}
	if !t.open() {
		st := t.status
		s.mu.Unlock()
		return "", nil, fmt.Errorf("%w: %s is %s", ErrCompleted, t.reference, st)
	}
	now := s.now()
	switch outcome {
	case OutcomeSuccess:
		f := fees(t.amount)
		t.status, t.gatewayResponse, t.paidAt, t.fees = paystack.StatusSuccess, "Successful", &now, &f
		t.authCode = "AUTH_" + randomCode(10)
	case OutcomeDecline:
		t.status, t.gatewayResponse = paystack.StatusFailed, "Declined"
	case OutcomeAbandon:
		t.status, t.gatewayResponse = paystack.StatusAbandoned, "The transaction was not completed"
	}
	redirect := callbackRedirect(t.callbackURL, t.reference)
	// Paystack sends webhooks for successful charges only: there is no
	// charge.failed event.
	var ev *event
	if outcome == OutcomeSuccess {
		ev = s.newEvent(paystack.EventChargeSuccess, t, s.wireTransaction(t))
	}
	f := s.faults
	s.mu.Unlock()
	s.log.Info("paystacksim: checkout", "reference", t.reference, "outcome", outcome)

	if ev == nil {
		return redirect, func() {}, nil
	}
	if f.WebhookTiming == TimingBeforeRedirect {
		for _, first := range s.dispatch(ev, f, nil, 0) {
			select {
			case <-first:
			case <-ctx.Done():
			case <-s.ctx.Done():
			}
		}
		return redirect, func() {}, nil
	}
	// Scheduled now, so that WaitIdle sees the webhook as soon as the
	// redirect is out; started by after.
	gate := make(chan struct{})
	var delay time.Duration
	if f.WebhookTiming == TimingLate {
		delay = f.LateDelay
		if delay <= 0 {
			delay = DefaultLateDelay
		}
	}
	s.dispatch(ev, f, gate, delay)
	return redirect, sync.OnceFunc(func() { close(gate) }), nil
}

// callbackRedirect returns callback?trxref=REF&reference=REF, keeping any
// query the callback URL already has, or "" without a usable callback.
func callbackRedirect(callback, ref string) string {
	u, err := url.Parse(callback)
	if callback == "" || err != nil || !u.IsAbs() {
		return ""
	}
	q := "trxref=" + url.QueryEscape(ref) + "&reference=" + url.QueryEscape(ref)
	if u.RawQuery != "" {
		q = u.RawQuery + "&" + q
	}
	u.RawQuery = q
	return u.String()
}

// checkoutView is what the checkout page shows.
type checkoutView struct {
	Amount, Email, Reference, Status, Message string
	Open                                      bool
	Callback                                  string
}

var checkoutTmpl = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Paystack simulator checkout</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
button{display:block;width:100%;margin:.5rem 0;padding:.75rem;font-size:1rem;cursor:pointer}
.note{color:#666;font-size:.9rem}
</style></head>
<body>
<h1>{{if .Amount}}Pay {{.Amount}}{{else}}Checkout{{end}}</h1>
{{if .Reference}}<p>{{.Email}} &middot; reference <code>{{.Reference}}</code></p>{{end}}
<p class="note">Paystack simulator: choose what happens to this payment.</p>
{{if .Message}}<p><strong>{{.Message}}</strong></p>{{end}}
{{if .Open}}
<form method="post">
<button name="outcome" value="success">Pay (success)</button>
<button name="outcome" value="decline">Card declined (failed)</button>
<button name="outcome" value="abandon">Cancel payment (abandoned)</button>
</form>
{{else if .Status}}<p>This transaction is {{.Status}}.</p>{{end}}
{{if .Callback}}<p><a href="{{.Callback}}">Return to the merchant</a></p>{{end}}
</body></html>
`))

func renderCheckout(w http.ResponseWriter, status int, v checkoutView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	checkoutTmpl.Execute(w, v)
}

// view describes t for the checkout page. The caller holds s.mu.
func view(t *txn) checkoutView {
	v := checkoutView{
		Amount:    fmt.Sprintf("%s %d.%02d", t.currency, t.amount/100, t.amount%100),
		Email:     t.customer.email,
		Reference: t.reference,
		Status:    t.status,
		Open:      t.open(),
	}
	if !v.Open {
		// Offered only once there is nothing left to choose.
		v.Callback = callbackRedirect(t.callbackURL, t.reference)
	}
	return v
}

// checkoutPage is GET /checkout/:access_code, the page at authorization_url.
func (s *Sim) checkoutPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t := s.byCode[r.PathValue("code")]
	var v checkoutView
	if t != nil {
		v = view(t)
	}
	s.mu.Unlock()
	if t == nil {
		renderCheckout(w, http.StatusNotFound, checkoutView{Message: "This checkout link is invalid."})
		return
	}
	renderCheckout(w, http.StatusOK, v)
}

// checkoutSubmit is the checkout form's POST: it applies the outcome and
// redirects to the callback URL with trxref and reference.
func (s *Sim) checkoutSubmit(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	redirect, after, err := s.complete(r.Context(), code, r.PostFormValue("outcome"))
	if err != nil {
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, ErrUnknownTransaction):
			status = http.StatusNotFound
		case errors.Is(err, ErrCompleted):
			status = http.StatusConflict
		}
		s.mu.Lock()
		var v checkoutView
		if t := s.byCode[code]; t != nil {
			v = view(t)
		}
		s.mu.Unlock()
		v.Message = err.Error()
		renderCheckout(w, status, v)
		return
	}
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
	} else {
		s.mu.Lock()
		v := view(s.byCode[code])
		s.mu.Unlock()
		v.Message = "Payment finished. This transaction has no callback URL."
		renderCheckout(w, http.StatusOK, v)
	}
	// The webhook of after-redirect timing starts once the redirect is on
	// the wire.
	http.NewResponseController(w).Flush()
	after()
}
