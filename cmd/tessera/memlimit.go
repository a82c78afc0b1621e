package main

import (
	"runtime/debug"
	"strconv"
	"strings"
)

// containerMemoryLimit is the memory limit of the container the process runs
// in, from the cgroup files read gives (v2's memory.max, else v1's
// memory.limit_in_bytes); ok is false without one.
func containerMemoryLimit(read func(string) ([]byte, error)) (limit int64, ok bool) {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := read(path)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v <= 0 || v >= 1<<62 { // "max", or v1's page-rounded maximum: no limit
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// container's, unless GOMEMLIMIT says otherwise: without one the heap grows to
// twice what is live before a collection, and a pod that reaches its limit is
// killed (a shard of ten million customers' features held about 3 GiB and
// peaked at 6.3 GiB without it). It returns the limit set, 0 for none.
func setMemoryLimit(getenv func(string) string, read func(string) ([]byte, error)) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0 // the runtime read it at start
	}
	limit, ok := containerMemoryLimit(read)
	if !ok {
		return 0
	}
	soft := limit / 10 * 9
	debug.SetMemoryLimit(soft)
	return soft
}
