package main

import (
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryFiles are where a container's memory limit is read: cgroup v2,
// then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// memoryLimit returns 90% of the container's memory limit, read with read
// from the cgroup files, or 0 when there is none (no container, "max", or
// v1's "unlimited", a number near the largest int64).
func memoryLimit(read func(string) ([]byte, error)) int64 {
	for _, f := range cgroupMemoryFiles {
		b, err := read(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0
		}
		return n / 10 * 9
	}
	return 0
}

// tuneGC sets the collector for the on-sale path: GOGC=400 unless GOGC is
// set (a small live heap at the start of a burst made the collector run
// often enough to show in the p99, docs/benchmarks.md), with a soft memory
// limit of 90% of the container's unless GOMEMLIMIT is set, so that the
// higher GOGC never runs a container out of memory: near the limit the
// collector runs as often as it must.
func tuneGC(getenv func(string) string, read func(string) ([]byte, error)) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		if limit := memoryLimit(read); limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}
