package paystacksim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ticketd-io/ticketd/internal/paystack"
)

// event is a webhook ready to send: the exact bytes that are signed and
// posted on every attempt and every duplicate.
type event struct {
	name      string
	reference string
	key       string
	body      []byte
}

// newEvent builds {"event": name, "data": data} about t. The caller holds
// s.mu.
func (s *Sim) newEvent(name string, t *txn, data any) *event {
	body, err := json.Marshal(struct {
		Event string `json:"event"`
		Data  any    `json:"data"`
	}{name, data})
	if err != nil {
		panic(err) // the wire types always encode
	}
	return &event{name: name, reference: t.reference, key: s.signingKey(t), body: body}
}

// dispatch schedules delivery of ev, and of f.DuplicateWebhooks copies of
// it, delay after start is closed (nil: now). It returns, per copy, a
// channel closed once that copy's first attempt has been answered (or has
// failed).
func (s *Sim) dispatch(ev *event, f Faults, start <-chan struct{}, delay time.Duration) []<-chan struct{} {
	if f.DropWebhooks || s.cfg.WebhookURL == "" {
		s.log.Info("paystacksim: webhook not sent", "event", ev.name, "reference", ev.reference,
			"dropped", f.DropWebhooks)
		return nil
	}
	var firsts []<-chan struct{}
	for c := 0; c <= f.DuplicateWebhooks; c++ {
		first := make(chan struct{})
		firsts = append(firsts, first)
		if !s.spawn(start, delay, func(ctx context.Context) { s.deliver(ctx, ev, c, first) }) {
			close(first)
		}
	}
	return firsts
}

// deliver posts ev until the receiver answers 200 or the retry schedule
// ends. Paystack counts only 200 as acknowledged.
func (s *Sim) deliver(ctx context.Context, ev *event, copyN int, first chan struct{}) {
	var once sync.Once
	firstDone := func() { once.Do(func() { close(first) }) }
	defer firstDone()
	for attempt := 1; ; attempt++ {
		status, err := s.post(ctx, ev)
		d := Delivery{
			Event: ev.name, Reference: ev.reference, Copy: copyN, Attempt: attempt,
			StatusCode: status, At: time.Now(),
		}
		if err != nil {
			d.Err = err.Error()
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
		s.log.Info("paystacksim: webhook attempt", "event", ev.name, "reference", ev.reference,
			"copy", copyN, "attempt", attempt, "status", status, "error", d.Err)
		firstDone()
		if status == http.StatusOK || ctx.Err() != nil {
			return
		}
		if attempt > len(s.schedule) {
			s.log.Warn("paystacksim: webhook retries exhausted", "event", ev.name, "reference", ev.reference)
			return
		}
		if sleep(ctx, s.schedule[attempt-1]) != nil {
			return
		}
	}
}

// post sends one attempt and returns the receiver's status.
func (s *Sim) post(ctx context.Context, ev *event) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.WebhookURL, bytes.NewReader(ev.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(paystack.SignatureHeader, paystack.Sign(ev.key, ev.body))
	res, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return res.StatusCode, nil
}
