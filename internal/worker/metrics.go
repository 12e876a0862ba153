package worker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticketd-io/ticketd/internal/telemetry"
)

// TaskTypes are the types of the tasks the worker runs (every type Mux
// routes): the values of the task label of the task metrics.
var TaskTypes = []string{
	TypeExpireBookings, TypeSweepBookings, TypeVerifyPayment, TypeRefundPayment, TypeFollowRefunds,
	TypeReconcile, TypeMailBookingConfirmed, TypeMailEventCancelled, TypeMailBookingRefunded, TypeRefundEvent,
}

// otherTask is the task label of a type that is not in TaskTypes (a task
// enqueued by another version of ticketd), so the label stays bounded.
const otherTask = "other"

// Outcomes of a task run, the outcome label of ticketd_worker_tasks_total.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error" // retried, or archived once its retries ran out
	// OutcomeSkipped: an error that asynq does not retry (asynq.SkipRetry:
	// archived at once; asynq.RevokeTask: dropped).
	OutcomeSkipped = "skipped"
)

// Queues are the queues the worker of queue serves: its own and the mail's.
func Queues(queue string) []string { return []string{queue, MailQueue(queue)} }

// queueOfType is which of Queues(queue) a task type is enqueued on.
func queueOfType(queue, taskType string) string {
	if strings.HasPrefix(taskType, "mail:") {
		return MailQueue(queue)
	}
	return queue
}

// Inspector reads the state of the client's queues (for their metrics).
func (c *Client) Inspector() *asynq.Inspector { return c.inspector }

// Metrics counts and times the tasks a worker runs, by queue and task type;
// its Middleware records them.
type Metrics struct {
	duration *prometheus.HistogramVec
	tasks    *prometheus.CounterVec
	retries  *prometheus.CounterVec
	inFlight *prometheus.GaugeVec
}

// NewMetrics registers the task metrics on reg, with every task type of the
// worker of queue and every outcome at 0: each family is in the first
// scrape, and increase() sees a task's first failure.
func NewMetrics(reg prometheus.Registerer, queue string) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ticketd_worker_task_duration_seconds",
			Help:    "Duration of task runs, by queue and task type, whatever their outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"queue", "task"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketd_worker_tasks_total",
			Help: "Task runs, by queue, task type and outcome (ok; error: retried, or archived once out of retries; skipped: not retried).",
		}, []string{"queue", "task", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketd_worker_task_retries_total",
			Help: "Task runs that were retries of a failed run, by queue and task type.",
		}, []string{"queue", "task"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ticketd_worker_tasks_in_flight",
			Help: "Tasks this worker is running, by queue.",
		}, []string{"queue"}),
	}
	reg.MustRegister(m.duration, m.tasks, m.retries, m.inFlight)
	for _, q := range Queues(queue) {
		m.inFlight.WithLabelValues(q)
	}
	for _, t := range TaskTypes {
		q := queueOfType(queue, t)
		m.duration.WithLabelValues(q, t)
		m.retries.WithLabelValues(q, t)
		for _, o := range []string{OutcomeOK, OutcomeError, OutcomeSkipped} {
			m.tasks.WithLabelValues(q, t, o)
		}
	}
	return m
}

// Middleware records each task run: its duration, its outcome, whether it
// was a retry, and the runs in flight. A handler that panics counts as an
// error (asynq recovers the panic and retries the task).
func (m *Metrics) Middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
		queue, _ := asynq.GetQueueName(ctx)
		task := t.Type()
		if !slices.Contains(TaskTypes, task) {
			task = otherTask
		}
		if n, _ := asynq.GetRetryCount(ctx); n > 0 {
			m.retries.WithLabelValues(queue, task).Inc()
		}
		inFlight := m.inFlight.WithLabelValues(queue)
		inFlight.Inc()
		start, returned := time.Now(), false
		defer func() {
			inFlight.Dec()
			telemetry.ObserveInTrace(ctx, m.duration.WithLabelValues(queue, task), time.Since(start).Seconds())
			outcome := Outcome(err)
			if !returned {
				outcome = OutcomeError
			}
			m.tasks.WithLabelValues(queue, task, outcome).Inc()
		}()
		err = next.ProcessTask(ctx, t)
		returned = true
		return err
	})
}

// Outcome names how a task run that returned err ended.
func Outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, asynq.SkipRetry), errors.Is(err, asynq.RevokeTask):
		return OutcomeSkipped
	}
	return OutcomeError
}

// Status tells whether a worker's asynq servers run (Config.Status): what
// /healthz of `ticketd work` reports. The zero Status is not running.
type Status struct{ running atomic.Bool }

// Running reports whether Run has started the servers and not yet begun to
// shut them down.
func (s *Status) Running() bool { return s != nil && s.running.Load() }

func (s *Status) set(running bool) {
	if s != nil {
		s.running.Store(running)
	}
}
