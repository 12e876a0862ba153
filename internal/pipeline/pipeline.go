// Package pipeline sends the Redis script calls of concurrent requests
// together: a group commit of EVALSHAs (package batch). When an on-sale
// opens, thousands of requests a second each call a script once, and a round
// trip each, a pair of system calls at both ends, would be much of the work.
// Redis runs a pipeline's calls one after another in the order they were
// added, each script as atomically as alone. Under light load a pipeline is
// one call and nothing waits.
package pipeline

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/batch"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Batching: at most this many calls in one pipeline, this many pipelines at
// once, each given this long.
const (
	maxBatch    = 128
	maxFlushers = 2
	timeout     = 5 * time.Second
)

// Scripts runs scripts on a client in shared pipelines.
type Scripts struct {
	c     goredis.UniversalClient
	calls batch.Group[*call]
}

type call struct {
	ctx    context.Context
	script *goredis.Script
	keys   []string
	args   []any
	res    any
	err    error
	done   chan struct{}
}

// New returns Scripts on c.
func New(c goredis.UniversalClient) *Scripts {
	s := &Scripts{c: c}
	// Organizers take turns in a pipeline, as in the group commit: one
	// organizer's flood of calls delays another's by a slot, not by the
	// flood.
	s.calls = batch.Group[*call]{Flushers: maxFlushers, Max: maxBatch, Run: s.run,
		Owner: func(c *call) string {
			if t := ticketing.TenantFromContext(c.ctx); t != nil {
				return t.ID
			}
			return ""
		}}
	return s
}

// Run runs script with keys and args in the next pipeline and returns its
// answer. A call, once queued, runs whatever happens to ctx (an abandoned
// call could leave what it wrote without anyone to undo it), so Run waits
// for it; only a ctx ended before the call is queued stops it.
func (s *Scripts) Run(ctx context.Context, script *goredis.Script, keys []string, args ...any) *goredis.Cmd {
	if err := ctx.Err(); err != nil {
		cmd := goredis.NewCmd(ctx)
		cmd.SetErr(err)
		return cmd
	}
	c := &call{ctx: ctx, script: script, keys: keys, args: args, done: make(chan struct{})}
	s.calls.Add(c)
	<-c.done
	cmd := goredis.NewCmd(ctx)
	if c.err != nil {
		cmd.SetErr(c.err)
	} else {
		cmd.SetVal(c.res)
	}
	return cmd
}

// run sends a batch in one pipeline, traced under its first call's request.
// A call that finds its script missing from Redis's cache (Redis restarted)
// runs again on its own, which loads it.
func (s *Scripts) run(b []*call) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b[0].ctx), timeout)
	defer cancel()
	cmds := make([]*goredis.Cmd, len(b))
	_, _ = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range b {
			cmds[i] = c.script.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	for i, c := range b {
		c.res, c.err = cmds[i].Result()
		if goredis.HasErrorPrefix(c.err, "NOSCRIPT") {
			c.res, c.err = c.script.Run(ctx, s.c, c.keys, c.args...).Result()
		}
		close(c.done)
	}
}
