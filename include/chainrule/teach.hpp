#pragma once
/// @file
/// chainrule's teaching tools: chain-rule trace, Graphviz and HTML export, anomaly mode, expression calculator.
#include "autograd.hpp"
#include "teach/teach.hpp"
