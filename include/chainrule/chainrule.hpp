#pragma once
/// @file
/// All of chainrule: the autograd engine, the teaching tools, the neural-network layer and the optimizers.
#include "autograd.hpp"
#include "nn.hpp"
#include "optim.hpp"
#include "teach.hpp"
#include "version.hpp"
