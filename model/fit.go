package model

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// FitOptions tune a maximum-likelihood fit.
type FitOptions struct {
	// Penalty is an L2 penalty on the parameters, added to the negative mean
	// log-likelihood (as lifetimes' penalizer_coef): it keeps fits finite on
	// data that barely determine a parameter.
	Penalty float64
	// Init is the starting point (natural parameters); nil: all ones.
	Init []float64
}

// Fit is what a fit found besides the parameters.
type Fit struct {
	LogLikelihood float64   `json:"log_likelihood"`
	StdErr        []float64 `json:"std_err"` // from the inverse Hessian; NaN where it is not positive definite
	Iterations    int       `json:"iterations"`
	Evaluations   int       `json:"evaluations"`
	Customers     float64   `json:"customers"`
	Note          string    `json:"note,omitempty"` // what the fit did out of the ordinary
}

// objective is a negative log-likelihood and its gradient in the natural
// parameters θ; the fit works in φ = log θ so that every θ stays positive.
type objective func(theta, grad []float64) float64

// boundaryLog: a fit whose log-parameter passes ±ln 1e6 has its maximum on
// the boundary of the parameter space.
var boundaryLog = math.Log(1e6)

// ErrNotConverged is wrapped by fits that stop without converging.
var ErrNotConverged = errors.New("the fit did not converge")

// maximise fits dim positive parameters. When numeric is set, nll's gradient is
// itself a finite difference, so the Hessian for standard errors is taken from
// second differences of the function instead of differences of the gradient.
func maximise(name string, nll objective, n float64, opt FitOptions, dim int, numeric bool) ([]float64, Fit, error) {
	phi := make([]float64, dim)
	if opt.Init != nil {
		if len(opt.Init) != dim {
			return nil, Fit{}, fmt.Errorf("%s: %d initial values for %d parameters", name, len(opt.Init), dim)
		}
		for i, v := range opt.Init {
			if !(v > 0) {
				return nil, Fit{}, fmt.Errorf("%s: initial value %v must be positive", name, v)
			}
			phi[i] = math.Log(v)
		}
	}
	theta := make([]float64, dim)
	g := make([]float64, dim)
	eval := func(p []float64, grad []float64) float64 {
		for i := range p {
			theta[i] = math.Exp(p[i])
		}
		f := nll(theta, g) / n
		for i := range theta {
			f += opt.Penalty * theta[i] * theta[i]
			if grad != nil {
				grad[i] = theta[i]*g[i]/n + 2*opt.Penalty*theta[i]*theta[i]
			}
		}
		return f
	}
	p := optimize.Problem{
		Func: func(x []float64) float64 { return eval(x, nil) },
		Grad: func(grad, x []float64) { eval(x, grad) },
	}
	settings := &optimize.Settings{GradientThreshold: 1e-7, MajorIterations: 2000, FuncEvaluations: 20000}
	res, err := optimize.Minimize(p, phi, settings, &optimize.BFGS{})
	if res == nil {
		return nil, Fit{}, fmt.Errorf("%s: %w: %v", name, ErrNotConverged, err)
	}
	out := make([]float64, dim)
	for i, v := range res.X {
		out[i] = math.Exp(v)
	}
	ll := -nll(out, g)
	fit := Fit{LogLikelihood: ll, Iterations: res.Stats.MajorIterations, Evaluations: res.Stats.FuncEvaluations, Customers: n}
	// A line search that fails at the optimum, where the objective is flat to
	// float precision, has converged all the same.
	grad := make([]float64, dim)
	eval(res.X, grad)
	gmax := 0.0
	for _, v := range grad {
		gmax = math.Max(gmax, math.Abs(v))
	}
	// A numerical gradient (Pareto/NBD) is only good to about 1e-6 itself:
	// below 1e-5 it cannot tell the optimum from its own noise.
	tol := 1e-6
	if numeric {
		tol = 1e-5
	}
	if err != nil && gmax < tol && !math.IsNaN(ll) {
		err, res.Status = nil, optimize.GradientThreshold
	}
	// A line search also fails when the maximum lies on the boundary (a parameter
	// heading to 0 or infinity): gradient-free searches from there either stop
	// improving, and the fit has converged there, or keep finding better points.
	if err != nil && !math.IsNaN(res.F) {
		if x, far, ok := gradientFree(p.Func, res.X, res.F); ok {
			err, res.Status = nil, optimize.FunctionConvergence
			if far {
				fit.Note = "the maximum lies on the boundary of the parameter space"
			}
			for i, v := range x {
				out[i] = math.Exp(v)
			}
			ll = -nll(out, g)
			fit.LogLikelihood = ll
		}
	}
	if err != nil || math.IsNaN(ll) || math.IsInf(ll, 0) {
		return out, fit, fmt.Errorf("%s: %w after %d iterations (%v; stopped at %v, log-likelihood %v): "+
			"check the data for extreme rows, try a small penalty (e.g. 0.001) or other initial values", name, ErrNotConverged, res.Stats.MajorIterations, err, out, ll)
	}
	switch res.Status {
	case optimize.GradientThreshold, optimize.FunctionConvergence, optimize.StepConvergence:
	default:
		return out, fit, fmt.Errorf("%s: %w: %s after %d iterations at %v: try a small penalty or other initial values", name, ErrNotConverged, res.Status, res.Stats.MajorIterations, out)
	}
	fit.StdErr = stdErr(nll, out, numeric)
	return out, fit, nil
}

// gradientFree searches from x (log-parameters, objective f there) with
// Nelder-Mead rounds until a round stops improving (ok) or a parameter
// passes 1e±6 (ok and far: the maximum is on the boundary; following it
// further costs minutes and changes nothing a prediction uses, and train
// refuses such a fit).
func gradientFree(fn func([]float64) float64, x []float64, f float64) (best []float64, far, ok bool) {
	for round := 0; round < 10; round++ {
		nm, _ := optimize.Minimize(optimize.Problem{Func: fn}, x, &optimize.Settings{FuncEvaluations: 4000}, &optimize.NelderMead{})
		if nm == nil || math.IsNaN(nm.F) {
			return nil, false, false
		}
		improved := f - nm.F
		if nm.F < f {
			x, f = nm.X, nm.F
		}
		for _, v := range x {
			far = far || math.Abs(v) > boundaryLog
		}
		if far || improved <= 1e-9*math.Max(1, math.Abs(f)) {
			return x, far, true
		}
	}
	return nil, false, false
}

// stdErr is the square root of the diagonal of the inverse Hessian of the
// negative log-likelihood at theta, the Hessian taken by central differences of
// the analytic gradient.
func stdErr(nll objective, theta []float64, numeric bool) []float64 {
	dim := len(theta)
	out := make([]float64, dim)
	h := mat.NewDense(dim, dim, nil)
	g := make([]float64, dim)
	if numeric {
		f := func(x []float64) float64 { return nll(x, nil) }
		step := make([]float64, dim)
		for i := range step {
			step[i] = 1e-4 * theta[i]
		}
		at := func(di, dj float64, i, j int) float64 {
			x := append([]float64(nil), theta...)
			x[i] += di * step[i]
			x[j] += dj * step[j]
			return f(x)
		}
		for i := 0; i < dim; i++ {
			for j := i; j < dim; j++ {
				v := (at(1, 1, i, j) - at(1, -1, i, j) - at(-1, 1, i, j) + at(-1, -1, i, j)) / (4 * step[i] * step[j])
				if i == j {
					v = (at(1, 0, i, i) - 2*f(theta) + at(-1, 0, i, i)) / (step[i] * step[i])
				}
				h.Set(i, j, v)
				h.Set(j, i, v)
			}
		}
	} else {
		fd.Jacobian(h, func(y, x []float64) { nll(x, g); copy(y, g) }, theta, &fd.JacobianSettings{Formula: fd.Central})
	}
	hs := mat.NewSymDense(dim, nil)
	for i := 0; i < dim; i++ {
		for j := i; j < dim; j++ {
			hs.SetSym(i, j, (h.At(i, j)+h.At(j, i))/2)
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(hs) {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	var inv mat.SymDense
	if err := chol.InverseTo(&inv); err != nil {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	for i := range out {
		out[i] = math.Sqrt(inv.At(i, i))
	}
	return out
}
