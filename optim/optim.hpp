#pragma once
// chainrule's optimizers: include this one header.
#include "adadelta.hpp"
#include "adagrad.hpp"
#include "adam.hpp"
#include "factory.hpp"
#include "optimizer.hpp"
#include "rmsprop.hpp"
#include "sgd.hpp"
#include "trace.hpp"
