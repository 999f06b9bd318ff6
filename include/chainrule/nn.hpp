#pragma once
/// @file
/// chainrule's neural-network layer: layers, losses, Model and fit, data, serialization, with the autograd it is
/// built on and the optimizers that fit needs.
#include "autograd.hpp"
#include "nn/nn.hpp"
#include "optim.hpp"
