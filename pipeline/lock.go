package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/warehouse"
)

// Locker takes the run lock of names (stages, or a stage's shard) for a
// date, so that two runs never write the same date at once: a Kubernetes
// Lease in a cluster (package kube), else the warehouse's (StoreLock).
// holder "" is the runner itself; runners naming the same holder (the pods
// of one Job) hold the names together. unlock ends this runner's hold; last
// says no other runner of its holder still needs the names (a lock that
// cannot count its sharers, a Lease, is freed only then).
type Locker interface {
	Lock(ctx context.Context, names []string, asOf time.Time, holder string) (unlock func(ctx context.Context, last bool) error, where string, err error)
}

// StoreLock is the run lock the warehouse holds: claims in ClickHouse, or
// advisory locks on the embedded folder's files. Each runner's hold is its
// own there, so last changes nothing.
type StoreLock struct {
	Store   warehouse.Store
	Options warehouse.LockOptions
}

// NewStoreLock is the warehouse's run lock as kube configures it, for holder.
func NewStoreLock(st warehouse.Store, k config.Kube, holder string) StoreLock {
	return StoreLock{Store: st, Options: warehouse.LockOptions{Holder: holder, TTL: time.Duration(k.LeaseSeconds) * time.Second, Wait: k.Wait}}
}

// Lock takes the names' lock for the date.
func (l StoreLock) Lock(ctx context.Context, names []string, asOf time.Time, holder string) (func(context.Context, bool) error, string, error) {
	o := l.Options
	if holder != "" {
		o.Holder = holder
	}
	unlock, where, err := l.Store.Lock(ctx, names, asOf, o)
	if err != nil {
		return nil, "", err
	}
	return func(ctx context.Context, _ bool) error { return unlock(ctx) }, where, nil
}

// lockStages takes the run lock of the stages for the run's date, in
// pipeline order; release frees them. A run in one process holds each stage
// alone. The pods of a sharded run hold each stage together, as their Job
// ("job <name>"), so that another Job or a run in one process for the same
// date waits for the whole Job (or is refused); each pod also holds its own
// shard of each stage ("score-1of4"), so that two pods of one index never
// run at once. Shard 0, the last pod of its Job to finish, frees the Job's
// hold once it succeeded (ok); a pod that failed leaves it to the pods
// still at work, or to lapse. With no locker it does nothing.
func lockStages(ctx context.Context, locker Locker, stages []string, r Run, log *logrus.Logger) (release func(ok bool), err error) {
	if locker == nil {
		return func(bool) {}, nil
	}
	sh := r.Shard
	var names, own []string
	for _, s := range Stages {
		if !slices.Contains(stages, s) {
			continue
		}
		names = append(names, s)
		if sh.Sharded() {
			own = append(own, fmt.Sprintf("%s-%dof%d", s, sh.Index, sh.Of))
		}
	}
	type held struct {
		unlock func(context.Context, bool) error
		shared bool // the Job's: freed by shard 0 once it succeeded
	}
	var holds []held
	release = func(ok bool) {
		for i := len(holds) - 1; i >= 0; i-- {
			if err := holds[i].unlock(context.WithoutCancel(ctx), !holds[i].shared || (sh.Index == 0 && ok)); err != nil {
				log.WithError(err).Warn("run lock not released: it expires on its own")
			}
		}
	}
	take := func(names []string, holder string, shared bool) error {
		unlock, where, err := locker.Lock(ctx, names, r.AsOf, holder)
		if err != nil {
			release(false)
			return fmt.Errorf("run lock of %s for %s: %w", strings.Join(names, ", "), r.AsOf.Format(time.DateOnly), err)
		}
		holds = append(holds, held{unlock, shared})
		log.WithFields(logrus.Fields{"stages": names, "as_of": r.AsOf.Format(time.DateOnly), "lock": where}).Info("run lock taken")
		return nil
	}
	if !sh.Sharded() {
		if err := take(names, "", false); err != nil {
			return nil, err
		}
		return release, nil
	}
	if err := take(names, "job "+sh.Job, true); err != nil {
		return nil, err
	}
	if err := take(own, "", false); err != nil {
		return nil, err
	}
	return release, nil
}
