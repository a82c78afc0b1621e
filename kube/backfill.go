package kube

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// BackfillOptions say what to backfill.
type BackfillOptions struct {
	CronJob   string
	From, To  time.Time // inclusive
	Parallel  int       // Jobs running at once
	Poll      time.Duration
	Progress  time.Duration // a progress line at least this often
	Namespace string
}

// BackfillJobName is the Job of a CronJob for one date: the same name on a
// re-run, so a backfill never starts a date twice.
func BackfillJobName(cronJob string, day time.Time) string {
	name := cronJob
	if len(name) > 63-len("-bf-20060102") {
		name = name[:63-len("-bf-20060102")]
	}
	return name + "-bf-" + day.Format("20060102")
}

// BackfillJob is the Job for one date made from the CronJob's template, as
// `kubectl create job --from=cronjob/NAME` makes it, with --as-of DATE added
// to each container's arguments.
func BackfillJob(cj *batchv1.CronJob, day time.Time) *batchv1.Job {
	tpl := cj.Spec.JobTemplate.DeepCopy()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        BackfillJobName(cj.Name, day),
			Namespace:   cj.Namespace,
			Labels:      tpl.Labels,
			Annotations: map[string]string{"cronjob.kubernetes.io/instantiate": "manual", "tessera/as-of": day.Format(time.DateOnly)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID,
				Controller: new(true)}},
		},
		Spec: tpl.Spec,
	}
	if job.Labels == nil {
		job.Labels = map[string]string{}
	}
	job.Labels["tessera/backfill"] = "true"
	job.Labels["tessera/backfill-of"] = cj.Name
	for i := range job.Spec.Template.Spec.Containers {
		c := &job.Spec.Template.Spec.Containers[i]
		c.Args = append(withoutAsOf(c.Args), "--as-of", day.Format(time.DateOnly))
	}
	return job
}

// withoutAsOf drops an --as-of the template may carry.
func withoutAsOf(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--as-of" || args[i] == "-as-of":
			i++
		case strings.HasPrefix(args[i], "--as-of=") || strings.HasPrefix(args[i], "-as-of="):
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// BackfillResult says how each date went.
type BackfillResult struct {
	Succeeded, Failed []time.Time
}

// Backfill runs the CronJob's Job once per date, at most Parallel at a time,
// follows them with a progress line and returns the dates that failed. A Job
// that already exists for a date (a re-run of the backfill) is followed, not
// created again.
func Backfill(ctx context.Context, client kubernetes.Interface, o BackfillOptions, out io.Writer) (BackfillResult, error) {
	var res BackfillResult
	if o.To.Before(o.From) {
		return res, fmt.Errorf("backfill: --to %s is before --from %s", o.To.Format(time.DateOnly), o.From.Format(time.DateOnly))
	}
	o.Parallel = max(1, o.Parallel)
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Progress <= 0 {
		o.Progress = 10 * time.Second
	}
	jobs := client.BatchV1().Jobs(o.Namespace)
	cj, err := client.BatchV1().CronJobs(o.Namespace).Get(ctx, o.CronJob, metav1.GetOptions{})
	if err != nil {
		return res, fmt.Errorf("backfill: cronjob %s/%s: %w", o.Namespace, o.CronJob, err)
	}
	var days []time.Time
	for d := o.From; !d.After(o.To); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	running := map[string]time.Time{} // job name → date
	next, lastLine := 0, time.Time{}
	for {
		for len(running) < o.Parallel && next < len(days) {
			d := days[next]
			next++
			job := BackfillJob(cj, d)
			if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return res, fmt.Errorf("backfill %s: %w", d.Format(time.DateOnly), err)
			}
			running[job.Name] = d
		}
		// One list per poll, not a get per Job: the API server rate-limits clients.
		list, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: "tessera/backfill-of=" + cj.Name})
		if err != nil {
			return res, fmt.Errorf("backfill: %w", err)
		}
		for i := range list.Items {
			j := &list.Items[i]
			d, ok := running[j.Name]
			if !ok {
				continue
			}
			name := j.Name
			switch jobState(j) {
			case batchv1.JobComplete:
				res.Succeeded = append(res.Succeeded, d)
				delete(running, name)
			case batchv1.JobFailed:
				res.Failed = append(res.Failed, d)
				delete(running, name)
			}
		}
		done := len(res.Succeeded) + len(res.Failed)
		if done == len(days) || time.Since(lastLine) >= o.Progress {
			fmt.Fprintf(out, "backfill %s: %d of %d dates done (%d failed), %d running, %d waiting\n",
				o.CronJob, done, len(days), len(res.Failed), len(running), len(days)-next)
			lastLine = time.Now()
		}
		if done == len(days) {
			slices.SortFunc(res.Succeeded, func(a, b time.Time) int { return a.Compare(b) })
			slices.SortFunc(res.Failed, func(a, b time.Time) int { return a.Compare(b) })
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("backfill: %w", ctx.Err())
		case <-time.After(o.Poll):
		}
	}
}

// jobState is Complete or Failed once the Job has that condition, else "".
func jobState(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
			return c.Type
		}
	}
	return ""
}
