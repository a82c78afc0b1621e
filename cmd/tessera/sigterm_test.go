package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/tessera-cdp/tessera/kube"
	"github.com/tessera-cdp/tessera/servicetest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestMain lets a test run this test binary as the tessera command, so that
// it can be signalled as Kubernetes signals a pod.
func TestMain(m *testing.M) {
	if os.Getenv("TESSERA_TEST_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestSIGTERM: what Kubernetes sends a pod it stops. A run holding its lease
// (a real kube-apiserver) in the middle of extract stops within seconds, well
// inside the default 30 s grace period, exits 1 saying why, records the failed
// stage, and frees the lease for the next run.
func TestSIGTERM(t *testing.T) {
	kubeconfig := servicetest.Kubeconfig(t)
	ch := servicetest.ClickHouse(t)
	shop := t.TempDir()
	var out bytes.Buffer
	if code := run([]string{"generate", "--customers", "40000", "--out", shop}, &out, &out); code != 0 {
		t.Fatalf("generate: %s", out.String())
	}
	var b [3]byte
	rand.Read(b[:])
	db := "tessera_sigterm_" + hex.EncodeToString(b[:])
	asOf := fmt.Sprintf("2019-%02d-%02d", 1+int(b[0])%12, 1+int(b[1])%28) // a lease of its own
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() }) // after the drop: a deferred close ran before it, and left the database
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })

	cmd := exec.Command(os.Args[0], "run", "--as-of", asOf)
	cmd.Env = append(os.Environ(), "TESSERA_TEST_RUN_MAIN=1", "TESSERA_CLICKHOUSE_ADDR="+ch, "TESSERA_CLICKHOUSE_DATABASE="+db,
		"TESSERA_SOURCE_FILES_DIR="+shop, "TESSERA_KUBE_LOCK=on", "TESSERA_KUBE_KUBECONFIG="+kubeconfig,
		"TESSERA_DATA_DIR="+t.TempDir(), "TESSERA_LOG_LEVEL=info")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	leases := client.CoordinationV1().Leases("default")
	name := kube.LeaseName("extract", mustDate(t, asOf))
	holder := func() string {
		l, err := leases.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	deadline := time.Now().Add(60 * time.Second)
	for holder() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the run never took lease %s:\n%s", name, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Into the extract: the raw tables start filling.
	for {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".raw_customers").Scan(&n); err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("extract never landed a row:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	took := time.Since(sent)
	t.Logf("stopped %s after SIGTERM", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("took %s to stop after SIGTERM", took)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit %v, want code 1", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, `"level":"error"`) || !strings.Contains(last, "canceled") {
		t.Errorf("last log line %q does not say it was stopped", last)
	}
	if h := holder(); h != "" {
		t.Errorf("lease %s still held by %s", name, h)
	}
	var status, message string
	if err := conn.QueryRow(context.Background(), "SELECT status, message FROM "+db+".runs WHERE stage = 'extract'").Scan(&status, &message); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || !strings.Contains(message, "canceled") {
		t.Errorf("runs says %s: %s", status, message)
	}
}

func mustDate(t *testing.T, s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
