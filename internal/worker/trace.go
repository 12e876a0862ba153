package worker

import (
	"context"
	"encoding/json"
	"errors"
	"maps"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/telemetry"
)

// instrumentation names the spans' origin.
const instrumentation = "github.com/ticketd-io/ticketd/internal/worker"

// Span attributes of tasks, besides the messaging conventions'.
const (
	attrTaskType   = attribute.Key("asynq.task.type")
	attrRetryCount = attribute.Key("asynq.task.retry_count")
	attrMaxRetry   = attribute.Key("asynq.task.max_retry")
	attrDuplicate  = attribute.Key("asynq.task.duplicate")
)

var messagingSystem = semconv.MessagingSystemKey.String("asynq")

// Trace makes the client enqueue every task in a producer span, "enqueue
// <type>", under the caller's span (a request's or a task's; the periodic
// sweeps start a trace of their own), and carry that span's W3C trace
// context in the task's headers for the worker's consumer span. The payload
// is left as it is: a task enqueued without the headers (by an older
// ticketd) runs as before, in a trace of its own.
func (c *Client) Trace(tp trace.TracerProvider) {
	c.tracer = tp.Tracer(instrumentation)
}

// enqueue enqueues task, in a producer span when the client traces.
func (c *Client) enqueue(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if c.tracer == nil {
		return c.c.EnqueueContext(ctx, task, opts...)
	}
	attrs := []attribute.KeyValue{messagingSystem, semconv.MessagingOperationTypeSend, attrTaskType.String(task.Type())}
	for _, o := range opts {
		switch v, _ := o.Value().(string); o.Type() {
		case asynq.QueueOpt:
			attrs = append(attrs, semconv.MessagingDestinationName(v))
		case asynq.TaskIDOpt:
			attrs = append(attrs, semconv.MessagingMessageID(v))
		}
	}
	if tenant := tenantOf(task.Payload()); tenant != "" {
		attrs = append(attrs, telemetry.AttrTenant.String(tenant))
	}
	ctx, span := c.tracer.Start(ctx, "enqueue "+task.Type(), trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	defer span.End()
	headers := propagation.MapCarrier(maps.Clone(task.Headers()))
	if headers == nil {
		headers = propagation.MapCarrier{}
	}
	telemetry.Propagator.Inject(ctx, headers)
	info, err := c.c.EnqueueContext(ctx, asynq.NewTaskWithHeaders(task.Type(), task.Payload(), headers), opts...)
	switch {
	case err == nil:
		span.SetAttributes(semconv.MessagingMessageID(info.ID))
	case errors.Is(err, asynq.ErrTaskIDConflict):
		span.SetAttributes(attrDuplicate.Bool(true)) // that task will do
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return info, err
}

// traceTasks runs each task in a consumer span, "process <type>", that
// continues the trace of the span that enqueued it (or starts one, for a
// task without a trace context in its headers), with the queue, the task's
// id, its retries so far and its tenant as attributes.
func traceTasks(tp trace.TracerProvider) asynq.MiddlewareFunc {
	tracer := tp.Tracer(instrumentation)
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			ctx = telemetry.Propagator.Extract(ctx, propagation.MapCarrier(t.Headers()))
			attrs := []attribute.KeyValue{messagingSystem, semconv.MessagingOperationTypeProcess, attrTaskType.String(t.Type())}
			if q, ok := asynq.GetQueueName(ctx); ok {
				attrs = append(attrs, semconv.MessagingDestinationName(q))
			}
			if id, ok := asynq.GetTaskID(ctx); ok {
				attrs = append(attrs, semconv.MessagingMessageID(id))
			}
			if n, ok := asynq.GetRetryCount(ctx); ok {
				attrs = append(attrs, attrRetryCount.Int(n))
			}
			if n, ok := asynq.GetMaxRetry(ctx); ok {
				attrs = append(attrs, attrMaxRetry.Int(n))
			}
			if tenant := tenantOf(t.Payload()); tenant != "" {
				attrs = append(attrs, telemetry.AttrTenant.String(tenant))
			}
			ctx, span := tracer.Start(ctx, "process "+t.Type(), trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
			defer span.End()
			err := next.ProcessTask(ctx, t)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			return err
		})
	}
}

// tenantOf is the tenant a task's payload names, if any: every payload
// that acts for a tenant names it as tenantId.
func tenantOf(payload []byte) string {
	if len(payload) == 0 {
		return ""
	}
	var p struct {
		TenantID string `json:"tenantId"`
	}
	_ = json.Unmarshal(payload, &p)
	return p.TenantID
}
