#!/usr/bin/env python3
"""Generates Tests/EngineTests/Fixtures/ops.json: PyTorch reference values for every
differentiable op of Engine's core (forward output and the gradient of every input).

Pinned: torch 2.15.0 (see requirements.txt). Run from the repository root:
    python Tools/Reference/generate_op_fixtures.py

For each case the inputs are drawn from a seeded torch generator, the op runs in float32 on the
CPU, and the gradients are those of L = sum(output * upstream) for a random `upstream` of the
output's shape (so every output element gets a different weight). The Swift test
(Tests/EngineTests/OpReferenceTests.swift) has one table entry per `op` name below.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

EXPECTED_TORCH = "2.15.0"
if not torch.__version__.startswith(EXPECTED_TORCH):
    sys.exit(f"expected torch {EXPECTED_TORCH}, found {torch.__version__}")

torch.manual_seed(20261127)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EngineTests", "Fixtures", "ops.json")


def normal(*shape):
    return torch.randn(shape, dtype=torch.float32)


def positive(*shape):  # in [0.5, 2.0): safe for log, sqrt, division, fractional powers
    return 0.5 + 1.5 * torch.rand(shape, dtype=torch.float32)


def away_from_zero(*shape):  # |x| in [0.1, 2.1): relu's kink is far from finite-difference steps
    x = normal(*shape)
    return torch.sign(x) * (0.1 + 2.0 * torch.rand(*shape))


def encode(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


cases = []


def case(name, op, inputs, fn, params=None):
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    upstream = normal(*out.shape)
    (out * upstream).sum().backward()
    cases.append({
        "name": name, "op": op, "params": params or {},
        "inputs": [encode(x) for x in inputs],
        "upstream": encode(upstream),
        "output": encode(out),
        "gradients": [encode(x.grad) for x in leaves],
    })


# Elementwise arithmetic with broadcasting
case("add same shape", "add", [normal(3, 4), normal(3, 4)], lambda a, b: a + b)
case("add row broadcast", "add", [normal(3, 4), normal(4)], lambda a, b: a + b)
case("add both broadcast", "add", [normal(2, 1, 3), normal(4, 1)], lambda a, b: a + b)
case("add scalar-like", "add", [normal(3, 4), normal(1)], lambda a, b: a + b)
case("sub column broadcast", "sub", [normal(3, 4), normal(3, 1)], lambda a, b: a - b)
case("sub broadcast left", "sub", [normal(4), normal(2, 3, 4)], lambda a, b: a - b)
case("mul same shape", "mul", [normal(2, 5), normal(2, 5)], lambda a, b: a * b)
case("mul 3-D broadcast", "mul", [normal(2, 3, 4), normal(3, 1)], lambda a, b: a * b)
case("div row broadcast", "div", [normal(3, 4), positive(4)], lambda a, b: a / b)
case("div both broadcast", "div", [normal(3, 1), positive(1, 5)], lambda a, b: a / b)
case("neg", "neg", [normal(5)], lambda a: -a)

# Elementwise functions
case("exp", "exp", [normal(3, 4)], torch.exp)
case("log", "log", [positive(3, 4)], torch.log)
case("sqrt", "sqrt", [positive(7)], torch.sqrt)
case("pow 3", "pow", [normal(2, 3)], lambda a: a ** 3, {"exponent": 3.0})
case("pow 0.5", "pow", [positive(2, 3)], lambda a: a ** 0.5, {"exponent": 0.5})
case("pow -1", "pow", [positive(4)], lambda a: a ** -1, {"exponent": -1.0})
case("square", "square", [normal(3, 3)], torch.square)
case("relu", "relu", [away_from_zero(4, 5)], torch.relu)
case("sigmoid", "sigmoid", [normal(4, 5) * 3], torch.sigmoid)
case("sigmoid saturated", "sigmoid", [torch.tensor([-90.0, -30.0, -5.0, 0.0, 5.0, 30.0, 90.0])], torch.sigmoid)
case("tanh", "tanh", [normal(4, 5) * 2], torch.tanh)

# Reductions
case("sum all", "sum", [normal(3, 4)], lambda a: a.sum())
case("sum axis 0", "sum", [normal(3, 4)], lambda a: a.sum(0), {"axis": 0})
case("sum axis 1 keepdims", "sum", [normal(3, 4)], lambda a: a.sum(1, keepdim=True), {"axis": 1, "keepDims": True})
case("sum axis -2 of 3-D", "sum", [normal(2, 3, 4)], lambda a: a.sum(-2), {"axis": -2})
case("mean all", "mean", [normal(3, 4)], lambda a: a.mean())
case("mean axis 1", "mean", [normal(2, 3, 4)], lambda a: a.mean(1), {"axis": 1})
case("mean axis 0 keepdims", "mean", [normal(5, 2)], lambda a: a.mean(0, keepdim=True), {"axis": 0, "keepDims": True})
case("max all", "max", [normal(3, 4)], lambda a: a.max())
case("max axis 1", "max", [normal(3, 5)], lambda a: a.max(1).values, {"axis": 1})
case("max axis 0 keepdims", "max", [normal(4, 3)], lambda a: a.max(0, keepdim=True).values, {"axis": 0, "keepDims": True})

# Matrix products (transposed operands are stored transposed and flagged)
case("matmul", "matmul", [normal(3, 4), normal(4, 5)], lambda a, b: a @ b)
case("matmul transposeA", "matmul", [normal(4, 3), normal(4, 5)], lambda a, b: a.T @ b, {"transposeA": True})
case("matmul transposeB", "matmul", [normal(3, 4), normal(5, 4)], lambda a, b: a @ b.T, {"transposeB": True})
case("matmul both transposed", "matmul", [normal(4, 3), normal(5, 4)], lambda a, b: a.T @ b.T,
     {"transposeA": True, "transposeB": True})
case("matmul vector-like", "matmul", [normal(6, 1), normal(1, 3)], lambda a, b: a @ b)
case("batched matmul", "matmul", [normal(2, 3, 4), normal(2, 4, 5)], lambda a, b: a @ b)
case("batched matmul transposed", "matmul", [normal(2, 4, 3), normal(2, 5, 4)],
     lambda a, b: a.transpose(1, 2) @ b.transpose(1, 2), {"transposeA": True, "transposeB": True})
case("batched matmul shared B", "matmul", [normal(3, 2, 4), normal(4, 5)], lambda a, b: a @ b)
case("batched matmul shared transposed B", "matmul", [normal(3, 2, 4), normal(5, 4)], lambda a, b: a @ b.T,
     {"transposeB": True})

# Shape and selection
case("reshape", "reshape", [normal(2, 6)], lambda a: a.reshape(3, 4), {"shape": [3, 4]})
case("reshape inferred", "reshape", [normal(2, 3, 4)], lambda a: a.reshape(-1, 4), {"shape": [-1, 4]})
case("transpose", "transpose", [normal(3, 5)], lambda a: a.T)
case("rows", "rows", [normal(5, 3)], lambda a: a[1:4], {"start": 1, "end": 4})
case("gatheringRows", "gatheringRows", [normal(4, 3)], lambda a: a[[0, 2, 2, 3]], {"indices": [0, 2, 2, 3]})

# Softmax family
case("softmax last axis", "softmax", [normal(3, 5) * 2], lambda a: torch.softmax(a, -1))
case("softmax axis 0", "softmax", [normal(4, 3)], lambda a: torch.softmax(a, 0), {"axis": 0})
case("softmax large logits", "softmax", [torch.tensor([[1000.0, 0.0, -1000.0], [50.0, 51.0, 52.0]])],
     lambda a: torch.softmax(a, -1))
case("logSoftmax last axis", "logSoftmax", [normal(3, 5) * 2], lambda a: torch.log_softmax(a, -1))
case("logSoftmax axis 1 of 3-D", "logSoftmax", [normal(2, 3, 2)], lambda a: torch.log_softmax(a, 1), {"axis": 1})
case("logSoftmax large logits", "logSoftmax", [torch.tensor([[1000.0, 0.0, -1000.0], [-500.0, -501.0, -499.0]])],
     lambda a: torch.log_softmax(a, -1))

# Losses
labels = [2, 0, 4, 1]
for reduction in ["mean", "sum", "none"]:
    case(f"crossEntropy {reduction}", "crossEntropy", [normal(4, 5) * 2],
         lambda a, r=reduction: F.cross_entropy(a, torch.tensor(labels), reduction=r),
         {"labels": labels, "reduction": reduction})
case("crossEntropy extreme logits", "crossEntropy", [torch.tensor([[1000.0, 0.0, -1000.0], [1000.0, 0.0, -1000.0]])],
     lambda a: F.cross_entropy(a, torch.tensor([0, 2])), {"labels": [0, 2], "reduction": "mean"})
case("squaredLoss", "squaredLoss", [normal(4, 1), normal(4)], lambda p, y: (p - y.reshape(p.shape)) ** 2 / 2)
case("mseLoss mean", "mseLoss", [normal(4, 1), normal(4, 1)], lambda p, y: F.mse_loss(p, y), {"reduction": "mean"})
case("mseLoss sum", "mseLoss", [normal(3, 2), normal(3, 2)], lambda p, y: F.mse_loss(p, y, reduction="sum"),
     {"reduction": "sum"})

# Precision at large logits (issue #14): log-softmax must round at the size of its result, not of
# the logits (float32's spacing at 3000 is 2.4e-4). Appended last so that the random draws of the
# cases above stay as they were. LossTests.largeLogitsRoundAtTheResultsSize reads these two by name.
large = torch.tensor([[3000.0, 2999.0, 2995.0], [-3000.0, -3001.0, -3005.0]])
case("logSoftmax logits near ±3000", "logSoftmax", [large], lambda a: torch.log_softmax(a, -1))
case("crossEntropy logits near ±3000", "crossEntropy", [large], lambda a: F.cross_entropy(a, torch.tensor([1, 2])),
     {"labels": [1, 2], "reduction": "mean"})

with open(OUT, "w") as f:
    json.dump({"generator": "Tools/Reference/generate_op_fixtures.py", "torch": torch.__version__,
               "cases": cases}, f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")
