package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/synth"
)

// BenchmarkShards runs the pipeline on the generated shop of
// TESSERA_BENCH_CUSTOMERS customers (a million by default) as the Indexed Job
// of TESSERA_BENCH_SHARDS pods (4) would, but one pod after another on this
// machine, each stage of each pod its own `tessera` process: extract and
// train once, score in every shard (pod 0 last: it waits for what the
// others wrote), features' and publish's pods at once (they wait for each
// other's counts; their times are those of pods sharing the machine). It
// prints each process's time and peak resident memory (its VmHWM, read
// every 20 ms while it runs), and writes
// them to TESSERA_BENCH_OUT as JSON when set. TESSERA_BENCH_EVENT_SHARE
// writes that share of the site and campaign events.
func BenchmarkShards(b *testing.B) {
	n, shards := benchInt(b, "TESSERA_BENCH_CUSTOMERS", 1000000), benchInt(b, "TESSERA_BENCH_SHARDS", 4)
	ctx := context.Background()
	gen := synth.Defaults()
	gen.Customers = n
	name := fmt.Sprintf("train-%d", n)                        // the same shop as BenchmarkTrainSample's
	if s := os.Getenv("TESSERA_BENCH_EVENT_SHARE"); s != "" { // ten million customers' events do not fit the disk
		gen.EventShare, _ = strconv.ParseFloat(s, 64)
		name += "-events-" + s
	}
	shop := benchShop(ctx, b, gen, name)
	bin := buildTessera(b)
	cfg, _ := testClickHouse(b)
	type step struct {
		Stage   string  `json:"stage"`
		Shard   string  `json:"shard"`
		Seconds float64 `json:"seconds"`
		PeakMiB float64 `json:"peak_rss_mib"`
	}
	var steps []step
	asOf := gen.End.Format(time.DateOnly)
	env := []string{"TESSERA_CLICKHOUSE_ADDR=" + cfg.ClickHouse.Addr, "TESSERA_CLICKHOUSE_DATABASE=" + cfg.ClickHouse.Database,
		"TESSERA_SOURCE_FILES_DIR=" + shop, "TESSERA_DATA_DIR=" + b.TempDir(), "TESSERA_KUBE_WAIT=10s", "TESSERA_SHARD_JOB=bench", "TESSERA_LOG_LEVEL=warn"}
	run := func(stage string, shard int) {
		label := "-"
		if shard >= 0 {
			label = fmt.Sprintf("%d/%d", shard, shards)
		}
		pr := runTessera(b, bin, env, asOf, stage, label)
		seconds, peak := pr.Seconds, pr.PeakMiB
		steps = append(steps, step{stage, label, seconds, peak})
	}
	// Features' and publish's pods at once, as the Job starts them: each
	// waits for the others' counts (the lines' prices, the baskets); one
	// after another, the first would wait its ShareWait in vain and take
	// another way.
	atOnce := func(stage string) {
		runs := podsAtOnce(b, bin, env, asOf, stage, shards)
		for i := shards - 1; i >= 0; i-- {
			steps = append(steps, step{stage, fmt.Sprintf("%d/%d", i, shards), runs[i].Seconds, runs[i].PeakMiB})
		}
	}
	run("extract", -1)
	atOnce("features")
	run("train", -1)
	for i := shards - 1; i >= 0; i-- {
		run("score", i)
	}
	atOnce("publish")
	var rows []string
	total := 0.0
	for _, s := range steps {
		total += s.Seconds
		rows = append(rows, fmt.Sprintf("%-8s %-5s %7.1f s %8.0f MiB", s.Stage, s.Shard, s.Seconds, s.PeakMiB))
	}
	b.Logf("%d customers, %d shards one after another:\nstage    shard      time  peak RSS\n%s\ntotal %.1f s", n, shards, strings.Join(rows, "\n"), total)
	if path := os.Getenv("TESSERA_BENCH_OUT"); path != "" {
		out, _ := json.MarshalIndent(steps, "", "  ")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// podsAtOnce runs a stage's pods at once, as an Indexed Job starts them,
// each a `tessera` process; it returns each pod's run, by index.
func podsAtOnce(b *testing.B, bin string, env []string, asOf, stage string, shards int) []processRun {
	runs := make([]processRun, shards)
	var wg sync.WaitGroup
	for i := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = runTessera(b, bin, env, asOf, stage, fmt.Sprintf("%d/%d", i, shards))
		}()
	}
	wg.Wait()
	return runs
}

// benchInt is the integer the environment variable name sets, or def when
// it is unset; a value that is not an integer stops the benchmark.
func benchInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}

// benchShop is the generated shop gen describes: made in a temporary
// folder, or once under TESSERA_BENCH_CACHE/name and kept there.
func benchShop(ctx context.Context, b *testing.B, gen synth.Config, name string) string {
	b.Helper()
	shop := filepath.Join(b.TempDir(), "shop")
	if cache := os.Getenv("TESSERA_BENCH_CACHE"); cache != "" {
		shop = filepath.Join(cache, name)
	}
	if _, err := os.Stat(filepath.Join(shop, "orders.csv")); err != nil {
		if _, err := synth.Generate(ctx, gen, shop); err != nil {
			b.Fatal(err)
		}
	}
	return shop
}

// buildTessera builds the command, as the benchmarks run it.
func buildTessera(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "tessera")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/tessera").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runTessera runs one stage (of one shard, label "I/N"; "-": none) of the
// date as a process of bin, and returns its time and peak resident memory.
// processRun is what a `tessera` process took: wall time, peak resident
// memory, and its own CPU time (user and system).
type processRun struct {
	Seconds       float64 `json:"seconds"`
	PeakMiB       float64 `json:"peak_mib"`
	OwnCPUSeconds float64 `json:"process_cpu_seconds"`
}

func runTessera(b *testing.B, bin string, env []string, asOf, stage, label string) processRun {
	b.Helper()
	args := []string{"run", "--as-of", asOf, "--stages", stage}
	if label != "-" {
		args = append(args, "--shard", label)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// The kernel's maximum RSS of a child (wait4) starts from this
	// process's, which the child shared until it exec'd: the child's own
	// high-water mark is read from /proc while it runs.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peakKiB int64
	var err error
poll:
	for {
		peakKiB = max(peakKiB, highWater(cmd.Process.Pid))
		select {
		case err = <-done:
			break poll
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", stage, label, err, out.String())
	}
	ps := cmd.ProcessState
	return processRun{time.Since(start).Seconds(), float64(peakKiB) / 1024, (ps.UserTime() + ps.SystemTime()).Seconds()}
}

// highWater is a process's peak resident memory so far (VmHWM), in KiB; 0
// once it is gone.
func highWater(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib
		}
	}
	return 0
}
