package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
)

// OrdersSchema is what ReadOrders returns: the order columns that features and
// models use, with the canonical types.
var OrdersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "ordered_at", Type: canon.TimestampType},
	{Name: "status", Type: arrow.BinaryTypes.String},
	{Name: "gross_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "discount_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "net_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "items_count", Type: arrow.PrimitiveTypes.Int32},
	{Name: "rating", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
}, nil)

// ReadOrders reads the orders placed before `before` (point in time: nothing at
// or after it) into Arrow records of at most batch rows. The caller releases them.
func (w *ClickHouse) ReadOrders(ctx context.Context, mem memory.Allocator, before time.Time, batch int) ([]arrow.Record, error) {
	rows, err := w.conn.Query(ctx, fmt.Sprintf(
		"SELECT customer_id, toUInt32(ordered_at), status, gross_amount, discount_amount, net_amount, items_count, rating FROM %s.raw_orders FINAL WHERE ordered_at < toDateTime(%d)", w.db, before.Unix()))
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	defer rows.Close()
	var out []arrow.Record
	release := func() {
		for _, r := range out {
			r.Release()
		}
	}
	b := array.NewRecordBuilder(mem, OrdersSchema)
	defer b.Release()
	var (
		id, status          string
		at                  uint32
		gross, disc, amount float64
		items               int32
		rating              uint8
	)
	for rows.Next() {
		if err := rows.Scan(&id, &at, &status, &gross, &disc, &amount, &items, &rating); err != nil {
			release()
			return nil, fmt.Errorf("read orders: %w", err)
		}
		appendOrder(b, id, arrow.Timestamp(at), status, gross, disc, amount, items, rating)
		if b.Field(0).Len() >= batch {
			out = append(out, b.NewRecord())
		}
	}
	if err := rows.Err(); err != nil {
		release()
		return nil, fmt.Errorf("read orders: %w", err)
	}
	if b.Field(0).Len() > 0 {
		out = append(out, b.NewRecord())
	}
	return out, nil
}

// EventsSchema is what ReadEvents returns.
var EventsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: canon.TimestampType},
	{Name: "session_id", Type: arrow.BinaryTypes.String},
	{Name: "type", Type: arrow.BinaryTypes.String},
}, nil)

// ReadEvents reads the site events of known customers before `before`.
func (w *ClickHouse) ReadEvents(ctx context.Context, mem memory.Allocator, before time.Time, batch int) ([]arrow.Record, error) {
	rows, err := w.conn.Query(ctx, fmt.Sprintf(
		"SELECT customer_id, toUInt32(ts), session_id, type FROM %s.raw_events FINAL WHERE ts < toDateTime(%d) AND customer_id != ''", w.db, before.Unix()))
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []arrow.Record
	b := array.NewRecordBuilder(mem, EventsSchema)
	defer b.Release()
	var id, session, typ string
	var ts uint32
	for rows.Next() {
		if err := rows.Scan(&id, &ts, &session, &typ); err != nil {
			for _, r := range out {
				r.Release()
			}
			return nil, fmt.Errorf("read events: %w", err)
		}
		b.Field(0).(*array.StringBuilder).Append(id)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
		b.Field(2).(*array.StringBuilder).Append(session)
		b.Field(3).(*array.StringBuilder).Append(typ)
		if b.Field(0).Len() >= batch {
			out = append(out, b.NewRecord())
		}
	}
	if err := rows.Err(); err != nil {
		for _, r := range out {
			r.Release()
		}
		return nil, fmt.Errorf("read events: %w", err)
	}
	return append(out, b.NewRecord()), nil
}

// appendOrder adds one order to an OrdersSchema builder; rating 0 is "not rated".
func appendOrder(b *array.RecordBuilder, id string, at arrow.Timestamp, status string, gross, disc, net float64, items int32, rating uint8) {
	b.Field(0).(*array.StringBuilder).Append(id)
	b.Field(1).(*array.TimestampBuilder).Append(at)
	b.Field(2).(*array.StringBuilder).Append(status)
	b.Field(3).(*array.Float64Builder).Append(gross)
	b.Field(4).(*array.Float64Builder).Append(disc)
	b.Field(5).(*array.Float64Builder).Append(net)
	b.Field(6).(*array.Int32Builder).Append(items)
	if rating == 0 {
		b.Field(7).AppendNull()
	} else {
		b.Field(7).(*array.Int32Builder).Append(int32(rating))
	}
}

// Model is one row of the models table.
type Model struct {
	ID, Kind, RunID         string
	AsOf, TrainedAt         time.Time
	Customers               uint64
	LogLikelihood           float64
	HoldoutMAE, HoldoutRMSE float64
	Artefact                string
}

// InsertModel records a fitted model.
func (w *ClickHouse) InsertModel(ctx context.Context, m Model) error {
	return w.insertRow(ctx, "INSERT INTO {db}.models (model_id, as_of, kind, trained_at, customers, log_likelihood, holdout_mae, holdout_rmse, artefact, run_id) VALUES",
		m.ID, m.AsOf, m.Kind, m.TrainedAt.UTC(), m.Customers, m.LogLikelihood, m.HoldoutMAE, m.HoldoutRMSE, m.Artefact, m.RunID)
}

// ErrNoModel is returned when no model was trained before the date asked.
var ErrNoModel = errors.New("no model trained on or before this date: run train first")

// LatestModel is the newest model trained as of asOf or earlier.
func (w *ClickHouse) LatestModel(ctx context.Context, asOf time.Time) (Model, error) {
	var m Model
	row := w.conn.QueryRow(ctx, fmt.Sprintf("SELECT model_id, kind, as_of, artefact FROM %s.models WHERE as_of <= toDate('%s') ORDER BY as_of DESC, trained_at DESC, model_id DESC LIMIT 1",
		w.db, asOf.Format(time.DateOnly)))
	if err := row.Scan(&m.ID, &m.Kind, &m.AsOf, &m.Artefact); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return m, ErrNoModel
		}
		return m, fmt.Errorf("read models: %w", err)
	}
	return m, nil
}

// Score is one row of customer_scores.
type Score struct {
	CustomerID              string
	Frequency, Recency, Age float64
	PAlive, E90, E365       float64
	NextOrderIn             *float64
	ExpectedValue, CLV12    float64
}

// ReplaceScores publishes the scores of one as-of date atomically: they go to
// the staging table, whose partition then replaces the live one, so a re-run
// replaces the date and a failure before the swap leaves it as it was.
func (w *ClickHouse) ReplaceScores(ctx context.Context, asOf time.Time, modelID, runID string, scores []Score) error {
	part := asOf.Format(time.DateOnly)
	if err := w.Exec(ctx, fmt.Sprintf("ALTER TABLE {db}.customer_scores_staging DROP PARTITION '%s'", part)); err != nil {
		return err
	}
	const chunk = 1 << 17
	for start := 0; start < len(scores); start += chunk {
		end := min(start+chunk, len(scores))
		batch, err := w.conn.PrepareBatch(ctx, fmt.Sprintf(`INSERT INTO %s.customer_scores_staging (as_of, customer_id, model_id, frequency, recency_days, age_days,
			p_alive, expected_purchases_90d, expected_purchases_365d, next_order_in_days, expected_order_value, clv_12m, run_id) VALUES`, w.db))
		if err != nil {
			return fmt.Errorf("stage scores: %w", err)
		}
		for _, s := range scores[start:end] {
			if err := batch.Append(asOf, s.CustomerID, modelID, s.Frequency, s.Recency, s.Age, s.PAlive, s.E90, s.E365, s.NextOrderIn, s.ExpectedValue, s.CLV12, runID); err != nil {
				batch.Abort()
				return fmt.Errorf("stage scores: %w", err)
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("stage scores: %w", err)
		}
	}
	return w.Exec(ctx, fmt.Sprintf("ALTER TABLE {db}.customer_scores REPLACE PARTITION '%s' FROM {db}.customer_scores_staging", part))
}
