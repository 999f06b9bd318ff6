#!/usr/bin/python3
"""Reference-number generator for chainrule's C++ tests (PyTorch, float64).

Regenerate from the repository root with:

    /usr/bin/python3 tests/reference/generate_reference.py

It (over)writes two files next to this script:

optim_trajectories.json
    Net: Sequential(Linear(3,4), Tanh, Linear(4,2)), fixed initial params,
    fixed data X [6,3] and targets Y [6,2], loss = mse_loss (mean over all
    12 elements). Each case does 5 full-batch steps (zero_grad, forward,
    loss, backward, step) and records, per step, the loss computed BEFORE
    the step and every parameter AFTER it.
      optimizers: sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam
                  (hyperparameters are stored next to each trajectory)
      weight_decay: each of them again with weight_decay = 0.1, plus RMSprop
                  centred with momentum and Adam with amsgrad
      penalties (SGD lr=0.1, F = mse + alpha*C, C over the two weight
                 matrices only, n = 20 weight elements):
        l1: C = sum|w|/n,  l2: C = sum w^2/(2n),
        elasticnet: C = r*L1 + (1-r)*L2 with r = 0.5;  alpha = 0.1
course_examples.json
    Golden values of a neural-networks course computed with autograd:
    backprop (2-2-1 ReLU net), xor_step (2-2-1 sigmoid net, one SGD step),
    micrograd (the micrograd README expression), mse_table,
    gradient_descent_step. Expected values are asserted below.

C++ conventions: a Linear weight is stored [in][out] (torch's weight
transposed) and y = x.W + b; parameters are ordered like named_parameters
("0.weight", "0.bias", "2.weight", "2.bias"). Floats are written with
Python's repr, which round-trips float64 exactly.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 5
PARAM_ORDER = ["0.weight", "0.bias", "2.weight", "2.bias"]


def close(x, expected, tol=1e-5):
    """Fail loudly if a golden value is not what the course says."""
    assert abs(float(x) - expected) < tol, f"got {float(x)!r}, expected {expected}"


# ----------------------------------------------------------------------------
# 1. optimizer and penalty trajectories
# ----------------------------------------------------------------------------
def initial_state():
    """Deterministic params (torch layout): magnitude in [0.1, 0.5], random
    sign, so no weight starts near 0 (|w| is non-differentiable there)."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for name, shape in [("0.weight", (4, 3)), ("0.bias", (4,)),
                        ("2.weight", (2, 4)), ("2.bias", (2,))]:
        mag = 0.1 + 0.4 * torch.rand(shape, generator=gen)
        sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
        state[name] = mag * sign
    return state


def make_data():
    gen = torch.Generator().manual_seed(1)
    X = 2.0 * torch.rand(6, 3, generator=gen) - 1.0      # uniform(-1, 1)
    Y = 2.0 * torch.rand(6, 2, generator=gen) - 1.0
    return X, Y


def make_net(state):
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                              torch.nn.Linear(4, 2))
    net.load_state_dict({k: v.clone() for k, v in state.items()})
    assert [n for n, _ in net.named_parameters()] == PARAM_ORDER
    return net


def to_json(name, t):
    """Weights are written [in][out] (transposed), biases as flat lists."""
    t = t.detach()
    return (t.t() if name.endswith("weight") else t).tolist()


def params_json(net):
    return {n: to_json(n, p) for n, p in net.named_parameters()}


# Optimizer cases: name -> (torch class, all algorithm-relevant hyperparameters).
NO_WD = dict(weight_decay=0.0)
OPTIMIZERS = {
    "sgd": (torch.optim.SGD, dict(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, **NO_WD)),
    "momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, **NO_WD)),
    "nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.0, nesterov=True, **NO_WD)),
    "adagrad": (torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.0, initial_accumulator_value=0.0,
                                          eps=1e-10, **NO_WD)),
    "adadelta": (torch.optim.Adadelta, dict(lr=1.0, rho=0.9, eps=1e-6, **NO_WD)),
    "rmsprop": (torch.optim.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0,
                                          centered=False, **NO_WD)),
    "adam": (torch.optim.Adam, dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, amsgrad=False, **NO_WD)),
}


# Variants that take weight decay along another path through the update (RMSprop centred with momentum, AMSGrad).
WEIGHT_DECAY_VARIANTS = {
    "rmsprop": {"": {}, "_centered_momentum": dict(centered=True, momentum=0.9)},
    "adam": {"": {}, "_amsgrad": dict(amsgrad=True)},
}


def run(state, X, Y, opt_cls, hyper, penalty=None):
    """5 full-batch steps; penalty(net) -> (extra loss term) or None."""
    net = make_net(state)
    opt = opt_cls(net.parameters(), **hyper)
    steps = []
    for _ in range(STEPS):
        opt.zero_grad()
        mse = F.mse_loss(net(X), Y)              # reduction='mean'
        loss = mse if penalty is None else mse + penalty(net)
        loss.backward()
        record = {"loss_before": loss.item()}
        if penalty is not None:
            record["mse_before"] = mse.item()
        opt.step()
        record["params"] = params_json(net)
        steps.append(record)
    return steps


def weights(net):
    return [net[0].weight, net[2].weight]        # weights only, no biases


def l1(net, n):
    return sum(w.abs().sum() for w in weights(net)) / n


def l2(net, n):
    return sum((w * w).sum() for w in weights(net)) / (2 * n)


def check_away_from_zero(trajectory, margin=1e-2):
    """|w| is differentiated at the initial weights and after steps 1..4: every
    weight must stay clearly nonzero and keep its initial sign throughout."""
    for name in ("0.weight", "2.weight"):
        path = torch.tensor([rec["params"][name] for rec in trajectory])
        assert path.abs().min() > margin, f"{name} comes too close to 0"
        assert (torch.sign(path) == torch.sign(path[0])).all(), f"{name} flips sign"


def optim_trajectories():
    state, (X, Y) = initial_state(), make_data()
    out = {
        "description": "Sequential(Linear(3,4), Tanh, Linear(4,2)); loss = "
                       "mse_loss mean over all elements; full-batch steps",
        "torch_version": torch.__version__, "dtype": "float64",
        "weight_layout": "[in][out], y = x.W + b (torch weight transposed)",
        "param_order": PARAM_ORDER, "steps": STEPS,
        "X": X.tolist(), "Y": Y.tolist(),
        "initial_params": {n: to_json(n, t) for n, t in state.items()},
        "optimizers": {}, "penalties": {},
    }
    for name, (cls, hyper) in OPTIMIZERS.items():
        out["optimizers"][name] = {              # (json writes tuples as lists)
            "type": cls.__name__, "hyperparams": hyper,
            "trajectory": run(state, X, Y, cls, hyper)}

    # The same optimizers with weight decay (torch's L2 form: g += wd·w before the update), so that its sign and
    # its place in each formula are checked against torch, not only against the library itself.
    out["weight_decay"] = {}
    for name, (cls, hyper) in OPTIMIZERS.items():
        for variant, extra in WEIGHT_DECAY_VARIANTS.get(name, {"": {}}).items():
            h = dict(hyper, weight_decay=0.1, **extra)
            out["weight_decay"][name + variant + "_wd"] = {
                "type": cls.__name__, "hyperparams": h, "trajectory": run(state, X, Y, cls, h)}

    n = sum(state[k].numel() for k in ("0.weight", "2.weight"))
    assert n == 20
    alpha, r = 0.1, 0.5
    sgd = OPTIMIZERS["sgd"][1]
    cases = {
        "l1": ("C = (1/n) sum|w|  (= elasticnet with r=1)", 1.0, lambda net: alpha * l1(net, n)),
        "l2": ("C = (1/(2n)) sum w^2  (= elasticnet with r=0)", 0.0, lambda net: alpha * l2(net, n)),
        "elasticnet": ("C = r*L1 + (1-r)*L2", r,
                       lambda net: alpha * (r * l1(net, n) + (1 - r) * l2(net, n))),
    }
    init = {"params": out["initial_params"]}
    for name, (formula, ratio, pen) in cases.items():
        steps = run(state, X, Y, torch.optim.SGD, sgd, penalty=pen)
        check_away_from_zero([init] + steps)
        out["penalties"][name] = {
            "formula": "F = mse + alpha*C, C over weights of both Linear "
                       "layers only (no biases); " + formula,
            "alpha": alpha, "r": ratio, "n": n,
            "optimizer": {"type": "SGD", "hyperparams": sgd},
            "trajectory": steps}
    return out


# ----------------------------------------------------------------------------
# 2. course examples
# ----------------------------------------------------------------------------
def t(v):
    return torch.tensor(v, requires_grad=True)


def backprop():
    x = torch.tensor([0.0, 1.0])
    W3, W4, W5, W6 = t(0.0), t(1.0), t(2.0), t(3.0)   # input i -> hidden j
    V1, V2 = t(1.0), t(2.0)                          # hidden j -> output
    h1 = torch.relu(W3 * x[0] + W4 * x[1])
    h2 = torch.relu(W5 * x[0] + W6 * x[1])
    pred = V1 * h1 + V2 * h2                         # linear output, no bias
    target = 4.0
    loss = (pred - target) ** 2                      # squared error, not halved
    loss.backward()
    for got, exp in [(h1, 1), (h2, 3), (pred, 7), (loss, 9), (V1.grad, 6), (V2.grad, 18),
                     (W3.grad, 0), (W4.grad, 6), (W5.grad, 0), (W6.grad, 12)]:
        close(got, exp)
    return {"x": x.tolist(), "W3_W6": [0.0, 1.0, 2.0, 3.0],
            "output_weights": [1.0, 2.0], "target": target,
            "loss_formula": "(pred - target)^2",
            "hidden": [h1.item(), h2.item()], "prediction": pred.item(),
            "loss": loss.item(),
            "grad_output_weights": [V1.grad.item(), V2.grad.item()],
            "grad_W3_W6": [w.grad.item() for w in (W3, W4, W5, W6)]}


def xor_step():
    x, target, eta = torch.tensor([[0.0, 1.0]]), 1.0, 0.25
    W1_0 = [[0.1, 0.5], [-0.7, 0.3]]          # rows x1, x2; columns h1, h2
    W2_0 = [[0.2], [0.4]]                     # rows h1, h2
    W1, W2 = t(W1_0), t(W2_0)
    z_h = x @ W1
    z_h.retain_grad()
    h = torch.sigmoid(z_h)
    o = torch.sigmoid(h @ W2)
    loss = 0.5 * (target - o) ** 2
    loss.sum().backward()
    # Hand-computed deltas (textbook sign convention: delta = -dL/dz).
    ov, hv = o.item(), h.detach()[0]
    delta_out = (target - ov) * ov * (1 - ov)
    delta_h = delta_out * torch.tensor([0.2, 0.4]) * hv * (1 - hv)
    assert torch.allclose(-z_h.grad[0], delta_h, rtol=0, atol=1e-15)
    with torch.no_grad():
        W1_new, W2_new = W1 - eta * W1.grad, W2 - eta * W2.grad
        o_new = torch.sigmoid(torch.sigmoid(x @ W1_new) @ W2_new)
    for got, exp in [(hv[0], 0.33181), (hv[1], 0.57444), (ov, 0.57350),
                     (delta_out, 0.10432), (W2_new[0, 0], 0.20865),
                     (W2_new[1, 0], 0.41498), (delta_h[0], 0.0046259),
                     (delta_h[1], 0.0102009), (W1_new[1, 0], -0.69884),
                     (W1_new[1, 1], 0.30255), (o_new, 0.57638)]:
        close(got, exp)
    return {"x": x[0].tolist(), "target": target, "lr": eta,
            "loss_formula": "0.5*(t - o)^2", "W1_layout": "rows x1,x2; cols h1,h2",
            "W1": W1_0, "W2": [0.2, 0.4],
            "h": hv.tolist(), "o": ov, "loss": loss.item(),
            "delta_out": delta_out, "delta_hidden": delta_h.tolist(),
            "grad_W1": W1.grad.tolist(), "grad_W2": W2.grad[:, 0].tolist(),
            "W1_after": W1_new.tolist(), "W2_after": W2_new[:, 0].tolist(),
            "o_after": o_new.item()}


def micrograd():
    a, b = t(-4.0), t(2.0)
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1                       # c += c + 1
    c = c + 1 + c + (-a)                # c += 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()      # d += d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()      # d += 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f                    # g += 10.0 / f
    g.backward()
    close(g, 24.7041, 1e-4), close(a.grad, 138.8338, 1e-4), close(b.grad, 645.5773, 1e-4)
    return {"a": -4.0, "b": 2.0, "g": g.item(),
            "dg_da": a.grad.item(), "dg_db": b.grad.item()}


def mse_table():
    pred, target = torch.tensor([10.0, 8.0, 6.0]), torch.tensor([20.0, 3.0, 1.0])
    total = ((pred - target) ** 2).sum().item()
    mean = F.mse_loss(pred, target).item()
    close(total, 150), close(mean, 50)
    return {"predictions": pred.tolist(), "targets": target.tolist(),
            "sum_squared_error": total, "mean_squared_error": mean}


def gradient_descent_step():
    w, slope, lr = 2.0, -24.0, 0.01
    w_new = w - lr * slope
    close(w_new, 2.24)
    return {"w": w, "slope": slope, "lr": lr, "w_after": w_new}


def course_examples():
    return {"torch_version": torch.__version__, "dtype": "float64",
            "backprop": backprop(), "xor_step": xor_step(),
            "micrograd": micrograd(), "mse_table": mse_table(),
            "gradient_descent_step": gradient_descent_step()}


def write(name, obj):
    path = os.path.join(HERE, name)
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=1)
        fh.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    write("optim_trajectories.json", optim_trajectories())
    write("course_examples.json", course_examples())
