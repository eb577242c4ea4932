#!/usr/bin/env python3
"""Generates Tests/ModelsTests/Fixtures/heavy_training_steps.json (issue #14, part 2, the heavy
networks): AlexNet, VGG-11/4, NiN, GoogLeNet, ResNet-18 and DenseNet trained by PyTorch at the
book's input size and learning rate on batches of BATCH Fashion-MNIST training images.

Their weights are too large to commit (up to 47 M parameters), so both sides derive the same
initial weights from a portable counter-based generator (`portable_state.portable_uniform`, written again in
Tests/ModelsTests/HeavyTrainingStepTests.swift): parameter j, element i gets
u = top 24 bits of SplitMix64's finalizer of (j·2⁴⁰ + i)·0x9E3779B97F4A7C15 + SEED, times 2⁻²⁴,
and the value (2u − 1)·bound in float32, bit for bit the same on both sides: bound is
√(6/(fan_in + fan_out)) for every weight of rank ≥ 2 (the book's Xavier-uniform, `train_ch6`) and
1/√fan_in for the bias beside it (PyTorch's default bound); batch-norm parameters keep 1 and 0.
The fixture holds only losses and per-tensor digests (sum and sum of squares in float64) of the
state after the last step, with PyTorch's own float32 drift (the same run in float64).

* Batch k is training images BATCH·k … BATCH·(k + 1) − 1, resized as the book's loader does, with
  `F.interpolate(bilinear, align_corners=False)`, the operation our `resizeBilinear` reproduces.
* Dropout is switched off (evaluation mode for the dropout layers only; the 28×28 MLP's test shares
  masks); batch norm trains on batch statistics, its running statistics are in the digests.
* AlexNet, VGG, NiN and GoogLeNet run free for STEPS steps: PyTorch's own float32 run stays within
  ~1e-3 of its float64 run there. ResNet-18 and DenseNet do not (float32 leaves float64 by 1e-2
  and 4e-4 at step 2, O(1) later, measured at batch 8): for them only the first step, from the
  identical portable state, is recorded.

Pinned: torch 2.15.0, numpy (requirements.txt). Run from the repository root:
    python Tools/Reference/generate_heavy_training_fixtures.py
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

EXPECTED_TORCH = "2.15.0"
if not torch.__version__.startswith(EXPECTED_TORCH):
    sys.exit(f"expected torch {EXPECTED_TORCH}, found {torch.__version__}")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from d2l_book_networks import NETWORKS  # noqa: E402
from portable_state import portable_initialize, read_idx  # noqa: E402

torch.set_num_threads(2)
torch.backends.mkldnn.enabled = False
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")
DATA = os.environ.get("D2L_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
SEED = 20261130
BATCH = 8
STEPS = 20
# (registry name, side, the book's learning rate, steps)
RUNS = [("alexnet", 224, 0.01, STEPS), ("vgg", 224, 0.05, STEPS), ("nin", 224, 0.1, STEPS),
        ("googlenet", 96, 0.1, STEPS), ("resnet", 96, 0.05, 1), ("densenet", 96, 0.1, 1)]


images = torch.tensor(read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))[:BATCH * STEPS].copy(),
                      dtype=torch.float32).unsqueeze(1) / 255
labels = torch.tensor(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))[:BATCH * STEPS].astype(np.int64))


def train(name, side, lr, steps, dtype):
    net = NETWORKS[name]()
    portable_initialize(net, SEED)
    net = net.to(dtype)
    net.train()
    for m in net.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for k in range(steps):
        x = F.interpolate(images[BATCH * k:BATCH * (k + 1)], size=(side, side), mode="bilinear",
                          align_corners=False).to(dtype)
        optimizer.zero_grad()
        l = F.cross_entropy(net(x), labels[BATCH * k:BATCH * (k + 1)])
        l.backward()
        optimizer.step()
        losses.append(l.item())
    return losses, {k: v.detach() for k, v in net.state_dict().items()}


records = []
for name, side, lr, steps in RUNS:
    losses, state = train(name, side, lr, steps, torch.float32)
    losses64, state64 = train(name, side, lr, steps, torch.float64)
    tensors = []
    for key, value in state.items():
        entry = {"key": key, "count": value.numel()}
        if value.dtype.is_floating_point:
            v = value.double()
            entry.update(sum=v.sum().item(), sumOfSquares=(v * v).sum().item(),
                         drift=(v - state64[key]).abs().max().item())
        else:
            entry.update(sum=float(value.sum().item()), sumOfSquares=float((value * value).sum().item()), drift=0.0)
        tensors.append(entry)
    print(f"{name:10s} {steps:2d} steps: loss {losses[0]:.4f} → {losses[-1]:.4f}; float32 vs float64: loss ≤ "
          f"{max(abs(a - b) for a, b in zip(losses, losses64)):.1e}, state ≤ {max(t['drift'] for t in tensors):.1e}", flush=True)
    records.append({"name": name, "side": side, "learningRate": lr, "steps": steps, "losses": losses,
                    "float64Losses": losses64, "tensors": tensors})

with open(os.path.join(FIXTURES, "heavy_training_steps.json"), "w") as f:
    json.dump({"generator": "Tools/Reference/generate_heavy_training_fixtures.py", "torch": torch.__version__,
               "seed": SEED, "batchSize": BATCH, "networks": records}, f, indent=None, separators=(",", ":"))
    f.write("\n")
