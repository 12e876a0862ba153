package redis

import (
	"github.com/redis/go-redis/extra/redisotel/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/telemetry"
)

// Trace makes every command and pipeline run in a traced context (a
// request's, a task's) a client span under the caller's span, named after
// the command (evalsha for the Lua scripts). Spans carry the command's name
// only, never its arguments: keys hold emails and tokens, and values what
// buyers hold. Commands outside any trace make no span, so asynq's polling
// on the same client makes none.
func (c *Client) Trace(tp trace.TracerProvider) error {
	return redisotel.InstrumentTracing(c.UniversalClient,
		redisotel.WithTracerProvider(telemetry.ChildSpansOnly(tp)),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false))
}
