#pragma once
/// @file
/// chainrule's autograd: Tensor, its ops, backward, gradcheck, custom functions (and the teaching tools).
#include "autograd/autograd.hpp"
#include "version.hpp"
