package warehouse

import (
	"errors"
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
	// Status is ok, or gated when no purchase model passed the gate (Kind
	// none), or no early potential-VIP model could be trained (Kind earlyvip,
	// no artefact), and Reason says why; Grade is the holdout's quality
	// grade, A-D.
	Status, Grade, Reason string
}

// ErrNoModel is returned when no model was trained before the date asked.
var ErrNoModel = errors.New("no model trained on or before this date: run train first")
