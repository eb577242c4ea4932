#!/usr/bin/env python3
"""Generates the step-for-step training fixtures of Tests/ModelsTests (issue #14, part 2): the
book's 28×28 networks trained by PyTorch for STEPS steps of the book's SGD, at the book's learning
rate, on real Fashion-MNIST batches, so that Tests/ModelsTests/TrainingStepTests.swift can train
our networks the same way and compare every step.

For each network (softmax regression §3.7, MLP §4.3, MLP with dropout §4.6, LeNet §6.6, BN-LeNet
§7.5, concise and from scratch):
* the book's network (d2l_book_networks.py) with the book's initialization (`init_weights`:
  N(0, 0.01²) for the linear models' `nn.Linear` weights, `train_ch6`'s Xavier-uniform for the
  CNNs), drawn from torch.manual_seed(SEED + index); its state dict is saved as
  Fixtures/Steps/<name>-initial.safetensors;
* batch k (k = 0 … STEPS − 1) is the training images BATCH·k … BATCH·(k + 1) − 1 of
  Fashion-MNIST, in order (/usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist, the
  original Zalando files): the fixture holds no images, the test reads the same ones from disk;
* each step is the book's: `net.train()`, `optimizer.zero_grad()`,
  `l = nn.CrossEntropyLoss()(net(X), y)`, `l.backward()`, `torch.optim.SGD(lr).step()`; the loss
  of every step is recorded, and the state dict after the last step (weights and batch-norm
  running statistics) is saved as Fixtures/Steps/<name>-final.safetensors;
* dropout (MLP with dropout): PyTorch's masks come from torch's generator, ours from our own
  xoshiro256** generator, so neither side can draw the other's. The masks are shared instead: the
  reference replaces each `nn.Dropout` with the same inverted dropout driven by a port of
  Sources/Engine/Tensor/RandomGenerator.swift (`XoshiroGenerator` below), seeded with the seeds the
  fixture records, so the test can run our own `Dropout` layers, reseeded, and draw the very same
  masks. Switching dropout off would leave our dropout layer and its mask order untested;
* the same run in float64 (same initial weights, batches and masks): its distance from the
  float32 run, per step and per tensor, is PyTorch's own float32 drift, from which the test's
  tolerances are argued.

Pinned: torch 2.15.0, safetensors 0.8.0, numpy (see requirements.txt). Run from the repository root:
    python Tools/Reference/generate_training_fixtures.py
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn

EXPECTED_TORCH = "2.15.0"
if not torch.__version__.startswith(EXPECTED_TORCH):
    sys.exit(f"expected torch {EXPECTED_TORCH}, found {torch.__version__}")
import safetensors
from safetensors.torch import save_file

EXPECTED_SAFETENSORS = "0.8.0"
if safetensors.__version__ != EXPECTED_SAFETENSORS:
    sys.exit(f"expected safetensors {EXPECTED_SAFETENSORS}, found {safetensors.__version__}")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from portable_state import read_idx  # noqa: E402
from d2l_book_networks import (BatchNorm, batch_norm_lenet, batch_norm_lenet_scratch, init_xavier, lenet, mlp,  # noqa: E402
                               mlp_dropout, softmax_regression)

torch.set_num_threads(1)
torch.backends.mkldnn.enabled = False  # PyTorch's plain CPU kernels; oneDNN's blocked layouts add their own rounding
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")
STEPS_DIR = os.path.join(FIXTURES, "Steps")
DATA = os.environ.get("D2L_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
SEED = 20261130
BATCH = 16
STEPS = 25
DROPOUT_SEEDS = [1401, 1402]  # the seeds of the MLP's two dropout layers, in layer order


# MARK: Our generator, ported (Sources/Engine/Tensor/RandomGenerator.swift)

MASK64 = (1 << 64) - 1


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class XoshiroGenerator:
    """xoshiro256** seeded by SplitMix64, bit for bit as RandomGenerator(seed:) and nextFloat()."""

    def __init__(self, seed):
        words, s = [], seed & MASK64
        for _ in range(4):
            s = (s + 0x9E3779B97F4A7C15) & MASK64
            z = s
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            words.append(z ^ (z >> 31))
        self.s = words

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & MASK64, 7) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def next_floats(self, count):
        """`count` draws of nextFloat(): the top 24 bits times 2⁻²⁴, exact in float32."""
        return np.array([self.next() >> 40 for _ in range(count)], dtype=np.float32) * np.float32(2.0 ** -24)


class SharedMaskDropout(nn.Module):
    """Inverted dropout with the masks of Sources/Engine/Ops/Dropout.swift: one nextFloat() per
    element in row-major order, kept where u ≥ p (in float32), kept values times 1/(1 − p)."""

    def __init__(self, p, seed):
        super().__init__()
        self.p = p
        self.generator = XoshiroGenerator(seed)

    def forward(self, x):
        if not self.training:
            return x
        p = np.float32(self.p)
        u = self.generator.next_floats(x.numel())
        scale = np.float32(1) / (np.float32(1) - p)
        mask = np.where(u >= p, scale, np.float32(0)).astype(np.float32).reshape(tuple(x.shape))
        return x * torch.from_numpy(mask).to(x.dtype)


# MARK: Data

count = BATCH * STEPS
train_images = torch.tensor(read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))[:count].copy(),
                            dtype=torch.float32).unsqueeze(1) / 255  # torchvision's ToTensor()
train_labels = torch.tensor(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))[:count].astype(np.int64))


# MARK: The networks

def init_normal(m):  # the linear models' init_weights (§3.7, §4.3, §4.6)
    if type(m) == nn.Linear:
        nn.init.normal_(m.weight, std=0.01)


# (registry name, constructor, the book's init, the book's learning rate)
NETWORKS = [
    ("softmax-regression", softmax_regression, init_normal, 0.1),
    ("mlp", mlp, init_normal, 0.1),
    ("mlp-dropout", mlp_dropout, init_normal, 0.5),
    ("lenet", lenet, init_xavier, 0.9),
    ("batch-norm-lenet", batch_norm_lenet, init_xavier, 1.0),
    ("batch-norm-lenet-scratch", batch_norm_lenet_scratch, init_xavier, 1.0),
]


def full_state(net):
    """The state dict, plus the moving statistics of the book's scratch BatchNorm (plain
    attributes there, outside state_dict(); our module saves them after `beta`, under
    `<index>.moving_mean` and `<index>.moving_var`)."""
    state = {key: value.detach().clone().contiguous() for key, value in net.state_dict().items()}
    for i, layer in enumerate(net):
        if isinstance(layer, BatchNorm):
            state[f"{i}.moving_mean"] = layer.moving_mean.detach().clone().contiguous()
            state[f"{i}.moving_var"] = layer.moving_var.detach().clone().contiguous()
    return state


def load_full_state(net, state):
    net.load_state_dict({k: v for k, v in state.items() if not k.endswith((".moving_mean", ".moving_var"))})
    for i, layer in enumerate(net):
        if isinstance(layer, BatchNorm):
            layer.moving_mean = state[f"{i}.moving_mean"].clone()
            layer.moving_var = state[f"{i}.moving_var"].clone()


def with_shared_masks(net):
    """Replaces each nn.Dropout of a Sequential by SharedMaskDropout with the next seed."""
    seeds = iter(DROPOUT_SEEDS)
    used = []
    for i, layer in enumerate(net):
        if isinstance(layer, nn.Dropout):
            seed = next(seeds)
            net[i] = SharedMaskDropout(layer.p, seed)
            used.append({"layer": i, "probability": layer.p, "seed": seed})
    return used


def train(make, initial_state, learning_rate, dtype):
    """STEPS steps of the book's SGD from `initial_state`; the losses and the final state dict."""
    net = make()
    load_full_state(net, initial_state)
    dropout = with_shared_masks(net)
    net = net.to(dtype)
    for layer in net:
        if isinstance(layer, BatchNorm):  # plain attributes: .to() leaves them alone
            layer.moving_mean, layer.moving_var = layer.moving_mean.to(dtype), layer.moving_var.to(dtype)
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=learning_rate)
    loss = nn.CrossEntropyLoss()
    losses = []
    for k in range(STEPS):
        X = train_images[BATCH * k:BATCH * (k + 1)].to(dtype)
        y = train_labels[BATCH * k:BATCH * (k + 1)]
        optimizer.zero_grad()
        l = loss(net(X), y)
        l.backward()
        optimizer.step()
        losses.append(l.item())
    return losses, full_state(net), dropout


os.makedirs(STEPS_DIR, exist_ok=True)
records = []
for index, (name, make, init, learning_rate) in enumerate(NETWORKS):
    torch.manual_seed(SEED + index)
    net = make()
    net.apply(init)
    initial = full_state(net)
    losses, final, dropout = train(make, initial, learning_rate, torch.float32)
    losses64, final64, _ = train(make, initial, learning_rate, torch.float64)

    # PyTorch's own float32 drift: |float32 − float64| per step, and per tensor after the last step.
    loss_drift = [abs(a - b) for a, b in zip(losses, losses64)]
    state_drift = {}
    for key, value in final.items():
        if value.dtype.is_floating_point:
            state_drift[key] = (value.double() - final64[key]).abs().max().item()

    save_file(initial, os.path.join(STEPS_DIR, f"{name}-initial.safetensors"))
    save_file({k: v.to(torch.float32) if v.dtype.is_floating_point else v for k, v in final.items()}, os.path.join(STEPS_DIR, f"{name}-final.safetensors"))
    worst_key = max(state_drift, key=state_drift.get)
    print(f"{name:20s} lr {learning_rate}: loss {losses[0]:.4f} → {losses[-1]:.4f}; float32 vs float64: "
          f"loss ≤ {max(loss_drift):.2e}, state ≤ {state_drift[worst_key]:.2e} ({worst_key})")
    records.append({"name": name, "learningRate": learning_rate, "dropout": dropout,
                    "initialState": f"Steps/{name}-initial.safetensors", "finalState": f"Steps/{name}-final.safetensors",
                    "losses": losses, "float64Losses": losses64, "stateDrift": state_drift})

with open(os.path.join(FIXTURES, "training_steps.json"), "w") as f:
    json.dump({"generator": "Tools/Reference/generate_training_fixtures.py", "torch": torch.__version__,
               "batchSize": BATCH, "steps": STEPS, "firstImage": 0, "networks": records}, f, indent=1)
    f.write("\n")
total = sum(os.path.getsize(os.path.join(STEPS_DIR, n)) for n in os.listdir(STEPS_DIR))
print(f"wrote {os.path.normpath(FIXTURES)}/training_steps.json and Steps/ ({total // 1024} KB)")
