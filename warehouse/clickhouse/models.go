package clickhouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-cdp/tessera/warehouse"
)

// InsertModel records a fitted model.
func (w *DB) InsertModel(ctx context.Context, m warehouse.Model) error {
	return w.insertRow(ctx, "INSERT INTO {db}.models (model_id, as_of, kind, trained_at, customers, log_likelihood, holdout_mae, holdout_rmse, artefact, run_id, status, grade, reason) VALUES",
		m.ID, m.AsOf, m.Kind, m.TrainedAt.UTC(), m.Customers, m.LogLikelihood, m.HoldoutMAE, m.HoldoutRMSE, m.Artefact, m.RunID, m.Status, m.Grade, m.Reason)
}

// LatestModel is the newest model of one of the kinds trained as of asOf or
// earlier.
func (w *DB) LatestModel(ctx context.Context, asOf time.Time, kinds ...string) (warehouse.Model, error) {
	var m warehouse.Model
	marks := make([]string, len(kinds))
	args := []any{asOf.Format(time.DateOnly)}
	for i, k := range kinds {
		marks[i] = "?"
		args = append(args, k)
	}
	row := w.conn.QueryRow(ctx, fmt.Sprintf("SELECT model_id, kind, as_of, artefact, status, reason FROM %s.models WHERE as_of <= toDate(?) AND kind IN (%s) ORDER BY as_of DESC, trained_at DESC, model_id DESC LIMIT 1",
		w.db, strings.Join(marks, ", ")), args...)
	if err := row.Scan(&m.ID, &m.Kind, &m.AsOf, &m.Artefact, &m.Status, &m.Reason); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return m, fmt.Errorf("%v model: %w", kinds, warehouse.ErrNoModel)
		}
		return m, fmt.Errorf("read models: %w", err)
	}
	return m, nil
}
