package telemetry

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// QueueInspector reads the state of asynq queues: an *asynq.Inspector.
type QueueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// QueueScrapeTimeout bounds how long a scrape waits for Redis to describe
// the queues: well under Prometheus's default scrape timeout (10s), so that
// a slow Redis costs the queue metrics of a scrape, never the whole scrape.
const QueueScrapeTimeout = 3 * time.Second

// QueueStates are the values of the state label of ticketd_queue_tasks:
// asynq's task states.
var QueueStates = []string{"pending", "active", "scheduled", "retry", "archived", "completed", "aggregating"}

var (
	queueTasks = prometheus.NewDesc("ticketd_queue_tasks",
		"Tasks in an asynq queue, by state (pending, active, scheduled, retry, archived, completed, aggregating).",
		[]string{"queue", "state"}, nil)
	queueLatency = prometheus.NewDesc("ticketd_queue_latency_seconds",
		"Age of the oldest pending task of an asynq queue (0 when none is pending).", []string{"queue"}, nil)
	queueProcessed = prometheus.NewDesc("ticketd_queue_processed_total",
		"Tasks of an asynq queue processed, successfully or not, by every worker (asynq's own total).", []string{"queue"}, nil)
	queueFailed = prometheus.NewDesc("ticketd_queue_failed_total",
		"Task runs of an asynq queue that failed, by every worker (asynq's own total).", []string{"queue"}, nil)
	queuePaused = prometheus.NewDesc("ticketd_queue_paused",
		"1 while an asynq queue is paused (its tasks are not processed), else 0.", []string{"queue"}, nil)
)

// QueueCollector exports the state of asynq queues, read from Redis when
// Prometheus scrapes. The state is the queues' own, shared by every worker:
// each worker that exports it exports the same numbers, so rules aggregate
// them with max by (queue), never sum.
type QueueCollector struct {
	inspector QueueInspector
	queues    []string
	timeout   time.Duration
	logger    *slog.Logger
	errors    prometheus.Counter
	// flight shares one read of Redis among the scrapes that come while it
	// runs (Prometheus servers in a pair scrape at once), and keeps a Redis
	// that does not answer from gathering a goroutine per scrape.
	flight singleflight.Group
}

// NewQueueCollector collects the state of queues through inspector, giving
// up on Redis after timeout; failures are counted in
// ticketd_queue_scrape_errors_total and logged to logger.
func NewQueueCollector(inspector QueueInspector, queues []string, timeout time.Duration, logger *slog.Logger) *QueueCollector {
	return &QueueCollector{
		inspector: inspector, queues: slices.Clone(queues), timeout: timeout, logger: logger,
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticketd_queue_scrape_errors_total",
			Help: "Scrapes whose asynq queue metrics are missing or partial: Redis failed or did not answer in time.",
		}),
	}
}

// RegisterQueues exports the state of the asynq queues named, read at
// scrape time with QueueScrapeTimeout.
func (m *Metrics) RegisterQueues(inspector QueueInspector, logger *slog.Logger, queues ...string) {
	m.Registry.MustRegister(NewQueueCollector(inspector, queues, QueueScrapeTimeout, logger))
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueTasks
	ch <- queueLatency
	ch <- queueProcessed
	ch <- queueFailed
	ch <- queuePaused
	c.errors.Describe(ch)
}

// queueRead is what one read of Redis found: the queues it could read.
type queueRead struct {
	infos []*asynq.QueueInfo
	err   error // the first failure; infos may still hold some queues
}

// Collect implements prometheus.Collector. A queue that asynq does not know
// yet (no task was ever enqueued on it) is reported empty, so that every
// family is there from the worker's first scrape on.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	defer func() { ch <- c.errors }()
	var r queueRead
	select {
	case res := <-c.flight.DoChan("queues", func() (any, error) { return c.read(), nil }):
		r = res.Val.(queueRead)
	case <-time.After(c.timeout):
		r.err = fmt.Errorf("redis did not answer within %s", c.timeout)
	}
	if r.err != nil {
		c.errors.Inc()
		c.logger.Warn("reading the asynq queues for /metrics", "error", r.err.Error())
	}
	for _, q := range r.infos {
		counts := []int{q.Pending, q.Active, q.Scheduled, q.Retry, q.Archived, q.Completed, q.Aggregating}
		for i, state := range QueueStates {
			ch <- prometheus.MustNewConstMetric(queueTasks, prometheus.GaugeValue, float64(counts[i]), q.Queue, state)
		}
		ch <- prometheus.MustNewConstMetric(queueLatency, prometheus.GaugeValue, q.Latency.Seconds(), q.Queue)
		ch <- prometheus.MustNewConstMetric(queueProcessed, prometheus.CounterValue, float64(q.ProcessedTotal), q.Queue)
		ch <- prometheus.MustNewConstMetric(queueFailed, prometheus.CounterValue, float64(q.FailedTotal), q.Queue)
		paused := 0.0
		if q.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(queuePaused, prometheus.GaugeValue, paused, q.Queue)
	}
}

// read asks Redis about every queue.
func (c *QueueCollector) read() queueRead {
	known, err := c.inspector.Queues()
	if err != nil {
		return queueRead{err: fmt.Errorf("listing the queues: %w", err)}
	}
	var r queueRead
	for _, name := range c.queues {
		if !slices.Contains(known, name) {
			r.infos = append(r.infos, &asynq.QueueInfo{Queue: name})
			continue
		}
		info, err := c.inspector.GetQueueInfo(name)
		if err != nil {
			if r.err == nil {
				r.err = fmt.Errorf("queue %s: %w", name, err)
			}
			continue
		}
		r.infos = append(r.infos, info)
	}
	return r
}
