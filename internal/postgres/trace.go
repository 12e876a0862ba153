package postgres

import (
	"context"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Option configures the pool that Open connects.
type Option func(*pgxpool.Config)

// WithTracing makes every query run in a traced context (a request's, a
// task's) a client span under the caller's span, named after its operation
// (SELECT, INSERT…) and carrying its SQL text: the text from queries/*.sql
// with its $n placeholders, never the values bound to them (otelpgx records
// those only when asked to, and is not). Waits for a pooled connection are
// spans too. Queries outside any trace make no span.
func WithTracing(tp trace.TracerProvider) Option {
	return func(cfg *pgxpool.Config) {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp),
			otelpgx.WithMeterProvider(noop.NewMeterProvider()))
	}
}

// instrumentation names the spans' origin.
const instrumentation = "github.com/ticketd-io/ticketd/internal/postgres"

// commitSpan starts the span of a group commit, under which its SQL is
// traced: a trace of its own, since it writes the bookings of many
// requests, linked to the span of each of them. With no traced request in
// the batch it starts none.
func commitSpan(ctx context.Context, batch []*insertRequest) (context.Context, trace.Span) {
	var (
		links []trace.Link
		tp    trace.TracerProvider
	)
	for _, r := range batch {
		if sc := r.span.SpanContext(); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
			tp = r.span.TracerProvider()
		}
	}
	if tp == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	return tp.Tracer(instrumentation).Start(ctx, "booking group commit", trace.WithNewRoot(), trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("ticketd.bookings", len(batch))))
}
