package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-cdp/tessera/warehouse"
)

// Shard is one pod's share of a run split over an Indexed Job: the customers
// whose id hashes to Index modulo Of (warehouse.Slice, where the hash is
// defined). It belongs to the Run, beside the as-of date: every sharded
// stage (ShardedStages) reads it there. Job names the run, so that the pod
// of index 0 waits for the parts of its own run, not of an earlier one, and
// so that the pods of one Job hold the date's run lock together; Wait is how
// long shard 0 waits for the other shards' parts.
type Shard struct {
	Index, Of int
	Job       string
	Wait      time.Duration
	// Locker lets one pod of the Job do what the others then reuse (the
	// category medians) while they wait; nil: each does it for itself.
	Locker Locker
	// ShareWait: how long a pod waits for the others of its Job to share
	// what each counts for all (its lines' prices) before doing without
	// them; 0: defaultShareWait.
	ShareWait time.Duration
}

// defaultShareWait is a pod's wait for the others' counts: the pods of an
// Indexed Job start together, and read their inputs in about the same time.
const defaultShareWait = 5 * time.Minute

func (s Shard) shareWait() time.Duration {
	if s.ShareWait > 0 {
		return s.ShareWait
	}
	return defaultShareWait
}

// NoShard is a whole run in one process.
var NoShard = Shard{Index: 0, Of: 1}

// Sharded says whether the run is split over pods.
func (s Shard) Sharded() bool { return s.Of > 1 }

// slice is the shard's customers, as the warehouse reads them.
func (s Shard) slice() warehouse.Slice { return warehouse.Slice{Index: s.Index, Of: s.Of} }

// all is every shard's slice of the run.
func (s Shard) all() []warehouse.Slice {
	out := make([]warehouse.Slice, max(s.Of, 1))
	for i := range out {
		out[i] = warehouse.Slice{Index: i, Of: s.Of}
	}
	return out
}

// sliced is q restricted to the shard's customers.
func (s Shard) sliced(q warehouse.Query) warehouse.Query {
	q.Slice = s.slice()
	return q
}

// alone runs fn while this pod alone holds name for the date (the others
// of its Job wait for it): the first to come does the work, the others find
// it done. Without a Locker fn runs at once.
func (s Shard) alone(ctx context.Context, name string, asOf time.Time, fn func() error) error {
	if s.Locker == nil {
		return fn()
	}
	unlock, _, err := s.Locker.Lock(ctx, []string{name}, asOf, "")
	if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer func() { _ = unlock(context.WithoutCancel(ctx), true) }()
	return fn()
}

// String is "I/N", as --shard takes it.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Of) }

// ParseShard reads "I/N" (N ≥ 1, 0 ≤ I < N) of the named job.
func ParseShard(s, job string) (Shard, error) {
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.Index, &sh.Of); err != nil || sh.Of < 1 || sh.Index < 0 || sh.Index >= sh.Of || strings.Count(s, "/") != 1 {
		return sh, fmt.Errorf("shard %q: want I/N with 0 ≤ I < N", s)
	}
	if sh.Of > 1 && job == "" {
		return sh, errors.New("a sharded run needs the name of its run (the Job's name, TESSERA_SHARD_JOB)")
	}
	sh.Job = job
	return sh, nil
}

// partCounter counts the whole parts of a job's table.
type partCounter interface {
	PartsWritten(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error)
}

// gatherParts is what every sharded stage does with its parts: write writes
// this shard's part of each table; then shard 0 waits until every shard's
// parts of the run's job are written, and says it is to finish the stage
// (stage or publish the parts); the other shards return at once.
func gatherParts(ctx context.Context, r Run, st partCounter, tables []string, write func() error) (finish bool, err error) {
	if err := write(); err != nil {
		return false, err
	}
	switch {
	case !r.Shard.Sharded():
		return true, nil // the part just written is the only one
	case r.Shard.Index != 0:
		return false, nil
	}
	return true, awaitParts(ctx, r, st, tables...)
}

// awaitParts waits, for up to the shard's Wait, until every shard's part of
// each table of the run's job is written.
func awaitParts(ctx context.Context, r Run, st partCounter, tables ...string) error {
	sh := r.Shard
	return waitFor(ctx, sh.Wait, func() (bool, string, error) {
		for _, t := range tables {
			have, err := st.PartsWritten(ctx, t, r.AsOf, sh.Job, sh.Of)
			if err != nil || have < sh.Of {
				return false, fmt.Sprintf("%s: %d of %d parts of %s of run %s written", r.Stage, have, sh.Of, t, sh.Job), err
			}
		}
		return true, "", nil
	})
}

// waitFor polls done every second until it says so, failing with its last
// word after wait (at least a second).
func waitFor(ctx context.Context, wait time.Duration, done func() (bool, string, error)) error {
	deadline := time.Now().Add(max(wait, time.Second))
	for {
		ok, state, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s after waiting %s", state, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
