package model

import (
	"fmt"
	"math"
)

// Candidate is a purchase model fitted on a calibration period, with its
// holdout metrics.
type Candidate struct {
	Name    string
	Model   Purchases
	Fit     Fit
	Metrics Metrics
}

// Choose returns the candidate with the smallest holdout MAE (then RMSE), the
// criterion Tessera uses to pick between BG/NBD, MBG/NBD and Pareto/NBD.
func Choose(cs []Candidate) (Candidate, error) {
	best := -1
	for i, c := range cs {
		if math.IsNaN(c.Metrics.MAE) || c.Metrics.Customers == 0 {
			continue
		}
		if best < 0 || c.Metrics.MAE < cs[best].Metrics.MAE ||
			(c.Metrics.MAE == cs[best].Metrics.MAE && c.Metrics.RMSE < cs[best].Metrics.RMSE) {
			best = i
		}
	}
	if best < 0 {
		return Candidate{}, fmt.Errorf("choose: no candidate was evaluated on a holdout")
	}
	return cs[best], nil
}
