#pragma once
/// @file
/// chainrule's optimizers: SGD, Adagrad, Adadelta, RMSprop, Adam, make_optimizer and the update trace.
#include "autograd.hpp"
#include "optim/optim.hpp"
