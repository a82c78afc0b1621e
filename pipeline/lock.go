package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tessera-cdp/tessera/warehouse"
)

// Locker takes the run lock of stages (or of one shard of a score) for a
// date, so that two runners never write the same date at once: a Kubernetes
// Lease in a cluster (package kube), else the warehouse's (StoreLock).
type Locker interface {
	Lock(ctx context.Context, names []string, asOf time.Time) (unlock func(context.Context) error, where string, err error)
}

// StoreLock is the run lock the warehouse holds: claims in ClickHouse, or
// advisory locks on the embedded folder's files.
type StoreLock struct {
	Store   warehouse.Store
	Options warehouse.LockOptions
}

// Lock takes the names' lock for the date.
func (l StoreLock) Lock(ctx context.Context, names []string, asOf time.Time) (func(context.Context) error, string, error) {
	return l.Store.Lock(ctx, names, asOf, l.Options)
}

// lockStages takes the run lock of each stage for the date, in pipeline
// order; release frees them all. With no locker it does nothing.
func lockStages(ctx context.Context, locker Locker, stages []string, asOf time.Time, sh Shard, log *logrus.Logger) (release func(), err error) {
	if locker == nil {
		return func() {}, nil
	}
	var names []string
	for _, s := range Stages {
		if !slices.Contains(stages, s) {
			continue
		}
		name := s
		if s == "score" && sh.Of > 1 { // the shards of a run hold one lock each
			name = fmt.Sprintf("score-%dof%d", sh.Index, sh.Of)
		}
		names = append(names, name)
	}
	unlock, where, err := locker.Lock(ctx, names, asOf)
	if err != nil {
		return nil, fmt.Errorf("run lock of %s for %s: %w", strings.Join(names, ", "), asOf.Format(time.DateOnly), err)
	}
	log.WithFields(logrus.Fields{"stages": names, "as_of": asOf.Format(time.DateOnly), "lock": where}).Info("run lock taken")
	release = func() {
		if err := unlock(context.WithoutCancel(ctx)); err != nil {
			log.WithError(err).Warn("run lock not released: it expires on its own")
		}
	}
	return release, nil
}
