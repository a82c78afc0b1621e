package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

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
