package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
)

// Locker takes the run lock of a stage (or of one shard of a score) for a
// date, so that two runners never write the same date at once: a Kubernetes
// Lease in a cluster (package kube).
type Locker interface {
	Lock(ctx context.Context, name string, asOf time.Time) (unlock func(context.Context) error, where string, err error)
}

// lockStages takes the run lock of each stage for the date, in pipeline
// order; release frees them all. With no locker it does nothing.
func lockStages(ctx context.Context, locker Locker, stages []string, asOf time.Time, sh Shard, log *logrus.Logger) (release func(), err error) {
	if locker == nil {
		return func() {}, nil
	}
	var held []func(context.Context) error
	release = func() {
		for i := len(held) - 1; i >= 0; i-- {
			if err := held[i](context.WithoutCancel(ctx)); err != nil {
				log.WithError(err).Warn("run lock not released: it expires on its own")
			}
		}
	}
	for _, s := range Stages {
		if !slices.Contains(stages, s) {
			continue
		}
		name := s
		if s == "score" && sh.Of > 1 { // the shards of a run hold one lock each
			name = fmt.Sprintf("score-%dof%d", sh.Index, sh.Of)
		}
		unlock, where, err := locker.Lock(ctx, name, asOf)
		if err != nil {
			release()
			return nil, fmt.Errorf("run lock of %s for %s: %w", s, asOf.Format(time.DateOnly), err)
		}
		log.WithFields(logrus.Fields{"stage": s, "as_of": asOf.Format(time.DateOnly), "lock": where}).Info("run lock taken")
		held = append(held, unlock)
	}
	return release, nil
}
