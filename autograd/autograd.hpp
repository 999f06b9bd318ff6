#pragma once
// chainrule's autograd: include this one header.
#include "autograd/allocator.hpp"
#include "autograd/anomaly.hpp"
#include "autograd/custom_function.hpp"
#include "autograd/expression.hpp"
#include "autograd/function.hpp"
#include "autograd/gradcheck.hpp"
#include "autograd/hooks.hpp"
#include "autograd/ops.hpp"
#include "autograd/tensor.hpp"
#include "autograd/trace.hpp"
