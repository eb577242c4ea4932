#!/usr/bin/env python3
"""Generates Tests/EngineTests/Fixtures/cnn.json: PyTorch reference values for Engine's CNN ops
(conv2d, max/avg/global pooling, batch norm, concatenation, bilinear resize): forward outputs and
the gradients of every differentiable input.

Pinned: torch 2.15.0 (see requirements.txt). Run from the repository root:
    python Tools/Reference/generate_cnn_fixtures.py

Gradients are those of L = sum(output * upstream) for a random `upstream` of the output's shape.
Tensors are stored compactly as {"shape": [...], "data": base64 of little-endian float32}, so the
file stays small; the Swift side (Tests/EngineTests/CNN/CNNFixtures.swift) decodes them.
"""
import base64
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

EXPECTED_TORCH = "2.15.0"
if not torch.__version__.startswith(EXPECTED_TORCH):
    sys.exit(f"expected torch {EXPECTED_TORCH}, found {torch.__version__}")

torch.manual_seed(20261128)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EngineTests", "Fixtures", "cnn.json")


def normal(*shape):
    return torch.randn(shape, dtype=torch.float32)


def encode(t):
    array = t.detach().to(torch.float32).contiguous().numpy().astype("<f4")
    return {"shape": list(t.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}


def with_grad(x):
    return x.clone().requires_grad_(True)


# MARK: Convolution
# (name, N, C, H, W, O, (kh, kw), (sh, sw), (ph, pw), bias)
CONV_TABLE = [
    ("k1 pointwise", 2, 3, 5, 6, 4, (1, 1), (1, 1), (0, 0), True),
    ("k1 stride 2", 2, 3, 7, 7, 2, (1, 1), (2, 2), (0, 0), False),
    ("k1 padding 1", 1, 2, 4, 4, 3, (1, 1), (1, 1), (1, 1), True),
    ("k3 same", 2, 3, 8, 8, 4, (3, 3), (1, 1), (1, 1), True),
    ("k3 stride 2 batch 7", 7, 3, 9, 9, 5, (3, 3), (2, 2), (1, 1), True),
    ("k3 16 channels", 1, 16, 6, 6, 16, (3, 3), (1, 1), (0, 0), True),
    ("k3 16 channels padded batch 2", 2, 16, 5, 5, 8, (3, 3), (1, 1), (1, 1), False),
    ("k5 LeNet-like", 2, 1, 10, 10, 6, (5, 5), (1, 1), (2, 2), True),
    ("k5 16 channels batch 7", 7, 16, 5, 5, 4, (5, 5), (1, 1), (1, 1), True),
    ("k7 stride 2 padding 3", 2, 3, 11, 11, 4, (7, 7), (2, 2), (3, 3), True),
    ("k7 odd input", 1, 3, 9, 7, 2, (7, 7), (1, 1), (3, 3), True),
    ("k11 stride 4 padding 2", 1, 3, 23, 23, 2, (11, 11), (4, 4), (2, 2), True),
    ("k11 stride 4 no padding", 1, 1, 15, 15, 2, (11, 11), (4, 4), (0, 0), False),
    ("non-square kernel 3x5", 2, 2, 7, 9, 3, (3, 5), (2, 1), (1, 2), True),
    ("non-square input 5x11 kernel 1x3", 1, 3, 5, 11, 2, (1, 3), (1, 2), (0, 1), True),
    ("kernel equals padded input", 2, 2, 3, 3, 3, (5, 5), (1, 1), (1, 1), True),
    ("stride 4 padding 3", 1, 2, 10, 10, 2, (3, 3), (4, 4), (3, 3), True),
    ("stride larger than kernel", 1, 2, 8, 8, 2, (2, 2), (3, 3), (0, 0), False),
    ("k3 stride 2 padding 2 odd", 1, 3, 7, 5, 2, (3, 3), (2, 2), (2, 2), False),
    ("k2 padding 1 batch 7 one channel", 7, 1, 5, 4, 3, (2, 2), (1, 1), (1, 1), True),
]

conv_cases = []
for name, n, c, h, w, o, kernel, stride, padding, has_bias in CONV_TABLE:
    x = normal(n, c, h, w)
    weight = normal(o, c, *kernel) / (c * kernel[0] * kernel[1]) ** 0.5
    bias = normal(o) if has_bias else None
    xs, ws = with_grad(x), with_grad(weight)
    bs = with_grad(bias) if has_bias else None
    out = F.conv2d(xs, ws, bs, stride=stride, padding=padding)
    upstream = normal(*out.shape)
    (out * upstream).sum().backward()
    case = {"name": name, "stride": list(stride), "padding": list(padding),
            "input": encode(x), "weight": encode(weight), "upstream": encode(upstream),
            "output": encode(out), "inputGradient": encode(xs.grad), "weightGradient": encode(ws.grad)}
    if has_bias:
        case["bias"] = encode(bias)
        case["biasGradient"] = encode(bs.grad)
    conv_cases.append(case)

# MARK: Pooling
pool_cases = []


def pool_case(name, kind, x, kernel=None, stride=None, padding=(0, 0)):
    xs = with_grad(x)
    if kind == "max":
        out = F.max_pool2d(xs, kernel, stride, padding)
    elif kind == "avg":
        out = F.avg_pool2d(xs, kernel, stride, padding, count_include_pad=True)
    else:
        out = F.adaptive_avg_pool2d(xs, 1)
    upstream = normal(*out.shape)
    (out * upstream).sum().backward()
    case = {"name": name, "kind": kind, "input": encode(x), "upstream": encode(upstream),
            "output": encode(out), "inputGradient": encode(xs.grad)}
    if kind != "global":
        case.update({"kernel": list(kernel), "stride": list(stride), "padding": list(padding)})
    pool_cases.append(case)


for kind in ["max", "avg"]:
    for k in [2, 3]:
        for s in [1, 2]:
            for p in [0, 1]:
                pool_case(f"{kind} k{k} s{s} p{p}", kind, normal(1, 2, 5, 6), (k, k), (s, s), (p, p))
    pool_case(f"{kind} batch 2 non-square 2x3", kind, normal(2, 3, 7, 8), (2, 3), (2, 1), (1, 1))
    pool_case(f"{kind} all negative with padding", kind, -1 - normal(1, 1, 4, 4).abs(), (3, 3), (2, 2), (1, 1))
pool_case("max ties take the first maximum", "max", torch.randint(0, 3, (2, 2, 6, 6)).float(), (3, 3), (1, 1), (1, 1))
pool_case("max ties stride 2", "max", torch.randint(0, 2, (1, 3, 6, 7)).float(), (2, 2), (2, 2), (0, 0))
pool_case("global average", "global", normal(3, 4, 5, 6))
pool_case("global average 1x1", "global", normal(2, 3, 1, 1))

# MARK: Batch norm
batch_norm_cases = []


def batch_norm_case(name, shape, training, steps, momentum=0.1, eps=1e-5):
    channels = shape[1]
    scale, shift = 1 + 0.5 * normal(channels), normal(channels)
    running_mean = 0.5 * normal(channels)
    running_var = 0.5 + torch.rand(channels)
    initial_mean, initial_var = running_mean.clone(), running_var.clone()
    inputs = [2 * normal(*shape) + 1 for _ in range(steps)]
    for x in inputs[:-1]:
        F.batch_norm(x, running_mean, running_var, scale, shift, training, momentum, eps)
    xs, gs, bs = with_grad(inputs[-1]), with_grad(scale), with_grad(shift)
    out = F.batch_norm(xs, running_mean, running_var, gs, bs, training, momentum, eps)
    upstream = normal(*out.shape)
    (out * upstream).sum().backward()
    batch_norm_cases.append({
        "name": name, "training": training, "momentum": momentum, "epsilon": eps,
        "inputs": [encode(x) for x in inputs], "scale": encode(scale), "shift": encode(shift),
        "initialRunningMean": encode(initial_mean), "initialRunningVariance": encode(initial_var),
        "runningMean": encode(running_mean), "runningVariance": encode(running_var),
        "upstream": encode(upstream), "output": encode(out), "inputGradient": encode(xs.grad),
        "scaleGradient": encode(gs.grad), "shiftGradient": encode(bs.grad)})


batch_norm_case("[N, C] training, 3 steps", (6, 4), True, 3)
batch_norm_case("[N, C, H, W] training, 3 steps", (3, 2, 4, 5), True, 3)
batch_norm_case("[N, C, H, W] training, momentum 0.3, eps 1e-3", (2, 3, 3, 3), True, 2, momentum=0.3, eps=1e-3)
batch_norm_case("[N, C] training, batch 2", (2, 3), True, 1)
batch_norm_case("[N, C] eval", (5, 4), False, 1)
batch_norm_case("[N, C, H, W] eval", (2, 3, 4, 4), False, 2)

# MARK: Concatenation
concat_cases = []


def concat_case(name, shapes, axis):
    xs = [normal(*shape) for shape in shapes]
    leaves = [with_grad(x) for x in xs]
    out = torch.cat(leaves, axis)
    upstream = normal(*out.shape)
    (out * upstream).sum().backward()
    concat_cases.append({"name": name, "axis": axis, "inputs": [encode(x) for x in xs],
                         "upstream": encode(upstream), "output": encode(out),
                         "inputGradients": [encode(x.grad) for x in leaves]})


concat_case("channels of three", [(2, 3, 4, 4), (2, 1, 4, 4), (2, 2, 4, 4)], 1)
concat_case("batch axis", [(1, 2, 3, 3), (2, 2, 3, 3)], 0)
concat_case("last axis negative", [(2, 3, 2), (2, 3, 4)], -1)
concat_case("matrices axis 1", [(3, 2), (3, 5)], 1)
concat_case("single tensor", [(2, 3)], 0)

# MARK: Resize (not differentiable)
resize_cases = []


def resize_case(name, shape, size):
    x = normal(*shape)
    out = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)
    resize_cases.append({"name": name, "height": size[0], "width": size[1], "input": encode(x), "output": encode(out)})


resize_case("7 to 19", (2, 1, 7, 7), (19, 19))
resize_case("5 to 12", (1, 3, 5, 5), (12, 12))
resize_case("non-square 5x6 to 12x13", (1, 2, 5, 6), (12, 13))
resize_case("downscale 9x8 to 4x5", (1, 2, 9, 8), (4, 5))
resize_case("identity size", (1, 1, 4, 5), (4, 5))
resize_case("one pixel to 3x4", (1, 2, 1, 1), (3, 4))

with open(OUT, "w") as f:
    json.dump({"generator": "Tools/Reference/generate_cnn_fixtures.py", "torch": torch.__version__,
               "convolution": conv_cases, "pooling": pool_cases, "batchNorm": batch_norm_cases,
               "concatenation": concat_cases, "resize": resize_cases},
              f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(conv_cases)} convolution, {len(pool_cases)} pooling, {len(batch_norm_cases)} batch norm, "
      f"{len(concat_cases)} concatenation, {len(resize_cases)} resize cases to {os.path.normpath(OUT)} "
      f"({os.path.getsize(OUT) // 1024} KB)")
