package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/model"
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

// stagePart writes this shard's LTV predictions as its part of the date.
func stagePart(ctx context.Context, r Run, wh scoreStore, sh Shard, modelID string, preds map[string]ltv) error {
	ids := make([]string, 0, len(preds))
	for id := range preds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b := array.NewRecordBuilder(r.Mem, warehouse.ScoreParts.Schema)
	defer b.Release()
	for _, id := range ids {
		l := preds[id]
		b.Field(0).(*array.Int32Builder).Append(int32(sh.Index))
		b.Field(1).(*array.Int32Builder).Append(int32(sh.Of))
		b.Field(2).(*array.StringBuilder).Append(sh.Job)
		b.Field(3).(*array.StringBuilder).Append(modelID)
		b.Field(4).(*array.StringBuilder).Append(id)
		for k, v := range []float64{l.x, l.tx, l.T, l.pAlive, l.e30, l.e90, l.e365, l.value, l.clv} {
			b.Field(5 + k).(*array.Float64Builder).Append(v)
		}
		if l.hasNext {
			b.Field(14).(*array.Float64Builder).Append(l.next)
		} else {
			b.Field(14).AppendNull()
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	return wh.ReplacePart(ctx, warehouse.ScoreParts.Name, r.AsOf, sh.Index, r.ID, rec)
}

// waitForParts waits (up to wait) until every shard of the run has
// written its part with the same model, and returns all their predictions.
func waitForParts(ctx context.Context, r Run, wh scoreStore, sh Shard, modelID string, a *model.Artefact, wait time.Duration) (map[string]ltv, error) {
	var preds map[string]ltv
	err := waitFor(ctx, wait, func() (bool, string, error) {
		var have int
		var err error
		preds, have, err = readParts(ctx, r, wh, sh, modelID, a)
		return have == sh.Of, fmt.Sprintf("score: %d of %d parts of run %s written", have, sh.Of, sh.Job), err
	})
	if err != nil {
		return nil, err
	}
	r.Log.WithFields(logrus.Fields{"shards": sh.Of, "customers": len(preds)}).Info("every score part is in")
	return preds, nil
}

// readParts reads the parts of the run written with the model; have counts them.
func readParts(ctx context.Context, r Run, wh scoreStore, sh Shard, modelID string, a *model.Artefact) (map[string]ltv, int, error) {
	rec, err := wh.ReadParts(ctx, r.Mem, warehouse.ScoreParts.Name, warehouse.ScoreParts.Schema, r.AsOf)
	if errors.Is(err, warehouse.ErrNoPartition) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer rec.Release()
	shard, shards := rec.Column(0).(*array.Int32), rec.Column(1).(*array.Int32)
	job, models, ids := rec.Column(2).(*array.String), rec.Column(3).(*array.String), rec.Column(4).(*array.String)
	f := func(c, i int) float64 { return rec.Column(c).(*array.Float64).Value(i) }
	seen := make([]bool, sh.Of)
	preds := map[string]ltv{}
	notes := [2]string{predictionNote(a, 0), predictionNote(a, 1)} // without and with a repeat purchase
	for i := 0; i < int(rec.NumRows()); i++ {
		if int(shards.Value(i)) != sh.Of || job.Value(i) != sh.Job || models.Value(i) != modelID {
			continue // another run's part
		}
		seen[shard.Value(i)] = true
		l := ltv{x: f(5, i), tx: f(6, i), T: f(7, i), pAlive: f(8, i), e30: f(9, i), e90: f(10, i), e365: f(11, i), value: f(12, i), clv: f(13, i),
			next: math.NaN(), note: notes[min(1, int(f(5, i)))]}
		if next := rec.Column(14).(*array.Float64); next.IsValid(i) {
			l.next, l.hasNext = next.Value(i), true
		}
		preds[strings.Clone(ids.Value(i))] = l
	}
	have := 0
	for _, s := range seen {
		if s {
			have++
		}
	}
	return preds, have, nil
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
