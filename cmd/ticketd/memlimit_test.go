package main

import (
	"errors"
	"testing"
)

func TestMemoryLimitComesFromTheContainer(t *testing.T) {
	for name, tc := range map[string]struct {
		files map[string]string
		want  int64
	}{
		"cgroupV2":          {map[string]string{"/sys/fs/cgroup/memory.max": "536870912\n"}, 536870912 / 10 * 9},
		"cgroupV2Unlimited": {map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0},
		"cgroupV1":          {map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n"}, 268435456 / 10 * 9},
		"cgroupV1Unlimited": {map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		"noContainer":       {map[string]string{}, 0},
	} {
		t.Run(name, func(t *testing.T) {
			read := func(path string) ([]byte, error) {
				if s, ok := tc.files[path]; ok {
					return []byte(s), nil
				}
				return nil, errors.New("no such file")
			}
			if got := memoryLimit(read); got != tc.want {
				t.Fatalf("memoryLimit = %d, want %d", got, tc.want)
			}
		})
	}
}
