#pragma once
// The teaching annex: tools that observe the engine (autograd/) from outside, through its BackwardObserver.
#include "anomaly.hpp"     // anomaly mode: the first op that makes a NaN or inf throws
#include "expression.hpp"  // the expression language of the `chainrule grad` calculator
#include "html.hpp"        // the trace as a web page that steps through backward
#include "trace.hpp"       // the chain-rule trace of a backward pass, Graphviz export
