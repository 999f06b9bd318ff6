#pragma once
// chainrule's neural-network layer (with the autograd it is built on): include this one header.
#include "autograd/autograd.hpp"
#include "nn/activations.hpp"
#include "nn/data.hpp"
#include "nn/data_parallel.hpp"
#include "nn/datasets2d.hpp"
#include "nn/init.hpp"
#include "nn/layers.hpp"
#include "nn/losses.hpp"
#include "nn/model.hpp"
#include "nn/module.hpp"
#include "nn/penalties.hpp"
#include "nn/serialize.hpp"
