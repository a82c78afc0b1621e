package model

import (
	"errors"
	"fmt"
	"math"
)

// GateOptions are the floors a shop's order history must reach before
// Tessera predicts purchases and value for it: below them a fitted model says
// more than the data know. The defaults follow what commercial tools ask
// (Klaviyo: 500 buyers, 180 days of history, recent orders, repeat buyers).
type GateOptions struct {
	// MinBuyers: customers with a purchase before the date.
	MinBuyers int `yaml:"min_buyers"`
	// MinRepeatBuyers: customers who bought on two days or more.
	MinRepeatBuyers int `yaml:"min_repeat_buyers"`
	// MinHistoryDays: days from the first purchase to the date.
	MinHistoryDays int `yaml:"min_history_days"`
	// RecentDays: the newest purchase must be at most this many days old.
	RecentDays int `yaml:"recent_days"`
}

// DefaultGate are the default floors.
var DefaultGate = GateOptions{MinBuyers: 500, MinRepeatBuyers: 100, MinHistoryDays: 180, RecentDays: 30}

// Validate says what is wrong with the floors.
func (o GateOptions) Validate() error {
	if o.MinBuyers < 1 || o.MinRepeatBuyers < 1 || o.MinHistoryDays < 1 || o.RecentDays < 1 {
		return errors.New("ltv.gate: min_buyers, min_repeat_buyers, min_history_days and recent_days at least 1")
	}
	return nil
}

// History is what the gate looks at: a buy-till-you-die summary in days up
// to the day before the date.
type History struct {
	Buyers       int     `json:"buyers"`
	RepeatBuyers int     `json:"repeat_buyers"`
	HistoryDays  float64 `json:"history_days"`
	// DaysSinceLastPurchase: from the newest purchase to the date.
	DaysSinceLastPurchase float64 `json:"days_since_last_purchase"`
}

// HistoryOf sums up a summary in days (x, t_x and T per customer, T to the
// day before the date).
func HistoryOf(x, tx, T []float64) History {
	h := History{Buyers: len(x), DaysSinceLastPurchase: math.Inf(1)}
	for i := range x {
		if x[i] > 0 {
			h.RepeatBuyers++
		}
		h.HistoryDays = math.Max(h.HistoryDays, T[i]+1)
		h.DaysSinceLastPurchase = math.Min(h.DaysSinceLastPurchase, T[i]-tx[i]+1)
	}
	if len(x) == 0 {
		h.DaysSinceLastPurchase = 0
	}
	return h
}

// Gate is the outcome of the eligibility check, kept with the model.
type Gate struct {
	Passed  bool     `json:"passed"`
	Reasons []string `json:"reasons,omitempty"`
	History History  `json:"history"`
}

// Check says whether the history reaches every floor, and which it misses.
func (o GateOptions) Check(h History) Gate {
	g := Gate{History: h}
	if h.Buyers < o.MinBuyers {
		g.Reasons = append(g.Reasons, fmt.Sprintf("%d buyers, fewer than %d (ltv.gate.min_buyers)", h.Buyers, o.MinBuyers))
	}
	if h.RepeatBuyers < o.MinRepeatBuyers {
		g.Reasons = append(g.Reasons, fmt.Sprintf("%d customers bought more than once, fewer than %d (ltv.gate.min_repeat_buyers): "+
			"the data cannot tell how often customers buy or when they leave", h.RepeatBuyers, o.MinRepeatBuyers))
	}
	if h.HistoryDays < float64(o.MinHistoryDays) {
		g.Reasons = append(g.Reasons, fmt.Sprintf("%.0f days of order history, fewer than %d (ltv.gate.min_history_days)", h.HistoryDays, o.MinHistoryDays))
	}
	if h.Buyers > 0 && h.DaysSinceLastPurchase > float64(o.RecentDays) {
		g.Reasons = append(g.Reasons, fmt.Sprintf("the newest purchase is %.0f days old, more than %d (ltv.gate.recent_days): the history has stopped",
			h.DaysSinceLastPurchase, o.RecentDays))
	}
	g.Passed = len(g.Reasons) == 0
	return g
}

// Degenerate says what makes a fitted purchase model unusable even though
// the optimiser stopped, or "" when nothing does: no customer bought twice,
// a parameter ran to the edge of what can be fitted, or the likelihood is
// flat in a direction (no finite standard error, or one ten times the
// parameter).
func Degenerate(a *Artefact) string {
	if a.Fit.Note != "" {
		return a.Kind + ": " + a.Fit.Note
	}
	for _, n := range a.ParamNames() {
		v := a.Params[n]
		if !(v > 1e-6 && v < 1e6) {
			return fmt.Sprintf("%s: parameter %s = %.3g is at the edge of what can be fitted: the data do not determine it", a.Kind, n, v)
		}
		se, ok := a.StdErr[n]
		if !ok || math.IsInf(se, 0) {
			return fmt.Sprintf("%s: the likelihood is flat in %s (no finite standard error): the data do not determine it", a.Kind, n)
		}
		if se > 10*v {
			return fmt.Sprintf("%s: parameter %s = %.3g has a standard error of %.3g: the data barely determine it", a.Kind, n, v, se)
		}
	}
	return ""
}

// FailedReasons are the reasons of a failed gate; nil for none or a pass.
func (g *Gate) FailedReasons() []string {
	if g == nil || g.Passed {
		return nil
	}
	return g.Reasons
}
