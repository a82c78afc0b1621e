package main

import (
	"errors"
	"os"
	"runtime/debug"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"cgroup v2 limit", map[string]string{"/sys/fs/cgroup/memory.max": "4294967296\n"}, 4294967296},
		{"cgroup v2 without limit", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0},
		{"cgroup v1 limit", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "6442450944\n"}, 6442450944},
		{"cgroup v1 without limit", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"no cgroup files", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			read := func(path string) ([]byte, error) {
				if v, ok := c.files[path]; ok {
					return []byte(v), nil
				}
				return nil, os.ErrNotExist
			}
			got, ok := containerMemoryLimit(read)
			if got != c.want || ok != (c.want > 0) {
				t.Errorf("limit %d (%v), want %d", got, ok, c.want)
			}
		})
	}
}

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // the test binary's own limit back
	limited := func(string) ([]byte, error) { return []byte("4000000000\n"), nil }
	none := func(string) ([]byte, error) { return nil, errors.New("no cgroup") }
	if got := setMemoryLimit(func(string) string { return "" }, limited); got != 3600000000 || debug.SetMemoryLimit(-1) != 3600000000 {
		t.Errorf("set %d, the runtime has %d; want 90%% of the container's 4,000,000,000", got, debug.SetMemoryLimit(-1))
	}
	if got := setMemoryLimit(func(k string) string { return map[string]string{"GOMEMLIMIT": "1GiB"}[k] }, limited); got != 0 {
		t.Errorf("with GOMEMLIMIT set, it set %d", got)
	}
	if got := setMemoryLimit(func(string) string { return "" }, none); got != 0 {
		t.Errorf("without a container limit, it set %d", got)
	}
}
