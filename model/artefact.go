package model

import (
	"encoding/json"
	"fmt"
	"math"
)

// ArtefactVersion is the version of the JSON document a fitted model is kept as;
// a reader refuses versions it does not know.
const ArtefactVersion = 1

// Artefact is a fitted model as the train stage stores it and the score stage
// loads it: the purchase model, the spend model, and how they were fitted.
type Artefact struct {
	Version  int    `json:"version"`
	Kind     string `json:"kind"`
	TimeUnit string `json:"time_unit"` // "day" or "week"
	// Window: the calibration period (and holdout, if evaluated), YYYY-MM-DD.
	CalibrationStart string `json:"calibration_start,omitempty"`
	CalibrationEnd   string `json:"calibration_end"`
	HoldoutEnd       string `json:"holdout_end,omitempty"`

	Params  map[string]float64 `json:"params"`
	StdErr  map[string]float64 `json:"std_err,omitempty"`
	Fit     Fit                `json:"fit"`
	Metrics *Metrics           `json:"metrics,omitempty"`

	Spend    *GammaGamma `json:"spend,omitempty"`
	SpendFit *Fit        `json:"spend_fit,omitempty"`
	// SpendLeftOut counts the repeat buyers Gamma-Gamma could not use (a mean
	// repeat spend of zero or less): their expected order value is the
	// population mean of the fitted model, as for a customer without repeats.
	SpendLeftOut int `json:"spend_left_out,omitempty"`
	// SpendReason says why there is no spend model (Spend nil).
	SpendReason string `json:"spend_reason,omitempty"`

	// Gate is the eligibility check; a model whose gate failed is kept (kind
	// none when nothing was fitted) so that score and the report can say why
	// no prediction is published.
	Gate *Gate `json:"gate,omitempty"`

	// Sample, when set, says the model was fitted on a sample of the buyers.
	Sample *Sample `json:"sample,omitempty"`
}

// Sample is the share of the buyers a model was fitted on: those whose id
// hashes to Index modulo Of, of Buyers.
type Sample struct {
	Index  int `json:"index"`
	Of     int `json:"of"`
	Buyers int `json:"buyers"`
}

// Usable says whether score may publish the model's predictions.
func (a *Artefact) Usable() bool { return a.Kind != KindNone && (a.Gate == nil || a.Gate.Passed) }

// NewGatedArtefact records why no purchase model is used for the date.
func NewGatedArtefact(g Gate, unit, calEnd string) *Artefact {
	return &Artefact{Version: ArtefactVersion, Kind: KindNone, TimeUnit: unit, CalibrationEnd: calEnd, Params: map[string]float64{}, Gate: &g}
}

var paramNames = map[string][]string{
	KindBGNBD:     {"r", "alpha", "a", "b"},
	KindMBGNBD:    {"r", "alpha", "a", "b"},
	KindParetoNBD: {"r", "alpha", "s", "beta"},
}

// NewArtefact records a fitted purchase model.
func NewArtefact(pm Purchases, fit Fit, unit, calEnd string) (*Artefact, error) {
	a := &Artefact{Version: ArtefactVersion, TimeUnit: unit, CalibrationEnd: calEnd, Fit: fit, Params: map[string]float64{}, StdErr: map[string]float64{}}
	var vals []float64
	switch m := pm.(type) {
	case BGNBD:
		a.Kind = KindBGNBD
		if m.Modified {
			a.Kind = KindMBGNBD
		}
		vals = []float64{m.R, m.Alpha, m.A, m.B}
	case ParetoNBD:
		a.Kind = KindParetoNBD
		vals = []float64{m.R, m.Alpha, m.S, m.Beta}
	default:
		return nil, fmt.Errorf("artefact: unknown model %T", pm)
	}
	for i, n := range paramNames[a.Kind] {
		a.Params[n] = vals[i]
		if i < len(fit.StdErr) && !math.IsNaN(fit.StdErr[i]) {
			a.StdErr[n] = fit.StdErr[i]
		}
	}
	a.Fit.StdErr = nil // kept by name in StdErr (JSON has no NaN)
	return a, nil
}

// NewSpendArtefact records a fitted spend model alone.
func NewSpendArtefact(gg GammaGamma, fit Fit, unit, calEnd string) *Artefact {
	a := &Artefact{Version: ArtefactVersion, Kind: KindGammaGamma, TimeUnit: unit, CalibrationEnd: calEnd,
		Params: map[string]float64{"p": gg.P, "q": gg.Q, "gamma": gg.Gamma}, StdErr: map[string]float64{}, Fit: fit, Spend: &gg}
	for i, n := range []string{"p", "q", "gamma"} {
		if i < len(fit.StdErr) && !math.IsNaN(fit.StdErr[i]) {
			a.StdErr[n] = fit.StdErr[i]
		}
	}
	a.Fit.StdErr = nil
	return a
}

// ParamNames lists the artefact's parameters in their usual order.
func (a *Artefact) ParamNames() []string {
	if a.Kind == KindGammaGamma {
		return []string{"p", "q", "gamma"}
	}
	return paramNames[a.Kind]
}

// Purchases rebuilds the purchase model.
func (a *Artefact) Purchases() (Purchases, error) {
	if a.Kind == KindGammaGamma || a.Kind == KindNone {
		return nil, fmt.Errorf("artefact: a %s artefact holds no purchase model", a.Kind)
	}
	names, ok := paramNames[a.Kind]
	if !ok {
		return nil, fmt.Errorf("artefact: unknown model kind %q", a.Kind)
	}
	v := make([]float64, len(names))
	for i, n := range names {
		x, ok := a.Params[n]
		if !ok || !(x > 0) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("artefact %s: parameter %s is missing or not positive", a.Kind, n)
		}
		v[i] = x
	}
	switch a.Kind {
	case KindParetoNBD:
		return ParetoNBD{v[0], v[1], v[2], v[3]}, nil
	default:
		return BGNBD{R: v[0], Alpha: v[1], A: v[2], B: v[3], Modified: a.Kind == KindMBGNBD}, nil
	}
}

// Marshal writes the artefact as JSON.
func (a *Artefact) Marshal() ([]byte, error) { return json.MarshalIndent(a, "", "  ") }

// LoadArtefact reads an artefact and checks that it can be used.
func LoadArtefact(b []byte) (*Artefact, error) {
	var a Artefact
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("artefact: %w", err)
	}
	if a.Version != ArtefactVersion {
		return nil, fmt.Errorf("artefact: version %d, this Tessera reads version %d", a.Version, ArtefactVersion)
	}
	if a.TimeUnit != "day" && a.TimeUnit != "week" {
		return nil, fmt.Errorf("artefact: time unit %q, want day or week", a.TimeUnit)
	}
	if a.Kind == KindGammaGamma && a.Spend == nil {
		return nil, fmt.Errorf("artefact: a %s artefact without its spend parameters", a.Kind)
	}
	if a.Kind == KindNone && (a.Gate == nil || a.Gate.Passed) {
		return nil, fmt.Errorf("artefact: kind %s without the failed gate that explains it", a.Kind)
	}
	if _, err := a.Purchases(); err != nil && a.Kind != KindGammaGamma && a.Kind != KindNone {
		return nil, err
	}
	if a.Spend != nil && !(a.Spend.P > 0 && a.Spend.Q > 0 && a.Spend.Gamma > 0) {
		return nil, fmt.Errorf("artefact: spend parameters %+v must be positive", *a.Spend)
	}
	return &a, nil
}
