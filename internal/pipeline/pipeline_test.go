package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/pipeline"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// count adds 1 to KEYS[1] and answers ARGV[1] with the new count.
var count = goredis.NewScript(`return {ARGV[1], redis.call('INCR', KEYS[1])}`)

// TestConcurrentCallsGetTheirOwnAnswers: calls of many requests (of two
// organizers) share pipelines, each runs once and gets its own answer.
func TestConcurrentCallsGetTheirOwnAnswers(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	s := pipeline.New(rdb.UniversalClient)
	key := rdb.Prefix + "count"
	const n = 500
	var wg sync.WaitGroup
	seen := make([]bool, n+1)
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := ticketing.WithTenant(context.Background(), &ticketing.Tenant{ID: fmt.Sprint("t", i%2)})
			res, err := s.Run(ctx, count, []string{key}, fmt.Sprint(i)).Slice()
			if err != nil || res[0] != fmt.Sprint(i) {
				t.Errorf("call %d: %v %v", i, res, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			c := res[1].(int64)
			if c < 1 || c > n || seen[c] {
				t.Errorf("call %d saw count %d twice or out of range", i, c)
				return
			}
			seen[c] = true
		}()
	}
	wg.Wait()
	if got, err := rdb.UniversalClient.Get(context.Background(), key).Int(); err != nil || got != n {
		t.Fatalf("the script ran %d times (%v), want %d", got, err, n)
	}
}

// TestEndedRequestRunsNothing: a call whose request has already ended is
// refused before it is queued, and the script does not run.
func TestEndedRequestRunsNothing(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	s := pipeline.New(rdb.UniversalClient)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx, count, []string{rdb.Prefix + "count"}, "x").Err(); err == nil {
		t.Fatal("a call of an ended request ran")
	}
	if n, _ := rdb.UniversalClient.Exists(context.Background(), rdb.Prefix+"count").Result(); n != 0 {
		t.Fatal("the script ran for an ended request")
	}
}
