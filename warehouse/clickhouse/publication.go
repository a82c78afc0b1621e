package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tessera-cdp/tessera/warehouse"
)

// RecordPublication records, last, what publish made the date's tables.
func (w *DB) RecordPublication(ctx context.Context, p warehouse.Publication) error {
	rows, err := json.Marshal(p.Rows)
	if err != nil {
		return err
	}
	return w.insertRow(ctx, "INSERT INTO {db}.publications (as_of, score_run, publish_run, rows, published_at, version) VALUES",
		p.AsOf, p.ScoreRun, p.PublishRun, string(rows), p.PublishedAt.UTC(), uint64(p.PublishedAt.UnixNano()))
}

// Publication is the date's newest publication.
func (w *DB) Publication(ctx context.Context, asOf time.Time) (warehouse.Publication, error) {
	p := warehouse.Publication{AsOf: asOf}
	var rows string
	var n uint64
	row := w.conn.QueryRow(ctx, w.expand(`SELECT argMax(score_run, version), argMax(publish_run, version),
    argMax(rows, version), max(published_at), count() FROM {db}.publications WHERE as_of = toDate(?)`), asOf.Format(time.DateOnly))
	if err := row.Scan(&p.ScoreRun, &p.PublishRun, &rows, &p.PublishedAt, &n); err != nil {
		return p, fmt.Errorf("read the publication of %s: %w", asOf.Format(time.DateOnly), err)
	}
	if n == 0 {
		return p, fmt.Errorf("%s: %w", asOf.Format(time.DateOnly), warehouse.ErrNotPublished)
	}
	if err := json.Unmarshal([]byte(rows), &p.Rows); err != nil {
		return p, fmt.Errorf("the publication of %s: rows %q: %w", asOf.Format(time.DateOnly), rows, err)
	}
	return p, nil
}

// PublicationDates are the dates with a publication, oldest first.
func (w *DB) PublicationDates(ctx context.Context) ([]time.Time, error) {
	rows, err := w.conn.Query(ctx, w.expand("SELECT DISTINCT as_of FROM {db}.publications ORDER BY as_of"))
	if err != nil {
		return nil, fmt.Errorf("published dates: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC))
	}
	return out, rows.Err()
}

// PartitionRuns counts a date's rows of a table by run.
func (w *DB) PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error) {
	rows, err := w.conn.Query(ctx, fmt.Sprintf("SELECT run_id, count() FROM %s.%s WHERE as_of = toDate(?) GROUP BY run_id", w.db, table), asOf.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("runs of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var run string
		var n uint64
		if err := rows.Scan(&run, &n); err != nil {
			return nil, err
		}
		out[run] = int(n)
	}
	return out, rows.Err()
}

// RunRecord is a run's newest record in runs.
func (w *DB) RunRecord(ctx context.Context, id string) (warehouse.Run, bool, error) {
	r := warehouse.Run{ID: id}
	var n uint64
	row := w.conn.QueryRow(ctx, w.expand(`SELECT argMax(stage, finished_at), argMax(as_of, finished_at), argMax(status, finished_at),
    argMax(message, finished_at), argMax(detail, finished_at), argMax(tessera_version, finished_at), argMax(invocation_id, finished_at), count() FROM {db}.runs WHERE run_id = ?`), id)
	if err := row.Scan(&r.Stage, &r.AsOf, &r.Status, &r.Message, &r.Detail, &r.Version, &r.Invocation, &n); err != nil {
		return r, false, fmt.Errorf("read run %s: %w", id, err)
	}
	return r, n > 0, nil
}

// ExtractedThrough is the newest as-of date of a successful extract run: of
// one process, or of pod 0 of a sharded extract, which succeeds once every
// pod did.
func (w *DB) ExtractedThrough(ctx context.Context) (time.Time, bool, error) {
	var asOf time.Time
	var n uint64
	row := w.conn.QueryRow(ctx, w.expand(`SELECT max(as_of), count() FROM {db}.runs WHERE stage = 'extract' AND status = 'ok'
    AND (visitParamExtractString(detail, 'shard') = '' OR startsWith(visitParamExtractString(detail, 'shard'), '0/'))`))
	if err := row.Scan(&asOf, &n); err != nil {
		return time.Time{}, false, fmt.Errorf("read the newest extract: %w", err)
	}
	return asOf.UTC(), n > 0, nil
}

// ShardsDone counts the named shards ("I/N") of a sharded stage's run (the
// Job) that succeeded, as their runs record them.
func (w *DB) ShardsDone(ctx context.Context, stage, job string, shards []string) (int, error) {
	var n uint64
	err := w.conn.QueryRow(ctx, w.expand(`SELECT uniqExact(visitParamExtractString(detail, 'shard')) FROM {db}.runs
WHERE stage = ? AND status = 'ok' AND visitParamExtractString(detail, 'job') = ? AND has(?, visitParamExtractString(detail, 'shard'))`), stage, job, shards).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("the pods of %s %s done: %w", stage, job, unavailable(err))
	}
	return int(n), nil
}
