#!/usr/bin/python3
"""torch 1.13's values and gradients of every op of chainrule's op table at NaN, +-inf and +-0.

Regenerate from the repository root with:

    /usr/bin/python3 tests/reference/generate_nan_table.py

It (over)writes nan_table.json next to this script, read by tests/test_nan.cpp. For each dtype (float64, float32)
and each op: the inputs, the output and the gradient of sum(output) with respect to every differentiable input.
    elementwise unary ops: x = SPECIALS (7 values)
    elementwise binary ops and comparisons: every pair of SPECIALS (49)
    where(c > 0, a, b): c, a over every pair, b = a reversed (49)
    reductions over all axes: each row of ROWS on its own (8 cases); over an axis: ROWS as one [8, 3] matrix
    shape ops, matmul, affine: SPECIALS laid out in the op's shape
Numbers are written as strings ("nan", "-inf", "-0.0", repr of a float) since JSON has no NaN or infinity; a NaN's
sign is not recorded (torch does not define it).
"""
import json
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
NAN, INF = math.nan, math.inf
SPECIALS = [NAN, INF, -INF, 0.0, -0.0, 1.5, -2.0]
ROWS = [[1.0, NAN, 3.0], [NAN, NAN, 1.0], [INF, 1.0, 2.0], [-INF, -INF, -INF],
        [INF, -INF, 0.0], [0.0, -0.0, 0.0], [3.0, 3.0, 1.0], [INF, INF, 1.0]]
GATHER_INDEX = [1, 0, 2, 1, 0, 2, 1, 0]
PAIRS_A = [a for a in SPECIALS for _ in SPECIALS]
PAIRS_B = [b for _ in SPECIALS for b in SPECIALS]


def step(x):  # chainrule's step: 1 where x >= 0, 0 below, NaN stays NaN (torch.heaviside); its derivative is 0
    return torch.heaviside(x, torch.ones((), dtype=x.dtype))


UNARY = {
    "neg": torch.neg, "pow_scalar": lambda x: torch.pow(x, 2.5), "exp": torch.exp, "log": torch.log,
    "sqrt": torch.sqrt, "abs": torch.abs, "square": torch.square, "sin": torch.sin, "cos": torch.cos,
    "clamp": lambda x: torch.clamp(x, -1.1, 0.9), "linear": lambda x: x * 0.7 + -0.3,
    "piecewise_linear": lambda x: torch.clamp((x - -1.5) / (1.7 - -1.5), 0, 1), "sigmoid": torch.sigmoid,
    "gaussian": lambda x: torch.exp(-torch.square(x)), "tanh": torch.tanh, "relu": torch.relu,
    "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, 0.1), "step": step,
}
BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "pow": torch.pow,
          "maximum": torch.maximum, "minimum": torch.minimum}
COMPARE = {"gt": torch.gt, "lt": torch.lt, "ge": torch.ge, "le": torch.le, "eq": torch.eq, "ne": torch.ne}
REDUCE_ALL = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax,
              "softmax": lambda x: torch.softmax(x, -1), "log_softmax": lambda x: torch.log_softmax(x, -1)}
REDUCE_AXIS = {"sum_axes": lambda x: torch.sum(x, (0, -1)), "sum_keepdims": lambda x: torch.sum(x, -1, True),
               "mean_axes": lambda x: torch.mean(x, 1, True), "max_axes": lambda x: torch.amax(x, -1),
               "max_axis0": lambda x: torch.amax(x, 0), "softmax": lambda x: torch.softmax(x, -1),
               "softmax_axis0": lambda x: torch.softmax(x, 0), "log_softmax": lambda x: torch.log_softmax(x, -1),
               "log_softmax_axis0": lambda x: torch.log_softmax(x, 0)}


def num(v):
    return "nan" if math.isnan(v) else repr(float(v))


def tensor_json(t):
    return {"shape": list(t.shape), "data": [num(v) for v in t.detach().reshape(-1).tolist()]}


def case(f, inputs, dtype, differentiable):
    """inputs: nested lists; differentiable: which inputs get a gradient."""
    xs = [torch.tensor(v, dtype=dtype, requires_grad=d) for v, d in zip(inputs, differentiable)]
    y = f(*xs)
    out = {"inputs": [tensor_json(x) for x in xs], "value": tensor_json(y)}
    if any(differentiable) and y.requires_grad:
        y.sum().backward()
    out["grads"] = [tensor_json(x.grad) if d else None for x, d in zip(xs, differentiable)]
    return out


def table(dtype):
    ops = {}
    for name, f in UNARY.items():
        ops[name] = [case(f, [SPECIALS], dtype, [name != "step"])]
    ops["step"][0]["grads"] = [tensor_json(torch.zeros(len(SPECIALS)))]  # torch has no derivative for heaviside
    for name, f in BINARY.items():
        ops[name] = [case(f, [PAIRS_A, PAIRS_B], dtype, [True, True])]
    for name, f in COMPARE.items():
        ops[name] = [case(f, [PAIRS_A, PAIRS_B], dtype, [False, False])]
    ops["where"] = [case(lambda c, a, b: torch.where(c > 0, a, b), [PAIRS_A, PAIRS_B, PAIRS_B[::-1]], dtype,
                         [False, True, True])]
    for name, f in REDUCE_ALL.items():
        ops[name] = [case(f, [row], dtype, [True]) for row in ROWS]
    for name, f in REDUCE_AXIS.items():
        ops.setdefault(name, []).append(case(f, [ROWS], dtype, [True]))
    grid = [SPECIALS[:6], SPECIALS[1:]]  # [2, 6]
    ops["reshape"] = [case(lambda x: torch.reshape(x, (-1, 2)) * 1.5, [grid], dtype, [True])]
    ops["transpose"] = [case(lambda x: x.t(), [grid], dtype, [True])]
    ops["permute"] = [case(lambda x: x.reshape(2, 3, 2).permute(2, 0, 1), [grid], dtype, [True])]
    ops["broadcast_to"] = [case(lambda x: x.broadcast_to((3, 7)), [[SPECIALS]], dtype, [True])]
    ops["concat"] = [case(lambda a, b: torch.cat([a, b, a], 0), [grid, [SPECIALS[::-1][:6]]], dtype, [True, True])]
    ops["gather"] = [case(lambda x: x[range(8), GATHER_INDEX], [ROWS], dtype, [True])]  # y_i = x[i, index_i]
    ops["matmul"] = [case(torch.matmul, [grid, [[1.0, -0.5], [0.0, 2.0], [NAN, 1.0], [INF, 0.0], [-0.0, -INF],
                                                 [0.5, 0.25]]], dtype, [True, True])]
    ops["affine"] = [case(lambda x, w, b: x @ w + b, [grid, [[1.0], [0.0], [2.0], [-1.0], [0.5], [0.0]],
                                                      [-INF]], dtype, [True, True, True])]
    return ops


if __name__ == "__main__":
    path = os.path.join(HERE, "nan_table.json")
    out = {"torch_version": torch.__version__, "specials": [num(v) for v in SPECIALS],
           "float64": table(torch.float64), "float32": table(torch.float32)}
    with open(path, "w") as fh:
        json.dump(out, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    n_ops = len(out["float64"])
    n_values = sum(len(c["value"]["data"]) for cases in out["float64"].values() for c in cases)
    print("wrote", path, f"({n_ops} ops, {n_values} output values a dtype)")
