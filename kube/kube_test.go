package kube

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

var lockDay = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// TestLock: one holder at a time; the loser fails at once or waits; a
// released lease goes to the next; an expired one is taken over.
func TestLock(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset()
	a, err := AcquireLock(ctx, c, "ns", "score", lockDay, "runner-a", 3*time.Second, false, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLock(ctx, c, "ns", "score", lockDay, "runner-b", 3*time.Second, false, 10*time.Millisecond); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "runner-a") {
		t.Fatalf("second runner: %v, want ErrLocked naming runner-a", err)
	}
	// Another stage or date is another lock.
	other, err := AcquireLock(ctx, c, "ns", "score", lockDay.AddDate(0, 0, 1), "runner-b", 3*time.Second, false, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("another date: %v", err)
	}
	other.Release(ctx)
	// A waiting runner gets the lease once it is released.
	got := make(chan error, 1)
	go func() {
		b, err := AcquireLock(ctx, c, "ns", "score", lockDay, "runner-b", 3*time.Second, true, 10*time.Millisecond)
		if err == nil {
			err = b.Release(ctx)
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("runner b got the lock while a held it: %v", err)
	default:
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("runner b after the release: %v", err)
	}
	// A crashed holder: its lease was renewed long ago and has expired.
	old := metav1.NewMicroTime(time.Now().Add(-time.Hour))
	holder, secs := "crashed", int32(60)
	if _, err := c.CoordinationV1().Leases("ns").Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName("train", lockDay)},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &old}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := AcquireLock(ctx, c, "ns", "train", lockDay, "runner-c", 3*time.Second, false, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("expired lease: %v", err)
	}
	lease, _ := c.CoordinationV1().Leases("ns").Get(ctx, LeaseName("train", lockDay), metav1.GetOptions{})
	if *lease.Spec.HolderIdentity != "runner-c" || lease.Spec.LeaseTransitions == nil || *lease.Spec.LeaseTransitions != 1 {
		t.Errorf("after the takeover: %+v", lease.Spec)
	}
	l.Release(ctx)
}

func testCronJob() *batchv1.CronJob {
	return &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "tessera-score", Namespace: "ns", UID: "uid-1"},
		Spec: batchv1.CronJobSpec{Schedule: "30 2 * * *", JobTemplate: batchv1.JobTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/component": "score"}},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "tessera", Image: "tessera:test", Args: []string{"run", "--stages", "features,score,publish", "--as-of", "2020-01-01"}}}}}}}}}
}

// finishJobs plays the Job controller: it marks every Job complete, but the
// one of failDay failed, until stop.
func finishJobs(c kubernetes.Interface, failDay string, stop chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		list, _ := c.BatchV1().Jobs("ns").List(context.Background(), metav1.ListOptions{})
		for _, j := range list.Items {
			if len(j.Status.Conditions) > 0 {
				continue
			}
			cond := batchv1.JobComplete
			if j.Annotations["tessera/as-of"] == failDay {
				cond = batchv1.JobFailed
			}
			j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
			c.BatchV1().Jobs("ns").UpdateStatus(context.Background(), &j, metav1.UpdateOptions{})
		}
	}
}

// TestBackfill: one Job per date from the CronJob's template with the date
// passed in, at most Parallel at once, failed dates reported; a re-run creates
// nothing new.
func TestBackfill(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset(testCronJob())
	stop := make(chan struct{})
	defer close(stop)
	go finishJobs(c, "2026-10-03", stop)
	var out bytes.Buffer
	o := BackfillOptions{CronJob: "tessera-score", Namespace: "ns", From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		To: time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC), Parallel: 2, Poll: 5 * time.Millisecond, Progress: time.Millisecond}
	res, err := Backfill(ctx, c, o, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Succeeded) != 4 || len(res.Failed) != 1 || res.Failed[0].Format(time.DateOnly) != "2026-10-03" {
		t.Errorf("succeeded %v, failed %v", res.Succeeded, res.Failed)
	}
	list, _ := c.BatchV1().Jobs("ns").List(ctx, metav1.ListOptions{})
	if len(list.Items) != 5 {
		t.Fatalf("%d jobs, want 5", len(list.Items))
	}
	for _, j := range list.Items {
		day := j.Annotations["tessera/as-of"]
		args := strings.Join(j.Spec.Template.Spec.Containers[0].Args, " ")
		if args != "run --stages features,score,publish --as-of "+day || j.Name != BackfillJobName("tessera-score", mustDate(t, day)) ||
			len(j.OwnerReferences) != 1 || j.OwnerReferences[0].Name != "tessera-score" {
			t.Errorf("job %s: args %q, owners %+v", j.Name, args, j.OwnerReferences)
		}
	}
	if !strings.Contains(out.String(), "5 of 5 dates done (1 failed)") {
		t.Errorf("progress:\n%s", out.String())
	}
	if _, err := Backfill(ctx, c, o, &out); err != nil {
		t.Fatal(err)
	}
	if again, _ := c.BatchV1().Jobs("ns").List(ctx, metav1.ListOptions{}); len(again.Items) != 5 {
		t.Errorf("a re-run made %d jobs, want the same 5", len(again.Items))
	}
	if _, err := Backfill(ctx, c, BackfillOptions{CronJob: "nope", Namespace: "ns", From: o.From, To: o.To}, &out); err == nil {
		t.Error("an unknown CronJob: want an error")
	}
}

func mustDate(t *testing.T, s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestBackfillIndexed: a backfill Job of a sharded score CronJob keeps its
// Indexed completions; the date goes after the shard argument.
func TestBackfillIndexed(t *testing.T) {
	cj := testCronJob()
	indexed, n := batchv1.IndexedCompletion, int32(4)
	cj.Spec.JobTemplate.Spec.CompletionMode, cj.Spec.JobTemplate.Spec.Completions, cj.Spec.JobTemplate.Spec.Parallelism = &indexed, &n, &n
	cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args = []string{"run", "--stages", "features,score,publish", "--shard", "$(JOB_COMPLETION_INDEX)/4"}
	c := fake.NewClientset(cj)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	day := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	Backfill(ctx, c, BackfillOptions{CronJob: cj.Name, Namespace: "ns", From: day, To: day, Poll: 10 * time.Millisecond}, io.Discard)
	j, err := c.BatchV1().Jobs("ns").Get(context.Background(), BackfillJobName(cj.Name, day), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(j.Spec.Template.Spec.Containers[0].Args, " ")
	if *j.Spec.CompletionMode != batchv1.IndexedCompletion || *j.Spec.Completions != 4 || args != "run --stages features,score,publish --shard $(JOB_COMPLETION_INDEX)/4 --as-of 2026-10-01" {
		t.Errorf("job %+v, args %q", j.Spec, args)
	}
}
