package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tessera-cdp/tessera/model"
)

func (c *cli) ltvCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "fit" && args[0] != "predict") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(c.stdout, ltvUsage)
			return flag.ErrHelp
		}
		return usageError{errors.New("ltv needs a subcommand: fit or predict\n" + ltvUsage)}
	}
	if args[0] == "fit" {
		return c.ltvFit(args[1:])
	}
	return c.ltvPredict(args[1:])
}

const ltvUsage = `Usage:
  tessera ltv fit --model bgnbd|mbgnbd|pnbd|gg --summary FILE [--json]
  tessera ltv fit --model ... --transactions FILE --customer-col C --date-col D [--amount-col A] --calibration-end DATE
  tessera ltv predict --model-file FILE [--spend-file FILE] --summary FILE [--horizon T]
`

// summaryFlags read a summary from --summary, or build it from --transactions.
type summaryFlags struct {
	summary, transactions, customer, date, amount, calEnd, unit *string
}

func addSummaryFlags(fs interface {
	String(name, value, usage string) *string
}) summaryFlags {
	return summaryFlags{
		summary:      fs.String("summary", "", "summary CSV: lifetimes' frequency,recency,T[,monetary_value] or BTYD's x,t_x,T[,zbar] ('-': stdin)"),
		transactions: fs.String("transactions", "", "transactions CSV, one row per purchase, summarised first"),
		customer:     fs.String("customer-col", "customer_id", "customer column of --transactions"),
		date:         fs.String("date-col", "date", "date column of --transactions"),
		amount:       fs.String("amount-col", "", "amount column of --transactions (for gg and CLV)"),
		calEnd:       fs.String("calibration-end", "", "last day (inclusive) of --transactions counted, YYYY-MM-DD"),
		unit:         fs.String("unit", "week", "time unit of a summary built from --transactions: week or day"),
	}
}

func (f summaryFlags) read() (*LTVSummary, error) {
	switch {
	case (*f.summary == "") == (*f.transactions == ""):
		return nil, usageError{errors.New("give either --summary or --transactions")}
	case *f.summary != "":
		r, err := OpenFile(*f.summary)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return ReadSummaryCSV(r)
	}
	end, err := time.Parse(time.DateOnly, *f.calEnd)
	if err != nil {
		return nil, usageError{fmt.Errorf("--calibration-end %q: want YYYY-MM-DD", *f.calEnd)}
	}
	unit := 7 * 24 * time.Hour
	switch *f.unit {
	case "day":
		unit = 24 * time.Hour
	case "week":
	default:
		return nil, usageError{fmt.Errorf("--unit %q: want week or day", *f.unit)}
	}
	r, err := OpenFile(*f.transactions)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return SummaryFromTransactions(r, TransactionColumns{Customer: *f.customer, Date: *f.date, Amount: *f.amount}, end, unit)
}

func (c *cli) ltvFit(args []string) error {
	fs := c.newFlags("ltv fit", "Fits a customer-lifetime model by maximum likelihood and prints its parameters,\n"+
		"standard errors and log-likelihood (or, with --json, the model file `ltv predict` reads).")
	kind := fs.String("model", "bgnbd", "model: "+strings.Join(LTVModels, ", "))
	asJSON := fs.Bool("json", false, "print the fitted model as JSON")
	penalty := fs.Float64("penalty", 0, "L2 penalty on the parameters")
	sf := addSummaryFlags(fs)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if !slices.Contains(LTVModels, *kind) {
		return usageError{fmt.Errorf("--model %q: want one of %s", *kind, strings.Join(LTVModels, ", "))}
	}
	s, err := sf.read()
	if err != nil {
		return err
	}
	start := time.Now()
	a, err := FitLTV(*kind, s, *penalty)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := a.Marshal()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(c.stdout, "%s fitted on %.0f customers in %s (%d iterations)\n", a.Kind, a.Fit.Customers, time.Since(start).Round(time.Millisecond), a.Fit.Iterations)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "parameter\tvalue\tstd err")
	for _, n := range a.ParamNames() {
		se, ok := a.StdErr[n]
		if !ok {
			se = math.NaN()
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\n", n, a.Params[n], se)
	}
	tw.Flush()
	fmt.Fprintf(c.stdout, "log-likelihood %.4f\n", a.Fit.LogLikelihood)
	if a.Fit.Note != "" {
		fmt.Fprintf(c.stdout, "note: %s\n", a.Fit.Note)
	}
	return nil
}

func (c *cli) ltvPredict(args []string) error {
	fs := c.newFlags("ltv predict", "Scores every customer of a summary with a model file from `ltv fit --json`:\n"+
		"P(alive), expected purchases in the horizon, time to the next order, and with a spend\n"+
		"model and mean values, the expected order value and CLV. Writes CSV.")
	modelFile := fs.String("model-file", "", "purchase model (bgnbd, mbgnbd or pnbd) from ltv fit --json")
	spendFile := fs.String("spend-file", "", "spend model (gg) from ltv fit --json, for value and CLV")
	horizon := fs.Float64("horizon", 52, "horizon of the expected purchases, in the model's time unit")
	months := fs.Int("clv-months", 12, "CLV horizon in months")
	discount := fs.Float64("discount", 0.01, "monthly discount rate of the CLV")
	sf := addSummaryFlags(fs)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *modelFile == "" {
		return usageError{errors.New("--model-file is required")}
	}
	load := func(path string) (*model.Artefact, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return model.LoadArtefact(b)
	}
	pm, err := load(*modelFile)
	if err != nil {
		return err
	}
	var spend *model.Artefact
	if *spendFile != "" {
		if spend, err = load(*spendFile); err != nil {
			return err
		}
	}
	s, err := sf.read()
	if err != nil {
		return err
	}
	perMonth := 52.0 / 12
	if pm.TimeUnit == "day" {
		perMonth = 365.25 / 12
	}
	return PredictLTV(c.stdout, pm, spend, s, *horizon, model.CLVOptions{Months: *months, DiscountMonthly: *discount, UnitsPerMonth: perMonth, Margin: 1})
}
