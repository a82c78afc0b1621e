package model

import (
	"fmt"
	"strings"
)

// Kinds of model, as stored in artefacts and the models table.
const (
	KindBGNBD     = "bgnbd"
	KindMBGNBD    = "mbgnbd"
	KindParetoNBD = "paretonbd"
	// KindGammaGamma is a spend model alone.
	KindGammaGamma = "gammagamma"
	// KindEarlyVIP is the early potential-VIP classifier (package segment).
	KindEarlyVIP = "earlyvip"
	// KindNone records that no purchase model passed its gate for a date.
	KindNone = "none"
)

// PurchaseKinds are the purchase models score can use, newest first among equals.
var PurchaseKinds = []string{KindBGNBD, KindMBGNBD, KindParetoNBD}

// LTVKinds are the rows of models score looks at for LTV: a purchase model,
// or the record that none passed its gate.
var LTVKinds = append(PurchaseKinds[:len(PurchaseKinds):len(PurchaseKinds)], KindNone)

// Candidates are the names config (ltv.models) and `tessera ltv fit --model`
// take for purchase models; "gg" is Gamma-Gamma alone, for the CLI.
var Candidates = []string{"bgnbd", "mbgnbd", "pnbd"}

// FitPurchases fits the purchase model a candidate name stands for.
func FitPurchases(name string, d Data, opt FitOptions) (Purchases, Fit, error) {
	switch name {
	case "bgnbd", "mbgnbd":
		return FitBGNBD(d, name == "mbgnbd", opt)
	case "pnbd":
		return FitParetoNBD(d, opt)
	}
	return nil, Fit{}, fmt.Errorf("unknown model %q: want one of %s", name, strings.Join(Candidates, ", "))
}
