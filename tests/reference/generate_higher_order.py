#!/usr/bin/python3
"""Reference numbers for chainrule's higher-order tests (PyTorch, float64).

Regenerate from the repository root with:

    /usr/bin/python3 tests/reference/generate_higher_order.py

It (over)writes higher_order.json next to this script:

ops
    For each elementwise op f, at fixed points x: f'(x), f''(x) and f'''(x),
    elementwise (the derivatives of sum(f(x)) taken three times with
    create_graph=True).
functional
    torch.autograd.functional on fixed inputs:
      scalar(x)   = sum(exp(x)*sin(x)) + sum(x*x*x)/3 + sum(tanh(x)*log(x)),  x [4] > 0:
                    hessian, hvp(v)
      two(x, w)   = sum(square(sigmoid(x @ w))),  x [2,3], w [3,2]:
                    hessian (all four blocks), hvp(vx, vw)
      soft(x)     = sum(softmax(x, -1) * c) + sum(log_softmax(x, 0) * c),  x [2,3]:
                    hessian
      vec(x, w)   = softmax(tanh(x @ w), -1)  [2,2]:
                    jacobian (both inputs), vjp(u), jvp(vx, vw)
gradient_penalty
    Net Sequential(Linear(3,4), Tanh, Linear(4,1)) with fixed parameters,
    data X [6,3], Y [6,1]; each step: L = mse(net(X), Y), G = dL/dX with
    create_graph, loss = L + 0.5 * sum(G^2); backward; SGD lr 0.1. Three
    steps; per step the loss before the step and every parameter after it.
    Weights are stored [in][out] (chainrule's layout: torch's transposed).

Floats are written with Python's repr, which round-trips float64 exactly.
"""
import json
import os

import torch
import torch.nn.functional as F
from torch.autograd import functional as AF

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))


def flat(t):
    return [float(v) for v in t.detach().clone().contiguous().reshape(-1).tolist()]


def T(values, shape):
    return torch.tensor(values).reshape(shape)


POS = [0.3, 0.7, 1.3, 2.1]
ANY = [-1.7, -0.4, 0.6, 1.9]

UNARY = {
    "neg": (lambda x: -x, ANY),
    "exp": (torch.exp, ANY),
    "log": (torch.log, POS),
    "sqrt": (torch.sqrt, POS),
    "abs": (torch.abs, ANY),
    "square": (torch.square, ANY),
    "sin": (torch.sin, ANY),
    "cos": (torch.cos, ANY),
    "pow_scalar": (lambda x: torch.pow(x, 2.5), POS),
    "sigmoid": (torch.sigmoid, ANY),
    "tanh": (torch.tanh, ANY),
    "gaussian": (lambda x: torch.exp(-torch.square(x)), ANY),
    "relu": (torch.relu, ANY),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), ANY),
    "clamp": (lambda x: torch.clamp(x, -1.1, 0.9), ANY),
    "linear": (lambda x: 0.7 * x - 0.3, ANY),
}


def derivatives(f, xs):
    x = torch.tensor(xs, requires_grad=True)
    out = {"x": xs}
    y = f(x).sum()
    for name in ("d1", "d2", "d3"):
        (g,) = torch.autograd.grad(y, x, create_graph=True, allow_unused=True)
        if g is None:
            g = torch.zeros_like(x)
        out[name] = flat(g)
        y = g.sum()
        if not y.requires_grad:
            y = y + 0 * x.sum()
    return out


def ops():
    return {name: derivatives(f, xs) for name, (f, xs) in UNARY.items()}


def scalar(x):
    return (torch.exp(x) * torch.sin(x)).sum() + (x * x * x).sum() / 3 + (torch.tanh(x) * torch.log(x)).sum()


def two(x, w):
    return torch.square(torch.sigmoid(x @ w)).sum()


C = T([0.5, -1.0, 2.0, 1.5, 0.25, -0.75], (2, 3))


def soft(x):
    return (torch.softmax(x, -1) * C).sum() + (torch.log_softmax(x, 0) * C).sum()


def vec(x, w):
    return torch.softmax(torch.tanh(x @ w), -1)


def functional():
    x4 = T([0.4, 0.9, 1.6, 2.2], (4,))
    v4 = T([1.0, -0.5, 0.25, 2.0], (4,))
    x = T([0.3, -1.2, 0.8, 1.5, -0.6, 0.1], (2, 3))
    w = T([0.7, -0.4, 1.1, 0.2, -0.9, 0.5], (3, 2))
    vx = T([0.2, 0.5, -1.0, 0.3, 0.8, -0.7], (2, 3))
    vw = T([-0.3, 0.6, 0.9, -1.2, 0.4, 0.1], (3, 2))
    u = T([1.0, -2.0, 0.5, 0.75], (2, 2))
    out = {"x4": flat(x4), "v4": flat(v4), "x": flat(x), "w": flat(w), "vx": flat(vx), "vw": flat(vw), "u": flat(u),
           "c": flat(C)}
    out["scalar_hessian"] = flat(AF.hessian(scalar, x4))
    out["scalar_hvp"] = flat(AF.hvp(scalar, x4, v4)[1])
    out["scalar_value"] = float(scalar(x4))
    h = AF.hessian(two, (x, w))
    out["two_hessian"] = [[flat(h[i][j]) for j in range(2)] for i in range(2)]
    hv = AF.hvp(two, (x, w), (vx, vw))[1]
    out["two_hvp"] = [flat(hv[0]), flat(hv[1])]
    out["soft_hessian"] = flat(AF.hessian(soft, x))
    j = AF.jacobian(vec, (x, w))
    out["vec_jacobian"] = [flat(j[0]), flat(j[1])]
    out["vec_vjp"] = [flat(t) for t in AF.vjp(vec, (x, w), u)[1]]
    out["vec_jvp"] = flat(AF.jvp(vec, (x, w), (vx, vw))[1])
    out["vec_value"] = flat(vec(x, w))
    return out


def gradient_penalty():
    X = T([0.5, -1.0, 0.3, 1.2, 0.7, -0.4, -0.8, 0.1, 0.9, 0.0, -0.5, 1.5, 1.1, 0.6, -1.3, -0.2, 0.4, 0.8], (6, 3))
    Y = T([0.3, -0.6, 1.0, 0.2, -0.1, 0.7], (6, 1))
    W1 = T([0.2 * ((i * 7) % 11 - 5) / 5 for i in range(12)], (3, 4))   # [in][out]
    b1 = T([0.1, -0.2, 0.05, 0.3], (4,))
    W2 = T([0.5, -0.7, 0.3, 0.9], (4, 1))
    b2 = T([-0.1], (1,))
    params = [p.clone().requires_grad_() for p in (W1, b1, W2, b2)]
    lam, lr = 0.5, 0.1
    out = {"X": flat(X), "Y": flat(Y), "lambda": lam, "lr": lr,
           "initial": [flat(p) for p in params], "steps": []}
    for _ in range(3):
        x = X.clone().requires_grad_()
        h = torch.tanh(x @ params[0] + params[1])
        o = h @ params[2] + params[3]
        L = F.mse_loss(o, Y)
        (G,) = torch.autograd.grad(L, x, create_graph=True)
        loss = L + lam * (G * G).sum()
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        out["steps"].append({"loss": float(loss), "params": [flat(p) for p in params]})
    return out


def write(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    write("higher_order.json", {"ops": ops(), "functional": functional(), "gradient_penalty": gradient_penalty()})
