package model

// GammaDraw lets the external tests simulate with the same sampler.
var GammaDraw = gammaDraw
