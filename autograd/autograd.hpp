#pragma once
// chainrule's autograd: include this one header.
#include "allocator.hpp"
#include "custom_function.hpp"
#include "forward_ad.hpp"
#include "function.hpp"
#include "functional.hpp"
#include "gradcheck.hpp"
#include "hooks.hpp"
#include "ops.hpp"
#include "parallel.hpp"
#include "tensor.hpp"
// The teaching annex (teach/: chain-rule trace, DOT export, calculator, anomaly mode) observes the engine from
// outside; included here so that one header still gives users everything.
#include "../teach/teach.hpp"
