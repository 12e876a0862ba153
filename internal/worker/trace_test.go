package worker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/telemetry/telemetrytest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// spanRecorder records the span each verification ran in. Only VerifyPayment
// is called in these tests.
type spanRecorder struct {
	worker.Payments
	mu    sync.Mutex
	spans map[string]trace.SpanContext // by reference
}

func (v *spanRecorder) VerifyPayment(ctx context.Context, reference string) (*ticketing.Payment, *ticketing.Booking, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.spans[reference] = trace.SpanContextFromContext(ctx)
	if reference == "bk_unknown_1" {
		return nil, nil, ticketing.NotFound("payment")
	}
	return &ticketing.Payment{Reference: reference, Status: ticketing.PaymentSuccess}, nil, nil
}

func (v *spanRecorder) ran(reference string) (trace.SpanContext, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	sc, ok := v.spans[reference]
	return sc, ok
}

func stubNamed(spans tracetest.SpanStubs, name string) (tracetest.SpanStub, bool) {
	for _, s := range spans {
		if s.Name == name {
			return s, true
		}
	}
	return tracetest.SpanStub{}, false
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// TestTaskContinuesTheTraceOfItsEnqueuer: a task enqueued in a span runs in
// a consumer span under the producer span, in the same trace, with the
// queue, task id, retries and tenant; its payload is what it always was. A
// task enqueued without trace headers, as an older ticketd enqueued them,
// still runs, in a trace of its own.
func TestTaskContinuesTheTraceOfItsEnqueuer(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	queue := "test-" + rdb.Prefix[len("test:"):len(rdb.Prefix)-1]
	redistest.CleanupAsynqQueue(t, rdb, queue)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	client := worker.NewClient(rdb.UniversalClient, queue)
	client.Trace(tp)
	tenantID := ticketing.NewID()

	ctx, request := tp.Tracer("test").Start(context.Background(), "POST /v1/webhooks/paystack", trace.WithSpanKind(trace.SpanKindServer))
	for _, ref := range []string{"bk_traced_1", "bk_unknown_1"} {
		if err := client.EnqueueVerify(ctx, tenantID, ref); err != nil {
			t.Fatal(err)
		}
	}
	request.End()
	info, err := asynq.NewInspectorFromRedisClient(rdb.UniversalClient).GetTaskInfo(queue, "payment-verify:bk_traced_1")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"tenantId":"` + tenantID + `","reference":"bk_traced_1"}`
	if string(info.Payload) != want {
		t.Fatalf("payload %s, want %s as before tracing", info.Payload, want)
	}
	// What an older ticketd enqueued: the same payload, no headers.
	old := asynq.NewClientFromRedisClient(rdb.UniversalClient)
	defer old.Close()
	oldPayload, _ := json.Marshal(map[string]string{"tenantId": tenantID, "reference": "bk_untraced_1"})
	if _, err := old.Enqueue(asynq.NewTask(worker.TypeVerifyPayment, oldPayload), asynq.Queue(queue)); err != nil {
		t.Fatal(err)
	}

	v := &spanRecorder{spans: map[string]trace.SpanContext{}}
	logs := &telemetrytest.LogBuffer{}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(runCtx, rdb.UniversalClient, worker.Config{Queue: queue, Concurrency: 2, SweepInterval: time.Hour},
			&worker.Handlers{Payments: v, Tenants: noTenants{}, Logger: slog.New(telemetry.TraceLogHandler(slog.NewJSONHandler(logs, nil))), Tracing: tp}, client)
	}()
	waitFor(t, func() (bool, string) {
		_, a := v.ran("bk_traced_1")
		_, b := v.ran("bk_untraced_1")
		return a && b && strings.Contains(logs.String(), `"task failed"`), "the verifications run, and the unknown reference's failure is logged"
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	producer, ok := stubNamed(spans, "enqueue payment:verify")
	if !ok {
		t.Fatalf("no producer span in %v", spans.Snapshots())
	}
	req := request.SpanContext()
	if producer.SpanKind != trace.SpanKindProducer || producer.Parent.SpanID() != req.SpanID() || producer.SpanContext.TraceID() != req.TraceID() {
		t.Errorf("producer %+v is not under the request %s", producer.SpanContext, req.SpanID())
	}
	for k, want := range map[string]string{"messaging.destination.name": queue, "messaging.message.id": "payment-verify:bk_traced_1",
		"ticketd.tenant": tenantID, "asynq.task.type": worker.TypeVerifyPayment} {
		if got := attr(producer, k); got != want {
			t.Errorf("producer %s = %q, want %q", k, got, want)
		}
	}
	// The consumer spans: the traced task's continues the trace, the old
	// task's starts one.
	var traced, untraced tracetest.SpanStub
	for _, s := range spans {
		if s.Name != "process payment:verify" {
			continue
		}
		switch attr(s, "messaging.message.id") {
		case "payment-verify:bk_traced_1":
			traced = s
		case "payment-verify:bk_unknown_1":
		default:
			untraced = s
		}
	}
	if traced.SpanKind != trace.SpanKindConsumer || traced.Parent.SpanID() != producer.SpanContext.SpanID() || traced.SpanContext.TraceID() != req.TraceID() {
		t.Errorf("consumer %+v parent %s, want under the producer %s in trace %s", traced.SpanContext, traced.Parent.SpanID(), producer.SpanContext.SpanID(), req.TraceID())
	}
	for k, want := range map[string]string{"messaging.destination.name": queue, "ticketd.tenant": tenantID,
		"asynq.task.retry_count": "0", "asynq.task.max_retry": "25", "messaging.operation.type": "process"} {
		if got := attr(traced, k); got != want {
			t.Errorf("consumer %s = %q, want %q", k, got, want)
		}
	}
	if sc, _ := v.ran("bk_traced_1"); !sc.Equal(traced.SpanContext) {
		t.Errorf("the handler ran in %s, not in the consumer span %s", sc.SpanID(), traced.SpanContext.SpanID())
	}
	// The failure's log line is in the task's trace.
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil || line["msg"] != "task failed" {
			continue
		}
		if line["trace_id"] != req.TraceID().String() || line["span_id"] == nil {
			t.Errorf("the failed task's log line is not in its trace %s: %s", req.TraceID(), l)
		}
	}
	if untraced.Parent.IsValid() || untraced.SpanContext.TraceID() == req.TraceID() || attr(untraced, "ticketd.tenant") != tenantID {
		t.Errorf("the task without headers ran in %+v (parent %s)", untraced.SpanContext, untraced.Parent.SpanID())
	}
}

// TestUntracedClientAddsNoHeaders: without Trace the client enqueues
// tasks exactly as before.
func TestUntracedClientAddsNoHeaders(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	queue := "test-" + rdb.Prefix[len("test:"):len(rdb.Prefix)-1]
	redistest.CleanupAsynqQueue(t, rdb, queue)
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	if err := worker.NewClient(rdb.UniversalClient, queue).EnqueueVerify(ctx, ticketing.NewID(), "bk_plain_1"); err != nil {
		t.Fatal(err)
	}
	info, err := asynq.NewInspectorFromRedisClient(rdb.UniversalClient).GetTaskInfo(queue, "payment-verify:bk_plain_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Headers) != 0 {
		t.Fatalf("headers %v", info.Headers)
	}
}
