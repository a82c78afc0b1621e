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
// whose id hashes to Index modulo Of (warehouse.ShardOf). Job names the run,
// so that the pod of index 0 waits for the parts of its own run, not of an
// earlier one.
type Shard struct {
	Index, Of int
	Job       string
}

// NoShard is a whole run in one process.
var NoShard = Shard{Index: 0, Of: 1}

// slice is the shard's customers, as the warehouse reads them.
func (s Shard) slice() warehouse.Slice { return warehouse.Slice{Index: s.Index, Of: s.Of} }

// sliced is q restricted to the shard's customers.
func (s Shard) sliced(q warehouse.Query) warehouse.Query {
	q.Slice = s.slice()
	return q
}

// ParseShard reads "I/N" (N ≥ 1, 0 ≤ I < N).
func ParseShard(s, job string) (Shard, error) {
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.Index, &sh.Of); err != nil || sh.Of < 1 || sh.Index < 0 || sh.Index >= sh.Of || strings.Count(s, "/") != 1 {
		return sh, fmt.Errorf("shard %q: want I/N with 0 ≤ I < N", s)
	}
	if sh.Of > 1 && job == "" {
		return sh, errors.New("a sharded score needs the name of its run (the Job's name, TESSERA_SHARD_JOB)")
	}
	sh.Job = job
	return sh, nil
}

// waitFor polls done every second until it says so, failing with its last
// word after wait (at least a second): how shard 0 waits for the others' parts.
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
