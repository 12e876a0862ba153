package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// bulkSlug is the slug of the i-th organizer deploy/bench.sh provisions with
// BENCH_TENANTS (1-based), which -tenants resolves.
func bulkSlug(i int) string { return fmt.Sprintf("bulk-%05d", i) }

// tenantsReport is what resolving the other organizers measured: how long
// it took, and ticketd's heap before and after (after a collection each
// time, when -pprof names ticketd's profiler; otherwise the heap in use,
// garbage included), from which the memory of one cached organizer.
type tenantsReport struct {
	Tenants          int     `json:"tenants"`
	Failed           int     `json:"failed"`
	Seconds          float64 `json:"seconds"`
	HeapBefore       float64 `json:"heapInuseBytesBefore"`
	HeapAfter        float64 `json:"heapInuseBytesAfter"`
	BytesPerTenant   float64 `json:"bytesPerTenant"`
	CachedAfter      float64 `json:"tenantCacheEntriesAfter"`
	CollectedGarbage bool    `json:"collectedGarbage"`
}

// resolveTenants reads the events of each of n organizers once (GET
// /v1/events with X-Tenant bulk-00001 …), from conns goroutines, so that
// ticketd's tenant cache holds all of them while the phases run: the
// booking path of one organizer must not slow down because ten thousand
// others exist (issue 17).
func resolveTenants(ctx context.Context, o options, metrics *client, stdout io.Writer) (*tenantsReport, error) {
	const conns = 32
	rep := &tenantsReport{Tenants: o.Tenants}
	gc := o.Pprof != ""
	rep.CollectedGarbage = gc
	rep.HeapBefore = heapInuse(o, metrics, gc)
	var next, failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	t0 := time.Now()
	for range conns {
		c, err := newClient(o.URL, 1, o.Timeout)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1))
				if i > o.Tenants {
					return
				}
				c.tenant = bulkSlug(i)
				if err := c.call("GET", "/v1/events?limit=1", "", nil, nil, 200); err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	rep.Seconds = time.Since(t0).Seconds()
	rep.Failed = int(failed.Load())
	rep.HeapAfter = heapInuse(o, metrics, gc)
	if v, ok := metrics.metricValues(`ticketd_tenant_cache_entries{kind="found"}`); ok {
		rep.CachedAfter = v[0]
	}
	if o.Tenants > 0 && rep.HeapBefore > 0 && rep.HeapAfter > 0 {
		rep.BytesPerTenant = (rep.HeapAfter - rep.HeapBefore) / float64(o.Tenants)
	}
	fmt.Fprintf(stdout, "ticketbench: %d other organizers resolved in %.1f s (%d failed); ticketd heap in use %.1f → %.1f MiB (%s), %.0f bytes per organizer; tenant cache entries %.0f\n",
		o.Tenants, rep.Seconds, rep.Failed, rep.HeapBefore/(1<<20), rep.HeapAfter/(1<<20),
		map[bool]string{true: "after a collection", false: "garbage included"}[gc], rep.BytesPerTenant, rep.CachedAfter)
	if rep.Failed > 0 {
		return rep, fmt.Errorf("resolving the other organizers (BENCH_TENANTS provisions them): %d failed, first: %w", rep.Failed, firstErr)
	}
	return rep, ctx.Err()
}

// heapInuse reads go_memstats_heap_inuse_bytes from ticketd's /metrics,
// first making ticketd collect its garbage (a heap profile with gc=1 from
// its profiler) when gc is set; 0 when it cannot be read.
func heapInuse(o options, metrics *client, gc bool) float64 {
	if gc {
		if p, err := newClient(o.Pprof, 1, time.Minute); err == nil {
			_ = p.call("GET", "/debug/pprof/heap?gc=1", "", nil, nil, 200)
		}
	}
	v, ok := metrics.metricValues("go_memstats_heap_inuse_bytes")
	if !ok {
		return 0
	}
	return v[0]
}
