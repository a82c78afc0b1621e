// Package kube is Tessera's side of Kubernetes: the run lock (a
// coordination.k8s.io Lease per stage and date) and backfill (one Job per date
// from a CronJob's template). It is the only package that imports client-go.
package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Client connects to Kubernetes: in-cluster config inside a pod, else the
// kubeconfig (the given path, $KUBECONFIG or ~/.kube/config). namespace is the
// pod's own, or the kubeconfig context's ("default" when it names none).
func Client(kubeconfig string) (client kubernetes.Interface, namespace string, err error) {
	if kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", fmt.Errorf("in-cluster config: %w", err)
		}
		ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		if err != nil {
			return nil, "", fmt.Errorf("in-cluster namespace: %w", err)
		}
		c, err := kubernetes.NewForConfig(cfg)
		return c, strings.TrimSpace(string(ns)), err
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	if namespace, _, err = cc.Namespace(); err != nil {
		return nil, "", fmt.Errorf("kubeconfig namespace: %w", err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	return c, namespace, err
}

// ErrLocked is returned when another runner holds the lease and we do not wait.
var ErrLocked = errors.New("another run holds the lock")

// Lock is a held coordination.k8s.io Lease: one per stage and as-of date, so
// that a manual run and a scheduled one never write the same date at once. A
// holder that dies stops renewing, and its lease expires.
type Lock struct {
	client       kubernetes.Interface
	ns, name, id string
	ttl          time.Duration
	stop         chan struct{}
	done         chan error
}

// LeaseName is the lease of a stage and date.
func LeaseName(stage string, asOf time.Time) string {
	return "tessera-" + stage + "-" + asOf.Format("20060102")
}

// AcquireLock takes the lease of the stage and date for holder. A lease held
// by another and not expired makes it wait (polling every poll) until the
// context ends, or, without wait, fail at once with ErrLocked. While held, the
// lease is renewed every ttl/3 until Release.
func AcquireLock(ctx context.Context, client kubernetes.Interface, ns, stage string, asOf time.Time, holder string, ttl time.Duration, wait bool, poll time.Duration) (*Lock, error) {
	l := &Lock{client: client, ns: ns, name: LeaseName(stage, asOf), id: holder, ttl: ttl}
	for {
		other, until, err := l.try(ctx)
		if err == nil {
			l.stop, l.done = make(chan struct{}), make(chan error, 1)
			go l.keep()
			return l, nil
		}
		if !errors.Is(err, ErrLocked) {
			return nil, err
		}
		if !wait {
			return nil, fmt.Errorf("lease %s/%s: %w: %s, until %s at the latest", ns, l.name, ErrLocked, other, until.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lease %s/%s still held by %s: %w", ns, l.name, other, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// try takes the lease if it is free, expired or ours; else it says who holds
// it and until when.
func (l *Lock) try(ctx context.Context) (string, time.Time, error) {
	leases := l.client.CoordinationV1().Leases(l.ns)
	now := metav1.NewMicroTime(time.Now())
	secs := int32(l.ttl / time.Second)
	lease, err := leases.Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: l.name, Labels: map[string]string{"app.kubernetes.io/name": "tessera"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &l.id, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now}}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return "someone who just took it", time.Now().Add(l.ttl), ErrLocked
		}
		return "", time.Time{}, err
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("lease %s/%s: %w", l.ns, l.name, err)
	}
	s := lease.Spec
	holder := ""
	if s.HolderIdentity != nil {
		holder = *s.HolderIdentity
	}
	if holder != "" && holder != l.id && s.RenewTime != nil && s.LeaseDurationSeconds != nil {
		until := s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second)
		if time.Now().Before(until) {
			return holder, until, ErrLocked
		}
	}
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = &l.id, &secs, &now
	if holder != l.id {
		lease.Spec.AcquireTime = &now
		transitions := int32(0)
		if s.LeaseTransitions != nil {
			transitions = *s.LeaseTransitions
		}
		transitions++
		lease.Spec.LeaseTransitions = &transitions
	}
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) { // someone else wrote it between our get and update
		return "someone who just took it", time.Now().Add(l.ttl), ErrLocked
	}
	return "", time.Time{}, err
}

// keep renews the lease every ttl/3 until Release.
func (l *Lock) keep() {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.done <- nil
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
			_, _, err := l.try(ctx)
			cancel()
			if err != nil {
				l.done <- fmt.Errorf("lease %s/%s lost: %w", l.ns, l.name, err)
				return
			}
		}
	}
}

// Leave stops renewing without freeing the lease: for a runner that shares
// its holder with others still at work (a pod of a Job other than the last),
// who renew it; once none does, it lapses after its TTL.
func (l *Lock) Leave() error {
	close(l.stop)
	return <-l.done
}

// Release stops renewing and frees the lease for the next runner.
func (l *Lock) Release(ctx context.Context) error {
	if err := l.Leave(); err != nil {
		return err
	}
	leases := l.client.CoordinationV1().Leases(l.ns)
	lease, err := leases.Get(ctx, l.name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("release lease %s/%s: %w", l.ns, l.name, err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != l.id {
		return nil // expired and taken over: not ours to free
	}
	lease.Spec.HolderIdentity = nil
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("release lease %s/%s: %w", l.ns, l.name, err)
	}
	return nil
}

// Holder is who a runner says it is in leases: the pod's name, else host and pid.
func Holder() string {
	if p := os.Getenv("POD_NAME"); p != "" {
		return p
	}
	h, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", h, os.Getpid(), filepath.Base(os.Args[0]))
}

// Leases takes the run lock of a stage and date as a Lease, waiting up to
// Wait for a holder to let go (at once when Wait is 0).
type Leases struct {
	Client    kubernetes.Interface
	Namespace string
	Holder    string
	TTL       time.Duration
	Wait      time.Duration
	Poll      time.Duration // how often a waiting runner looks again
}

// Lock takes the lease of each name (a stage, or a stage's shard) and date,
// in order, for holder ("": this runner, k.Holder). Runners naming the same
// holder (the pods of one Job) hold a lease together: each renews it, and
// unlock frees it only when last says no runner of the holder still needs it;
// otherwise the runner just stops renewing.
func (k Leases) Lock(ctx context.Context, names []string, asOf time.Time, holder string) (unlock func(ctx context.Context, last bool) error, where string, err error) {
	poll := k.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	if holder == "" {
		holder = k.Holder
	}
	var held []*Lock
	unlock = func(ctx context.Context, last bool) error {
		var errs []error
		for i := len(held) - 1; i >= 0; i-- {
			if last {
				errs = append(errs, held[i].Release(ctx))
			} else {
				errs = append(errs, held[i].Leave())
			}
		}
		return errors.Join(errs...)
	}
	var leases []string
	for _, name := range names {
		wctx, cancel := context.WithTimeout(ctx, max(k.Wait, time.Second))
		l, err := AcquireLock(wctx, k.Client, k.Namespace, name, asOf, holder, k.TTL, k.Wait > 0, poll)
		cancel()
		if err != nil {
			unlock(context.WithoutCancel(ctx), holder == k.Holder) // a shared lease may be another runner's too
			return nil, "", err
		}
		held = append(held, l)
		leases = append(leases, k.Namespace+"/"+LeaseName(name, asOf))
	}
	return unlock, "lease " + strings.Join(leases, ", ") + " held by " + holder, nil
}
