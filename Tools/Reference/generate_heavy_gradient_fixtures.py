#!/usr/bin/env python3
"""Generates Tests/ModelsTests/Fixtures/heavy_gradients.json (issue #14, part 2): one training
step's gradients of NiN, GoogLeNet, ResNet-18 and DenseNet from a state both sides share, checked
per tensor, with an allowance measured from PyTorch's own float32 rounding.

Why not a free-running trajectory: in float32 these networks amplify rounding (a batch-norm
channel with a batch variance of ~1e-4 at initialisation, ReLU and max-pool kinks flipped by
rounding), so two correct float32 runs part after a few steps, and by how much depends on the
BLAS kernel. Step k "from the same state" on both sides needs the state, and the weights
(up to 6 M parameters) are too large to commit; so the shared states are ones both sides derive
bit for bit from `portable_state.py`, and the check is of one step's result from them — the
gradient of every parameter (the SGD update is −lr times it) and, after that training-mode
forward, the batch-norm running statistics:

* state "init": `portable_initialize` (Xavier-uniform weights, γ = 1, β = 0), batch 0;
* state "perturbed" (batch-norm networks only): the same weights with every γ and β moved by
  `portable_perturb_batch_norm`, batch 1 (training images 8…15).

Kinks within float32 reach. Where a ReLU input, or the gap between the two largest values of a
max-pool window, is smaller than float32 rounding can move it, rounding picks the side of the
kink, and the gradient upstream of it moves by up to ~1e-2 relative (measured: one max-pool
window of GoogLeNet at 1.1e-7 relative, one ReLU input of ResNet-18 at 3.6e-6; with either
flipped in PyTorch's float64 run, it equals our float32 gradients). PyTorch's float32 runs rarely
flip the same kinks, so their spread alone does not cover a flip, and a kink-free batch does not
exist (NiN has ~400 kinks within reach in every batch). So the spread also takes FLIP_VARIANTS
float64 runs in which each kink within reach is flipped with probability 1/2, by a nudge of the
forward no larger than twice its margin (a ReLU input x becomes −x; the runner-up of a max-pool
window is raised by twice the gap): rounding of the size PyTorch's float32 runs show, placed
where it matters. The reach of a value is KINK_REACH × the largest |float32 − float64| of it
over the float32 variants, plus 4 ulps; exact ties of max-pool windows (gap 0 in float64, equal
in every run: constant background regions) and ReLU inputs that are 0 in every run are not
within reach (no run moves them).

Batches of BATCH training images resized to the book's side (bilinear, align_corners=False, as the
book's loader and our `resizeBilinear`), dropout off, batch norm in training mode.

Per tensor the fixture records, from the float64 run, three digests of the gradient g (or
buffer): Σg, Σg² and a projection Σ rᵢgᵢ on portable rᵢ = 2u − 1 (`portable_uniform` of the
tensor's index with PROJECTION_SEED), and the float32 rounding spread of each digest: the largest
|digest(run) − digest(float64)| over VARIANTS float32 runs that differ only in summation order
(torch threads 1 and 2, oneDNN off and on, the batch in order and reversed) and the FLIP_VARIANTS
float64 runs with kinks flipped (below). The loss gets the same.

Pinned: torch 2.15.0, numpy (requirements.txt). Run from the repository root (about 10 minutes):
    python Tools/Reference/generate_heavy_gradient_fixtures.py
"""
import itertools
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
from portable_state import portable_initialize, portable_perturb_batch_norm, portable_uniform, read_idx  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")
DATA = os.environ.get("D2L_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
SEED = 20261130            # the free-running fixture's seed: the same initial weights
PERTURB_SEED = SEED + 1
PROJECTION_SEED = SEED + 2
BATCH = 8
KINK_REACH = 10            # the allowance's factor
FLIP_VARIANTS = 8
# (registry name, side): the book's input sizes
RUNS = [("nin", 224), ("googlenet", 96), ("resnet", 96), ("densenet", 96)]
# (torch threads, oneDNN, batch reversed)
VARIANTS = list(itertools.product([1, 2], [False, True], [False, True]))

images = torch.tensor(read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))[:2 * BATCH].copy(),
                      dtype=torch.float32).unsqueeze(1) / 255
labels = torch.tensor(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))[:2 * BATCH].astype(np.int64))

# Every ReLU input and max-pool input of a forward, in call order (the book's networks call
# F.relu, nn.ReLU and nn.MaxPool2d, which go through these two functions).
recording = None
nudges = None  # call index → a tensor added to that call's input (a flip run)
_relu, _max_pool2d = F.relu, F.max_pool2d


def nudged(input):
    if nudges is not None and len(recording) in nudges:
        return input + nudges[len(recording)]
    return input


def recording_relu(input, inplace=False):
    if recording is not None:
        input = nudged(input)
        recording.append(("relu", input.detach().double().clone(), None))
    return _relu(input, inplace=inplace)


def recording_max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                         return_indices=False):
    if recording is not None:
        input = nudged(input)
        single = lambda v: v if isinstance(v, int) else v[0]  # the book's pools are square
        geometry = (single(kernel_size), single(stride if stride else kernel_size), single(padding))
        recording.append(("maxpool", input.detach().double().clone(), geometry))
    return _max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode,
                       return_indices=return_indices)


F.relu, F.max_pool2d = recording_relu, recording_max_pool2d


def has_batch_norm(net):
    return any(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def one_step(name, side, state, batch, dtype, threads=2, onednn=False, reverse=False, flips=None):
    """The loss, every parameter's gradient and every buffer after one training-mode forward and
    backward from the shared state, in `dtype`."""
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = onednn
    net = NETWORKS[name]()
    portable_initialize(net, SEED)
    if state == "perturbed":
        portable_perturb_batch_norm(net, PERTURB_SEED)
    net = net.to(dtype)
    net.train()
    for m in net.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    order = list(range(BATCH * batch, BATCH * (batch + 1)))
    if reverse:
        order.reverse()
    x = F.interpolate(images[order], size=(side, side), mode="bilinear", align_corners=False).to(dtype)
    global recording, nudges
    recording, nudges = [], flips
    loss = F.cross_entropy(net(x), labels[order])
    activations, recording, nudges = recording, None, None
    if reverse:  # back to the batch's order
        activations = [(kind, a.flip(0), geometry) for kind, a, geometry in activations]
    loss.backward()
    values = {k: p.grad.detach().double() for k, p in net.named_parameters()}
    if state == "init":  # the running statistics after one forward; the same defaults in "perturbed"
        values.update({k: b.detach().double() for k, b in net.named_buffers() if b.dtype.is_floating_point})
    return loss.item(), values, activations


def kinks_within_reach(activations64, deviations):
    """Per ReLU / max-pool call, the nudge that flips each kink within reach (a tensor shaped as the
    call's input, nonzero only there), and the number of kinks."""
    kinks, count = [], 0
    for (kind, x, geometry), deviation in zip(activations64, deviations):
        reach = KINK_REACH * deviation + 4 * 2.0 ** -24 * x.abs()
        nudge = torch.zeros_like(x)
        if kind == "relu":
            within = (x.abs() < reach) & ((x != 0) | (deviation != 0))
            nudge[within] = -2 * x[within]
        else:
            k, stride, padding = geometry
            n, c, h, w = x.shape
            windows = F.unfold(F.pad(x, (padding,) * 4, value=-float("inf")), k, stride=stride).view(n, c, k * k, -1)
            reaches = F.unfold(F.pad(reach, (padding,) * 4), k, stride=stride).view(n, c, k * k, -1)
            top = windows.topk(2, dim=2)
            gap = top.values[:, :, 0] - top.values[:, :, 1]
            within = (gap > 0) & torch.isfinite(gap) & (gap < reaches.gather(2, top.indices).sum(dim=2))
            out_w = (w + 2 * padding - k) // stride + 1
            for i, ch, l in within.nonzero().tolist():
                # the runner-up's position in the (unpadded) input
                r = top.indices[i, ch, 1, l].item()
                row = (l // out_w) * stride + r // k - padding
                col = (l % out_w) * stride + r % k - padding
                nudge[i, ch, row, col] = max(nudge[i, ch, row, col].item(), 2 * gap[i, ch, l].item())
        count += int(within.sum())
        kinks.append(nudge)
    return kinks, count


def digests(t, projection):
    t = t.flatten()
    return np.array([t.sum().item(), (t * t).sum().item(), (t * projection).sum().item()])


records = []
flip_choice = torch.Generator().manual_seed(SEED)
for name, side in RUNS:
    states = ["init", "perturbed"] if has_batch_norm(NETWORKS[name]()) else ["init"]
    for batch, state in enumerate(states):
        loss64, reference, activations64 = one_step(name, side, state, batch, torch.float64)
        projections = {k: torch.from_numpy(portable_uniform(j, v.numel(), PROJECTION_SEED).astype(np.float64) * 2 - 1)
                       for j, (k, v) in enumerate(reference.items())}
        expected = {k: digests(v, projections[k]) for k, v in reference.items()}
        loss_spread, spread = 0.0, {k: np.zeros(3) for k in reference}
        rounding_spread = {}
        deviations = [torch.zeros_like(a) for _, a, _ in activations64]
        for threads, onednn, reverse in VARIANTS:
            loss32, values, activations32 = one_step(name, side, state, batch, torch.float32, threads, onednn, reverse)
            loss_spread = max(loss_spread, abs(loss32 - loss64))
            for k, v in values.items():
                spread[k] = np.maximum(spread[k], np.abs(digests(v, projections[k]) - expected[k]))
            for d, (_, a64, _), (_, a32, _) in zip(deviations, activations64, activations32):
                torch.maximum(d, (a32 - a64).abs(), out=d)
        rounding_spread = {k: v.copy() for k, v in spread.items()}
        kinks, count = kinks_within_reach(activations64, deviations)
        for _ in range(FLIP_VARIANTS if count else 0):
            flips = {i: nudge * (torch.rand(nudge.shape, generator=flip_choice, dtype=torch.float64) < 0.5)
                     for i, nudge in enumerate(kinks) if nudge.any()}
            loss_flipped, values, _ = one_step(name, side, state, batch, torch.float64, flips=flips)
            loss_spread = max(loss_spread, abs(loss_flipped - loss64))
            for k, v in values.items():
                spread[k] = np.maximum(spread[k], np.abs(digests(v, projections[k]) - expected[k]))
        tensors = [[k, reference[k].numel(), *(float(f"{d:.12g}") for d in expected[k]),
                    *(float(f"{s:.3g}") for s in spread[k])] for k in reference]
        widened = max(spread[k][i] / max(rounding_spread[k][i], 1e-300) for k in reference for i in range(3))
        print(f"{name:10s} {state:9s}: loss {loss64:.6f} (spread {loss_spread:.1e}), {len(tensors)} tensors, "
              f"{count} kinks within reach; the flips widen a digest's spread by up to {widened:.0f}x", flush=True)
        records.append({"name": name, "side": side, "state": state, "batch": batch, "loss": loss64,
                        "lossSpread": float(f"{loss_spread:.3g}"), "kinksWithinReach": count, "tensors": tensors})

with open(os.path.join(FIXTURES, "heavy_gradients.json"), "w") as f:
    json.dump({"generator": "Tools/Reference/generate_heavy_gradient_fixtures.py", "torch": torch.__version__,
               "seed": SEED, "perturbSeed": PERTURB_SEED, "projectionSeed": PROJECTION_SEED, "batchSize": BATCH,
               "variants": len(VARIANTS), "flipVariants": FLIP_VARIANTS, "kinkReach": KINK_REACH, "checks": records}, f, indent=None, separators=(",", ":"))
    f.write("\n")
