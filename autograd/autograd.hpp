#pragma once
// chainrule's autograd: include this one header.
#include "autograd/allocator.hpp"
#include "autograd/custom_function.hpp"
#include "autograd/forward_ad.hpp"
#include "autograd/function.hpp"
#include "autograd/functional.hpp"
#include "autograd/gradcheck.hpp"
#include "autograd/hooks.hpp"
#include "autograd/ops.hpp"
#include "autograd/parallel.hpp"
#include "autograd/tensor.hpp"
// The teaching annex (teach/: chain-rule trace, DOT export, calculator, anomaly mode) observes the engine from
// outside; included here so that one header still gives users everything.
#include "teach/teach.hpp"
