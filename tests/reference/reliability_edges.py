#!/usr/bin/python3
"""Prints torch 1.13's values and gradients at the numerical edges tests/test_reliability.cpp checks:
log, sqrt and div at (signed) zero, softmax / log_softmax / cross-entropy at logits of +-1e4, binary cross-entropy
at probabilities 0 and 1. Run with Debian's python3-torch: /usr/bin/python3 tests/reference/reliability_edges.py
The numbers are few and exact (0, +-inf, nan, +-1e4, 100), so the test writes them out instead of reading a file."""
import torch
import torch.nn.functional as F

for dtype in (torch.float64, torch.float32):
    print(dtype)
    for name, f in (("log", torch.log), ("sqrt", torch.sqrt)):
        x = torch.tensor([0.0, -0.0, -1.0, 4.0], dtype=dtype, requires_grad=True)
        y = f(x)
        y.sum().backward()
        print(f"  {name}({x.tolist()}) = {y.tolist()}   grad {x.grad.tolist()}")
    a = torch.tensor([1.0, -1.0, 0.0, 3.0], dtype=dtype, requires_grad=True)
    b = torch.tensor([0.0, 0.0, 0.0, 2.0], dtype=dtype, requires_grad=True)
    y = a / b
    y.sum().backward()
    print(f"  div = {y.tolist()}   grad a {a.grad.tolist()}   grad b {b.grad.tolist()}")

    z = torch.tensor([1e4, -1e4, 0.0], dtype=dtype, requires_grad=True)
    s = torch.softmax(z, 0)
    (s * torch.tensor([1.0, 2.0, 3.0], dtype=dtype)).sum().backward()
    print(f"  softmax = {s.tolist()}  log_softmax = {torch.log_softmax(z.detach(), 0).tolist()}  "
          f"grad of softmax . (1,2,3) = {z.grad.tolist()}")
    z = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype, requires_grad=True)
    ce = F.cross_entropy(z, torch.tensor([1, 2]), reduction="sum")
    ce.backward()
    print(f"  cross_entropy(labels 1, 2) summed = {ce.item()}  grad {z.grad.tolist()}")

    p = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype, requires_grad=True)
    t = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=dtype)
    l = F.binary_cross_entropy(p, t, reduction="none")
    l.sum().backward()
    print(f"  bce(p {p.tolist()}, t {t.tolist()}) = {l.tolist()}  grad {p.grad.tolist()}")
