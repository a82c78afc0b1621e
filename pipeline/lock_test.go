package pipeline

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tessera-cdp/tessera/kube"
)

var lockDay = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// TestLockStages: with kube.lock on, a run takes one lease per stage (one per
// shard for a sharded score) and a second run of the same stages and date is
// refused while the first holds them.
func TestLockStages(t *testing.T) {
	c := fake.NewClientset()
	locker := kube.Leases{Client: c, Namespace: "ns", Holder: "pod-a", TTL: 15 * time.Second}
	ctx := context.Background()
	log := logrus.New()
	log.SetOutput(io.Discard)
	release, err := lockStages(ctx, locker, []string{"features", "score", "publish"}, lockDay, Shard{Index: 1, Of: 4, Job: "j"}, log)
	if err != nil {
		t.Fatal(err)
	}
	leases, _ := c.CoordinationV1().Leases("ns").List(ctx, metav1.ListOptions{})
	var names []string
	for _, l := range leases.Items {
		names = append(names, l.Name)
	}
	if strings.Join(names, " ") != "tessera-features-20261101 tessera-publish-20261101 tessera-score-1of4-20261101" {
		t.Errorf("leases %v", names)
	}
	other := locker
	other.Holder = "pod-b"
	if _, err := lockStages(ctx, other, []string{"publish"}, lockDay, NoShard, log); !errors.Is(err, kube.ErrLocked) {
		t.Errorf("a second run: %v, want ErrLocked", err)
	}
	release()
	again, err := lockStages(ctx, other, []string{"publish"}, lockDay, NoShard, log)
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	again()
	if r, err := lockStages(ctx, nil, []string{"score"}, lockDay, NoShard, log); err != nil {
		t.Fatal(err)
	} else {
		r()
	}
}
