package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/telemetry/telemetrytest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// verifier answers payment verifications by reference: "ok" verifies,
// "flaky" fails once then verifies, "gone" is unknown (not retried), and
// "block" waits until released.
type verifier struct {
	worker.Payments // the other methods are not called
	release         chan struct{}
	mu              sync.Mutex
	flakyRuns       int
}

func (v *verifier) VerifyPayment(ctx context.Context, reference string) (*ticketing.Payment, *ticketing.Booking, error) {
	switch reference {
	case "flaky":
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.flakyRuns++; v.flakyRuns == 1 {
			return nil, nil, errors.New("paystack: 502")
		}
	case "gone":
		return nil, nil, ticketing.NotFound("payment")
	case "block":
		select {
		case <-v.release:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	return nil, nil, nil
}

// noTenants makes the sweep a no-op.
type noTenants struct{}

func (noTenants) FindTenants(context.Context, ticketing.TenantFilter) ([]*ticketing.Tenant, string, error) {
	return nil, "", nil
}

// TestMetricsMiddlewareRecordsEveryOutcome runs a real worker with the
// middleware: verifications that succeed, fail once and are retried, are
// not retried, and one of a task type the worker does not know, each
// counted by outcome; retries, runs in flight and durations too. asynq's
// own totals of the queue agree.
func TestMetricsMiddlewareRecordsEveryOutcome(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	queue := "test-" + strings.TrimSuffix(strings.TrimPrefix(rdb.Prefix, "test:"), ":")
	redistest.CleanupAsynqQueue(t, rdb, queue)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	reg := prometheus.NewRegistry()
	metrics := worker.NewMetrics(reg, queue)
	client := worker.NewClient(rdb.UniversalClient, queue)
	reg.MustRegister(telemetry.NewQueueCollector(client.Inspector(), worker.Queues(queue), 10*time.Second, logger))
	key := func(name, task, outcome string) string {
		k := fmt.Sprintf("%s{outcome=%q,queue=%q,task=%q}", name, outcome, queue, task)
		if outcome == "" {
			k = fmt.Sprintf("%s{queue=%q,task=%q}", name, queue, task)
		}
		return k
	}
	verified := func(outcome string) string {
		return key("ticketd_worker_tasks_total", worker.TypeVerifyPayment, outcome)
	}
	inFlight := fmt.Sprintf("ticketd_worker_tasks_in_flight{queue=%q}", queue)

	// Before any task, every family is there at 0, each task type on the
	// queue it is enqueued on.
	got := telemetrytest.Scrape(t, reg)
	for _, k := range []string{
		verified("ok"), verified("error"), verified("skipped"),
		key("ticketd_worker_task_retries_total", worker.TypeVerifyPayment, ""),
		key("ticketd_worker_task_duration_seconds_count", worker.TypeRefundPayment, ""),
		fmt.Sprintf("ticketd_worker_tasks_total{outcome=%q,queue=%q,task=%q}", "error", worker.MailQueue(queue), worker.TypeMailBookingConfirmed),
		inFlight, fmt.Sprintf("ticketd_worker_tasks_in_flight{queue=%q}", worker.MailQueue(queue)),
	} {
		if v, ok := got[k]; !ok || v != 0 {
			t.Errorf("before any task: %s = %v (present %v), want 0", k, v, ok)
		}
	}

	payments := &verifier{release: make(chan struct{})}
	status := &worker.Status{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, rdb.UniversalClient, worker.Config{
			Queue: queue, Concurrency: 4, SweepInterval: time.Hour,
			Middleware: []asynq.MiddlewareFunc{metrics.Middleware}, Status: status,
		}, &worker.Handlers{Payments: payments, Tenants: noTenants{}, Logger: logger, Client: client}, client)
	}()
	stopped := false
	defer func() {
		if !stopped {
			stop()
			<-done
		}
	}()
	waitFor(t, func() (bool, string) { return status.Running(), "the worker is not running" })

	tenantID := ticketing.NewID()
	if err := client.EnqueueVerify(t.Context(), tenantID, "block"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() (bool, string) {
		v := telemetrytest.Scrape(t, reg)[inFlight]
		return v == 1, fmt.Sprintf("%s = %v, want 1 while a verification blocks", inFlight, v)
	})
	for _, ref := range []string{"ok", "flaky", "gone"} {
		if err := client.EnqueueVerify(t.Context(), tenantID, ref); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := asynq.NewClientFromRedisClient(rdb.UniversalClient).EnqueueContext(t.Context(),
		asynq.NewTask("test:unknown", nil), asynq.Queue(queue), asynq.MaxRetry(0)); err != nil {
		t.Fatal(err)
	}
	// ok and the retry of flaky verified; then the blocked one.
	waitFor(t, func() (bool, string) {
		got := telemetrytest.Scrape(t, reg)
		return got[verified("ok")] == 2 && got[verified("skipped")] == 1, fmt.Sprintf("ok %v, skipped %v", got[verified("ok")], got[verified("skipped")])
	})
	close(payments.release)
	waitFor(t, func() (bool, string) {
		got := telemetrytest.Scrape(t, reg)
		return got[verified("ok")] == 3 && got[inFlight] == 0, fmt.Sprintf("ok %v, in flight %v", got[verified("ok")], got[inFlight])
	})
	got = telemetrytest.Scrape(t, reg)
	for k, want := range map[string]float64{
		verified("error"):   1,
		verified("skipped"): 1,
		key("ticketd_worker_task_retries_total", worker.TypeVerifyPayment, ""):          1,
		key("ticketd_worker_task_duration_seconds_count", worker.TypeVerifyPayment, ""): 5,
		key("ticketd_worker_tasks_total", "other", "error"):                             1,
		key("ticketd_worker_tasks_total", worker.TypeSweepBookings, "ok"):               1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	// asynq counts in Redis what the middleware counted: 7 runs on the
	// queue (5 verifications, the sweep, the unknown task), 3 failed.
	processed := fmt.Sprintf("ticketd_queue_processed_total{queue=%q}", queue)
	failed := fmt.Sprintf("ticketd_queue_failed_total{queue=%q}", queue)
	waitFor(t, func() (bool, string) {
		got := telemetrytest.Scrape(t, reg)
		return got[processed] == 7 && got[failed] == 3, fmt.Sprintf("asynq: %v processed, %v failed", got[processed], got[failed])
	})

	stop()
	stopped = true
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if status.Running() {
		t.Error("the worker still reports running after Run returned")
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, worker.OutcomeOK},
		{errors.New("paystack: 502"), worker.OutcomeError},
		{fmt.Errorf("bad payload: %w", asynq.SkipRetry), worker.OutcomeSkipped},
		{fmt.Errorf("%w: %w", ticketing.NotFound("refund"), asynq.SkipRetry), worker.OutcomeSkipped},
		{asynq.RevokeTask, worker.OutcomeSkipped},
	} {
		if got := worker.Outcome(tc.err); got != tc.want {
			t.Errorf("Outcome(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// TestTaskTypesAreRouted: every type the metrics start at 0 has a handler.
func TestTaskTypesAreRouted(t *testing.T) {
	mux := (&worker.Handlers{}).Mux()
	for _, taskType := range worker.TaskTypes {
		if _, pattern := mux.Handler(asynq.NewTask(taskType, nil)); pattern != taskType {
			t.Errorf("%s is routed to %q", taskType, pattern)
		}
	}
}
