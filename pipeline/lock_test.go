package pipeline

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tessera-cdp/tessera/kube"
)

var lockDay = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// TestLockStages: with Leases, the pods of one sharded Job hold the date's
// stages together and each its own shard of them; another Job and a run in
// one process are refused while any pod of the Job holds them; a pod other
// than 0 that ends leaves them held for the others, shard 0 frees them once
// it succeeded; two pods of one index are refused.
func TestLockStages(t *testing.T) {
	c := fake.NewClientset()
	locker := func(pod string) kube.Leases {
		return kube.Leases{Client: c, Namespace: "ns", Holder: pod, TTL: 15 * time.Second}
	}
	ctx := context.Background()
	log := logrus.New()
	log.SetOutput(io.Discard)
	run := func(sh Shard) Run { return Run{AsOf: lockDay, Shard: sh} }
	stages := []string{"features", "score", "publish"}
	pod := func(name string, i int, job string) (func(bool), error) {
		return lockStages(ctx, locker(name), stages, run(Shard{Index: i, Of: 4, Job: job}), log)
	}
	var pods []func(bool)
	for i, name := range []string{"j-0", "j-1", "j-2", "j-3"} {
		release, err := pod(name, i, "j")
		if err != nil {
			t.Fatalf("pod %d of job j: %v", i, err)
		}
		pods = append(pods, release)
	}
	leases, _ := c.CoordinationV1().Leases("ns").List(ctx, metav1.ListOptions{})
	holders := map[string]string{}
	for _, l := range leases.Items {
		holders[l.Name] = *l.Spec.HolderIdentity
	}
	for _, want := range []struct{ lease, holder string }{{"tessera-features-20261101", "job j"}, {"tessera-publish-20261101", "job j"},
		{"tessera-score-20261101", "job j"}, {"tessera-score-1of4-20261101", "j-1"}, {"tessera-publish-3of4-20261101", "j-3"}} {
		if holders[want.lease] != want.holder {
			t.Errorf("lease %s held by %q, want %q (all: %v)", want.lease, holders[want.lease], want.holder, holders)
		}
	}
	if len(holders) != 3+3*4 {
		t.Errorf("%d leases, want 15: %v", len(holders), holders)
	}
	refused := func(what string, l Locker, sh Shard) {
		t.Helper()
		if _, err := lockStages(ctx, l, []string{"publish"}, run(sh), log); !errors.Is(err, kube.ErrLocked) {
			t.Errorf("%s: %v, want ErrLocked", what, err)
		}
	}
	refused("a pod of another Job", locker("k-0"), Shard{Index: 0, Of: 4, Job: "k"})
	refused("a run in one process", locker("manual"), NoShard)
	refused("a second pod 2 of the Job", locker("j-2-again"), Shard{Index: 2, Of: 4, Job: "j"})
	for _, i := range []int{1, 2, 3} {
		pods[i](true) // done: the Job's stages stay held by pod 0
	}
	refused("another Job while pod 0 runs", locker("k-0"), Shard{Index: 0, Of: 4, Job: "k"})
	again, err := pod("j-1-again", 1, "j") // a pod restarted by its Job
	if err != nil {
		t.Fatalf("pod 1 of the Job restarted: %v", err)
	}
	again(true)
	pods[0](true)
	other, err := lockStages(ctx, locker("manual"), []string{"publish"}, run(NoShard), log)
	if err != nil {
		t.Fatalf("after the Job: %v", err)
	}
	other(true)
	leases, _ = c.CoordinationV1().Leases("ns").List(ctx, metav1.ListOptions{})
	for _, l := range leases.Items {
		if h := l.Spec.HolderIdentity; h != nil && *h != "" {
			t.Errorf("lease %s still held by %s", l.Name, *h)
		}
	}
	if r, err := lockStages(ctx, nil, []string{"score"}, run(NoShard), log); err != nil {
		t.Fatal(err)
	} else {
		r(true)
	}
}
