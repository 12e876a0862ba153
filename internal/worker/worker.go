// Package worker runs the background work of ticketd on asynq: expiring
// bookings when their holds run out (one task per tenant and second of
// expiry), a periodic sweep that catches any expiry whose task was lost,
// payment verification (one task per reference), refunds, a periodic
// payment reconciliation, and the buyers' mail (one task per mail, on a
// queue and a pool of workers of its own). Every handler is idempotent, so
// a task that runs twice, or after the sweep already did its work, changes
// nothing.
package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/payment"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Task types.
const (
	TypeExpireBookings = "booking:expire"
	TypeSweepBookings  = "bookings:sweep"
	TypeVerifyPayment  = "payment:verify"
	TypeRefundPayment  = "payment:refund"
	TypeFollowRefunds  = "payment:refunds"
	TypeReconcile      = "payments:reconcile"
	// TypeMailBookingConfirmed sends the mail of a confirmed booking; its
	// payload names the tenant and the booking, never the mail or the
	// buyer (the handler reads them from Postgres).
	TypeMailBookingConfirmed = "mail:" + string(ticketing.MailBookingConfirmed)
	// TypeMailEventCancelled and TypeMailBookingRefunded send the mails of
	// a booking ended by its event's cancellation or refunded in full.
	TypeMailEventCancelled  = "mail:" + string(ticketing.MailEventCancelled)
	TypeMailBookingRefunded = "mail:" + string(ticketing.MailBookingRefunded)
	// TypeRefundEvent refunds the bookings of a cancelled event.
	TypeRefundEvent = "event:refund"
)

// actorName names the worker in audit rows and logs.
const actorName = "worker"

// Client enqueues tasks.
type Client struct {
	c         *asynq.Client
	inspector *asynq.Inspector
	queue     string
	mailQueue string
	now       func() time.Time
	tracer    trace.Tracer // nil: no spans (Trace)

	mu        sync.Mutex
	scheduled map[expirySlot]bool // slots whose expiry task this client enqueued
	pruned    time.Time
	flight    singleflight.Group
}

// NewClient enqueues on queue, and mail on MailQueue(queue), through rdb
// (which it does not close).
func NewClient(rdb goredis.UniversalClient, queue string) *Client {
	return &Client{c: asynq.NewClientFromRedisClient(rdb), inspector: asynq.NewInspectorFromRedisClient(rdb),
		queue: queue, mailQueue: MailQueue(queue), now: time.Now, scheduled: map[expirySlot]bool{}}
}

// MailQueue names the queue of the mail tasks of the worker of queue: a
// queue of its own, served by a pool of its own, so a slow SMTP server or a
// burst of one organizer's mail never holds up payments and expiries.
func MailQueue(queue string) string { return queue + "-mail" }

// ExpirySlot is the granularity of expiry tasks: the bookings of a tenant
// whose holds run out within the same slot share one task, due at the end of
// the slot plus ExpiryGrace.
const (
	ExpirySlot  = time.Second
	ExpiryGrace = time.Second
)

type expirySlot struct {
	tenantID string
	end      int64 // Unix seconds
}

type expirePayload struct {
	TenantID string    `json:"tenantId"`
	DueBy    time.Time `json:"dueBy"`
}

// ScheduleExpiry makes sure that an expiry task of the tenant runs after at:
// the task of at's slot, which expires every booking of the tenant that is
// due by then. During an on-sale thousands of bookings a second share one
// task, so scheduling costs a Redis round trip per tenant and slot, not per
// booking: the client remembers the slots it enqueued, and the task id names
// the slot, so other processes enqueueing it too change nothing. The grace
// covers clocks that disagree a little (Postgres decides what is due).
func (c *Client) ScheduleExpiry(ctx context.Context, tenantID string, at time.Time) error {
	slot := expirySlot{tenantID: tenantID, end: at.Truncate(ExpirySlot).Add(ExpirySlot).Unix()}
	c.mu.Lock()
	done := c.scheduled[slot]
	c.mu.Unlock()
	if done {
		return nil
	}
	key := fmt.Sprintf("booking-expire:%s:%d", tenantID, slot.end)
	_, err, _ := c.flight.Do(key, func() (any, error) {
		dueBy := time.Unix(slot.end, 0).UTC()
		payload, err := json.Marshal(expirePayload{TenantID: tenantID, DueBy: dueBy})
		if err != nil {
			return nil, err
		}
		_, err = c.enqueue(ctx, asynq.NewTask(TypeExpireBookings, payload),
			asynq.Queue(c.queue), asynq.TaskID(key), asynq.ProcessAt(dueBy.Add(ExpiryGrace)),
			asynq.MaxRetry(10), asynq.Timeout(5*time.Minute))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return nil, err
		}
		c.remember(slot)
		return nil, nil
	})
	return err
}

// remember records an enqueued slot and forgets the slots that ended.
func (c *Client) remember(slot expirySlot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scheduled[slot] = true
	if now := c.now(); now.Sub(c.pruned) > time.Minute {
		for s := range c.scheduled {
			if s.end < now.Unix() {
				delete(c.scheduled, s)
			}
		}
		c.pruned = now
	}
}

// EnqueueSweep enqueues the sweep of the current interval once, however
// many workers ask: the task id names the interval's slot.
func (c *Client) EnqueueSweep(ctx context.Context, now time.Time, interval time.Duration) error {
	return c.enqueueSlot(ctx, TypeSweepBookings, "bookings-sweep", now, interval)
}

// EnqueueReconcile enqueues the reconciliation of the current interval
// once, however many workers ask.
func (c *Client) EnqueueReconcile(ctx context.Context, now time.Time, interval time.Duration) error {
	return c.enqueueSlot(ctx, TypeReconcile, "payments-reconcile", now, interval)
}

// enqueueSlot enqueues a periodic task once per interval.
func (c *Client) enqueueSlot(ctx context.Context, taskType, name string, now time.Time, interval time.Duration) error {
	slot := now.UnixNano() / int64(interval)
	_, err := c.enqueue(ctx, asynq.NewTask(taskType, nil),
		asynq.Queue(c.queue), asynq.TaskID(fmt.Sprintf("%s:%d:%d", name, interval.Milliseconds(), slot)),
		asynq.Retention(interval), asynq.MaxRetry(1), asynq.Timeout(5*time.Minute))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

type verifyPayload struct {
	TenantID  string `json:"tenantId"`
	Reference string `json:"reference"`
}

// EnqueueVerify enqueues the verification of a payment reference. The task
// id is the reference's, so a webhook, the redirect and the reconciler that
// ask at once make one task; a verification that ended may be asked again.
func (c *Client) EnqueueVerify(ctx context.Context, tenantID, reference string) error {
	payload, err := json.Marshal(verifyPayload{TenantID: tenantID, Reference: reference})
	if err != nil {
		return err
	}
	return c.enqueueOnce(ctx, asynq.NewTask(TypeVerifyPayment, payload), "payment-verify:"+reference, c.queue, VerifyRetries, false)
}

// enqueueOnce enqueues a task under id on queue unless a task with that id
// is waiting or running. A task with that id that ran out of retries (asynq
// keeps it archived) is replaced: asking again must ask again. With now, a
// task with that id waiting for its next retry runs at once.
func (c *Client) enqueueOnce(ctx context.Context, task *asynq.Task, id, queue string, retries int, now bool) error {
	opts := []asynq.Option{asynq.Queue(queue), asynq.TaskID(id), asynq.MaxRetry(retries), asynq.Timeout(time.Minute)}
	_, err := c.enqueue(ctx, task, opts...)
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	info, ierr := c.inspector.GetTaskInfo(queue, id)
	if ierr == nil && now && (info.State == asynq.TaskStateRetry || info.State == asynq.TaskStateScheduled) {
		if err := c.inspector.RunTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return err
		}
		return nil
	}
	if ierr != nil || info.State != asynq.TaskStateArchived {
		return nil // waiting, running or retrying: that task will do
	}
	if err := c.inspector.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return err
	}
	_, err = c.enqueue(ctx, task, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil // another process replaced it first
	}
	return err
}

// VerifyRetries bounds the retries of one task (capped exponential backoff:
// about an hour and a half in all); the reconciler keeps asking about an
// attempt that stays open and a refund still owed.
const VerifyRetries = 25

type refundPayload struct {
	TenantID string `json:"tenantId"`
	RefundID string `json:"refundId"`
}

// EnqueueRefund enqueues the task that asks Paystack for a refund and
// follows it until Paystack has processed or failed it: one task per
// refund. A task of the refund waiting for its next retry (following an
// earlier attempt, say) runs at once: a refund just queued again (a retry
// of a failed one) is sent without waiting out the backoff.
func (c *Client) EnqueueRefund(ctx context.Context, tenantID, refundID string) error {
	payload, err := json.Marshal(refundPayload{TenantID: tenantID, RefundID: refundID})
	if err != nil {
		return err
	}
	return c.enqueueOnce(ctx, asynq.NewTask(TypeRefundPayment, payload), "payment-refund:"+refundID, c.queue, VerifyRetries, true)
}

// MailRetries bounds the retries of one mail task (capped exponential
// backoff: under an hour in all). A mail still unsent after them is
// enqueued again by the sweep, for postgres.MailGiveUpAfter (7 days).
const MailRetries = 20

type mailPayload struct {
	TenantID  string `json:"tenantId"`
	BookingID string `json:"bookingId"`
}

// EnqueueMail enqueues sending a booking's mail of a kind. The task id names
// the mail, so a confirmation and a sweep that ask at once make one task;
// the outbox, not the queue, remembers that it was sent.
func (c *Client) EnqueueMail(ctx context.Context, tenantID string, kind ticketing.MailKind, bookingID string) error {
	payload, err := json.Marshal(mailPayload{TenantID: tenantID, BookingID: bookingID})
	if err != nil {
		return err
	}
	taskType := "mail:" + string(kind)
	return c.enqueueOnce(ctx, asynq.NewTask(taskType, payload), taskType+":"+bookingID, c.mailQueue, MailRetries, false)
}

type eventPayload struct {
	TenantID string `json:"tenantId"`
	EventID  string `json:"eventId"`
}

// EnqueueEventRefunds enqueues refunding the bookings of a cancelled event;
// one task per event, however many ask.
func (c *Client) EnqueueEventRefunds(ctx context.Context, tenantID, eventID string) error {
	payload, err := json.Marshal(eventPayload{TenantID: tenantID, EventID: eventID})
	if err != nil {
		return err
	}
	return c.enqueueOnce(ctx, asynq.NewTask(TypeRefundEvent, payload), "event-refund:"+eventID, c.queue, VerifyRetries, false)
}

// EnqueueFollowRefunds enqueues asking Paystack about the unfinished
// refunds of the payment with reference, on a refund webhook about it. key
// names the webhook (a hash of its body), so a redelivery of the same
// webhook makes one task and each event its own.
func (c *Client) EnqueueFollowRefunds(ctx context.Context, tenantID, reference, key string) error {
	payload, err := json.Marshal(verifyPayload{TenantID: tenantID, Reference: reference})
	if err != nil {
		return err
	}
	return c.enqueueOnce(ctx, asynq.NewTask(TypeFollowRefunds, payload), "payment-refunds:"+reference+":"+key, c.queue, VerifyRetries, false)
}

// Payments is what the handlers need of the payment service.
type Payments interface {
	VerifyPayment(ctx context.Context, reference string) (*ticketing.Payment, *ticketing.Booking, error)
	VerifyDue(ctx context.Context) (int, error)
	Reconcile(ctx context.Context, age time.Duration) (int, error)
	RecentCharges(ctx context.Context, from time.Time) ([]string, error)
	Refund(ctx context.Context, refundID string) error
	FollowRefunds(ctx context.Context, reference string) error
	RefundCancelledEvent(ctx context.Context, eventID string) (int, error)
	CancelledEventsToRefund(ctx context.Context) ([]string, error)
}

// References routes a payment reference to its tenant, and keeps the
// webhooks that name references.
type References interface {
	TenantOfReference(ctx context.Context, reference string) (string, error)
	ForgetWebhooks(ctx context.Context, age time.Duration, limit int) (int64, error)
}

// WebhookRetention is how long stored Paystack webhooks are kept.
const WebhookRetention = 90 * 24 * time.Hour

// Bookings is what the handlers need of the booking service.
type Bookings interface {
	SweepExpired(ctx context.Context) (int, error)
}

// Mail sends the buyers' mails (mail.Postman).
type Mail interface {
	Deliver(ctx context.Context, kind ticketing.MailKind, bookingID string) error
	Unsent(ctx context.Context, age time.Duration, limit int) ([]ticketing.MailDue, error)
}

// Tenants lists the tenants the sweep visits.
type Tenants interface {
	FindTenants(ctx context.Context, f ticketing.TenantFilter) ([]*ticketing.Tenant, string, error)
}

// Handlers processes tasks.
type Handlers struct {
	Bookings   Bookings
	Payments   Payments
	References References
	Tenants    Tenants
	Client     *Client
	Logger     *slog.Logger
	// StaleAfter is how old an open payment attempt is before the
	// reconciler asks Paystack about it; LookBack how far back it lists
	// Paystack's successful charges.
	StaleAfter time.Duration
	LookBack   time.Duration
	// Mail, when set, sends the buyers' mails, and the sweep enqueues
	// those still unsent MailSweepAfter after they were written down (0:
	// at once).
	Mail           Mail
	MailSweepAfter time.Duration
	// Tracing, when set, runs every task in a span (see traceTasks).
	Tracing trace.TracerProvider
}

// mailSweepLimit bounds the mails of one tenant the sweep enqueues at a
// time: a backlog is worked off over several sweeps.
const mailSweepLimit = 200

// Mux routes task types to handlers.
func (h *Handlers) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	if h.Tracing != nil {
		mux.Use(traceTasks(h.Tracing))
	}
	mux.Use(h.logFailures)
	mux.HandleFunc(TypeExpireBookings, h.expireBookings)
	mux.HandleFunc(TypeSweepBookings, h.sweepBookings)
	mux.HandleFunc(TypeVerifyPayment, h.verifyPayment)
	mux.HandleFunc(TypeRefundPayment, h.refundPayment)
	mux.HandleFunc(TypeFollowRefunds, h.followRefunds)
	mux.HandleFunc(TypeReconcile, h.reconcile)
	mux.HandleFunc(TypeMailBookingConfirmed, h.sendMail)
	mux.HandleFunc(TypeMailEventCancelled, h.sendMail)
	mux.HandleFunc(TypeMailBookingRefunded, h.sendMail)
	mux.HandleFunc(TypeRefundEvent, h.refundEvent)
	return mux
}

// logFailures logs the error of a task run that failed, inside the task's
// span so that the line carries its trace_id (asynq's ErrorHandler gets a
// context of its own). A panic is logged by asynq itself.
func (h *Handlers) logFailures(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		err := next.ProcessTask(ctx, t)
		if err != nil {
			h.Logger.ErrorContext(ctx, "task failed", "type", t.Type(), "error", err.Error())
		}
		return err
	})
}

// asTenant is the context in which the worker acts for a tenant.
func asTenant(ctx context.Context, tenantID string) context.Context {
	ctx = ticketing.WithTenant(ctx, &ticketing.Tenant{ID: tenantID, Status: ticketing.TenantActive})
	return ticketing.WithActor(ctx, ticketing.SystemActor(actorName))
}

// expireBookings expires the due bookings of the task's tenant.
func (h *Handlers) expireBookings(ctx context.Context, t *asynq.Task) error {
	var p expirePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !ticketing.ValidID(p.TenantID) {
		return fmt.Errorf("worker: bad %s payload: %w", TypeExpireBookings, asynq.SkipRetry)
	}
	return h.expireDue(asTenant(ctx, p.TenantID))
}

// expireDue expires the tenant's due bookings, after asking Paystack about
// their open payment attempts: a buyer who paid is confirmed, not expired.
func (h *Handlers) expireDue(ctx context.Context) error {
	var errs []error
	if h.Payments != nil {
		if _, err := h.Payments.VerifyDue(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	n, err := h.Bookings.SweepExpired(ctx)
	if n > 0 {
		h.Logger.InfoContext(ctx, "expired bookings", "tenant", ticketing.TenantFromContext(ctx).ID, "count", n)
	}
	return errors.Join(append(errs, err)...)
}

func (h *Handlers) verifyPayment(ctx context.Context, t *asynq.Task) error {
	var p verifyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !ticketing.ValidID(p.TenantID) || p.Reference == "" {
		return fmt.Errorf("worker: bad %s payload: %w", TypeVerifyPayment, asynq.SkipRetry)
	}
	pay, _, err := h.Payments.VerifyPayment(asTenant(ctx, p.TenantID), p.Reference)
	if err != nil {
		if ticketing.ErrorKind(err) == ticketing.KindNotFound {
			return fmt.Errorf("worker: %s: %w", p.Reference, asynq.SkipRetry)
		}
		return err // retried with capped backoff, ErrNotFinal included
	}
	if pay != nil && pay.Status == ticketing.PaymentAbandoned {
		h.Logger.InfoContext(ctx, "payment abandoned", "reference", p.Reference)
	}
	return nil
}

// refundPayment asks Paystack for a refund and follows it: the task is
// retried with capped backoff (ErrNotFinal included) until Paystack has
// processed or failed it, and the reconciler follows a refund whose task
// ran out of retries.
func (h *Handlers) refundPayment(ctx context.Context, t *asynq.Task) error {
	var p refundPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !ticketing.ValidID(p.TenantID) || !ticketing.ValidID(p.RefundID) {
		return fmt.Errorf("worker: bad %s payload: %w", TypeRefundPayment, asynq.SkipRetry)
	}
	err := h.Payments.Refund(asTenant(ctx, p.TenantID), p.RefundID)
	if errors.Is(err, payment.ErrRefused) || ticketing.ErrorKind(err) == ticketing.KindNotFound {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// sendMail sends one mail. A mail the outbox does not have, or one refused
// for good (an invalid recipient), is not retried; any other failure is,
// with the capped backoff.
func (h *Handlers) sendMail(ctx context.Context, t *asynq.Task) error {
	var p mailPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !ticketing.ValidID(p.TenantID) || !ticketing.ValidID(p.BookingID) {
		return fmt.Errorf("worker: bad %s payload: %w", t.Type(), asynq.SkipRetry)
	}
	if h.Mail == nil {
		return errors.New("worker: no mail sender configured")
	}
	kind := ticketing.MailKind(strings.TrimPrefix(t.Type(), "mail:"))
	err := h.Mail.Deliver(asTenant(ctx, p.TenantID), kind, p.BookingID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mail.ErrPermanent), ticketing.ErrorKind(err) == ticketing.KindNotFound:
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// sweepMail enqueues the tenant's mails still unsent, whose task was lost
// (an enqueue that failed after the confirmation committed) or gave up.
func (h *Handlers) sweepMail(ctx context.Context) error {
	due, err := h.Mail.Unsent(ctx, h.MailSweepAfter, mailSweepLimit)
	if err != nil {
		return err
	}
	tenantID := ticketing.TenantFromContext(ctx).ID
	var errs []error
	for _, d := range due {
		if err := h.Client.EnqueueMail(ctx, tenantID, d.Kind, d.BookingID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// followRefunds asks Paystack about a payment's unfinished refunds after a
// refund webhook. Refunds still not finished are left to their own tasks.
func (h *Handlers) followRefunds(ctx context.Context, t *asynq.Task) error {
	var p verifyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !ticketing.ValidID(p.TenantID) || p.Reference == "" {
		return fmt.Errorf("worker: bad %s payload: %w", TypeFollowRefunds, asynq.SkipRetry)
	}
	return h.Payments.FollowRefunds(asTenant(ctx, p.TenantID), p.Reference)
}

// reconcile finds payments nothing else will settle: open attempts whose
// webhook and redirect never came (verified now), and successful Paystack
// charges of the last LookBack that we never saw (verified by task). It also
// forgets stored webhooks older than WebhookRetention.
func (h *Handlers) reconcile(ctx context.Context, _ *asynq.Task) error {
	var errs []error
	err := h.eachTenant(ctx, func(ctx context.Context, t *ticketing.Tenant) error {
		_, err := h.Payments.Reconcile(ctx, h.StaleAfter)
		return err
	})
	if err != nil {
		errs = append(errs, err)
	}
	if _, err := h.References.ForgetWebhooks(ctx, WebhookRetention, 10000); err != nil {
		errs = append(errs, fmt.Errorf("forgetting old webhooks: %w", err))
	}
	refs, err := h.Payments.RecentCharges(ctx, time.Now().Add(-h.LookBack))
	if err != nil {
		errs = append(errs, fmt.Errorf("listing Paystack charges: %w", err))
	}
	for _, ref := range refs {
		tenantID, err := h.References.TenantOfReference(ctx, ref)
		if err != nil {
			continue // not a payment of this platform's database
		}
		pay, _, err := h.Payments.VerifyPayment(asTenant(ctx, tenantID), ref)
		if err != nil || pay.Status != ticketing.PaymentSuccess {
			if err := h.Client.EnqueueVerify(ctx, tenantID, ref); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// eachTenant runs fn in the context of every tenant; a failure in one does
// not stop the others.
func (h *Handlers) eachTenant(ctx context.Context, fn func(ctx context.Context, t *ticketing.Tenant) error) error {
	var errs []error
	page := ticketing.Page{Limit: ticketing.MaxPageSize}
	for {
		tenants, next, err := h.Tenants.FindTenants(ctx, ticketing.TenantFilter{Page: page})
		if err != nil {
			return err
		}
		for _, t := range tenants {
			if err := fn(asTenant(ctx, t.ID), t); err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", t.Slug, err))
			}
		}
		if next == "" {
			return errors.Join(errs...)
		}
		page.Cursor = next
	}
}

// sweepBookings expires the due bookings of every tenant, enqueues the
// mails still unsent and the refunds of cancelled events not finished. A
// failure in one tenant does not stop the others.
func (h *Handlers) sweepBookings(ctx context.Context, _ *asynq.Task) error {
	return h.eachTenant(ctx, func(ctx context.Context, t *ticketing.Tenant) error {
		err := h.expireDue(ctx)
		if h.Mail != nil {
			err = errors.Join(err, h.sweepMail(ctx))
		}
		if h.Payments != nil {
			events, perr := h.Payments.CancelledEventsToRefund(ctx)
			err = errors.Join(err, perr)
			for _, e := range events {
				err = errors.Join(err, h.Client.EnqueueEventRefunds(ctx, t.ID, e))
			}
		}
		return err
	})
}

// refundEvent refunds the bookings of a cancelled event.
func (h *Handlers) refundEvent(ctx context.Context, t *asynq.Task) error {
	var p eventPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !ticketing.ValidID(p.TenantID) || !ticketing.ValidID(p.EventID) {
		return fmt.Errorf("worker: bad %s payload: %w", TypeRefundEvent, asynq.SkipRetry)
	}
	_, err := h.Payments.RefundCancelledEvent(asTenant(ctx, p.TenantID), p.EventID)
	return err
}

// Config configures a worker.
type Config struct {
	Queue         string
	Concurrency   int
	SweepInterval time.Duration
	// ReconcileInterval is how often payments are reconciled; 0 never
	// (a worker without Paystack).
	ReconcileInterval time.Duration
	// ShutdownTimeout is how long a stopping worker lets running tasks
	// finish, once it has stopped taking new ones; asynq puts the
	// unfinished ones back on their queue for another worker (and every
	// handler is idempotent). 10s when 0.
	ShutdownTimeout time.Duration
	// MailConcurrency is how many mails are sent at once (2 when 0), from
	// MailQueue(Queue), apart from the Concurrency of the other tasks.
	MailConcurrency int
	// Middleware wraps the handlers of every task (Metrics.Middleware).
	Middleware []asynq.MiddlewareFunc
	// Status, when set, follows whether the servers run.
	Status *Status
}

// Run processes tasks until ctx is done, and enqueues a sweep every
// SweepInterval. Several workers may run; their sweeps deduplicate. With
// h.Mail set, a second pool of MailConcurrency workers sends the mail of
// MailQueue(cfg.Queue), so mail never takes a worker from payments.
func Run(ctx context.Context, rdb goredis.UniversalClient, cfg Config, h *Handlers, client *Client) error {
	newServer := func(queue string, concurrency int) *asynq.Server {
		return asynq.NewServerFromRedisClient(rdb, asynq.Config{
			Queues:          map[string]int{queue: 1},
			Concurrency:     concurrency,
			ShutdownTimeout: cmp.Or(cfg.ShutdownTimeout, 10*time.Second),
			RetryDelayFunc:  backoff,
			Logger:          asynqLogger{h.Logger},
		})
	}
	mux := h.Mux()
	mux.Use(cfg.Middleware...)
	srv := newServer(cfg.Queue, cfg.Concurrency)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	servers := []*asynq.Server{srv}
	if h.Mail != nil {
		mailSrv := newServer(MailQueue(cfg.Queue), cmp.Or(cfg.MailConcurrency, 2))
		if err := mailSrv.Start(mux); err != nil {
			srv.Shutdown()
			return fmt.Errorf("worker: start the mail workers: %w", err)
		}
		servers = append(servers, mailSrv)
	}
	cfg.Status.set(true)
	every := cfg.SweepInterval
	if cfg.ReconcileInterval > 0 {
		every = min(every, cfg.ReconcileInterval)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		now := time.Now()
		if err := client.EnqueueSweep(ctx, now, cfg.SweepInterval); err != nil && ctx.Err() == nil {
			h.Logger.WarnContext(ctx, "enqueueing the sweep", "error", err.Error())
		}
		if cfg.ReconcileInterval > 0 {
			if err := client.EnqueueReconcile(ctx, now, cfg.ReconcileInterval); err != nil && ctx.Err() == nil {
				h.Logger.WarnContext(ctx, "enqueueing the reconciliation", "error", err.Error())
			}
		}
		select {
		case <-ctx.Done():
			cfg.Status.set(false)
			h.Logger.Info("worker stopping: no new tasks, waiting for the running ones", "timeout", cmp.Or(cfg.ShutdownTimeout, 10*time.Second).String())
			shutdown(servers)
			h.Logger.Info("worker stopped")
			return nil
		case <-tick.C:
		}
	}
}

// shutdown stops the servers together, so that the wait for their running
// tasks is one ShutdownTimeout, not one per server. Each stops fetching
// tasks at once, and puts back on its queue any still running when its
// ShutdownTimeout is up.
func shutdown(servers []*asynq.Server) {
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Shutdown()
		}()
	}
	wg.Wait()
}

// backoff is capped exponential with jitter: 1s, 2s, 4s… up to 5 minutes.
func backoff(n int, _ error, _ *asynq.Task) time.Duration {
	d := time.Second << min(n, 9)
	d = min(d, 5*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// asynqLogger sends asynq's own logging to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
