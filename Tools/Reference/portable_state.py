"""The portable states of the heavy networks' step-for-step fixtures (issue #14, part 2), used by
generate_heavy_gradient_fixtures.py and written again, bit for bit, in
Tests/ModelsTests/HeavyTrainingStepTests.swift (`portableUniform`, `portableInitialize`,
`portablePerturbBatchNorm`), and by generate_heavy_training_fixtures.py (its fixture was written
by a copy of these functions with the seed fixed, removed since: the same code); both fixtures use
seed 20261130. Also `read_idx`, the IDX reader every fixture generator shares.
"""
import gzip

import numpy as np
import torch


def portable_uniform(j, count, seed):
    """`count` values u in [0, 1) of parameter j: the top 24 bits of SplitMix64's finalizer of
    (j·2⁴⁰ + i)·0x9E3779B97F4A7C15 + seed, times 2⁻²⁴, exact in float32."""
    M = np.uint64
    with np.errstate(over="ignore"):
        z = ((M(j) << M(40)) + np.arange(count, dtype=np.uint64)) * M(0x9E3779B97F4A7C15) + M(seed)
        z = (z ^ (z >> M(30))) * M(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> M(27))) * M(0x94D049BB133111EB)
        z = z ^ (z >> M(31))
    return (z >> M(40)).astype(np.float32) * np.float32(2.0 ** -24)


def portable_initialize(net, seed):
    """Xavier-uniform weights of rank ≥ 2 (√(6/(fan_in + fan_out))), 1/√fan_in for the bias beside
    such a weight; batch-norm parameters keep 1 and 0."""
    parameters = dict(net.named_parameters())
    for j, (key, p) in enumerate(net.named_parameters()):
        prefix = key[:-len("weight")] if key.endswith("weight") else key[:-len("bias")]
        weight = parameters.get(prefix + "weight")
        if weight is None or weight.dim() < 2:
            continue  # batch norm: gamma 1, beta 0
        receptive = int(np.prod(weight.shape[2:])) if weight.dim() > 2 else 1
        fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
        if key.endswith("weight"):
            bound = np.float32(np.sqrt(6.0 / (fan_in + fan_out)))
        else:
            bound = np.float32(1.0 / np.sqrt(fan_in))
        u = portable_uniform(j, p.numel(), seed)
        values = (u * np.float32(2) - np.float32(1)) * bound
        with torch.no_grad():
            p.copy_(torch.from_numpy(values.astype(np.float32)).reshape(p.shape))


def portable_perturb_batch_norm(net, seed):
    """Moves every batch-norm γ to 1 + (2u − 1)/2 ∈ [0.5, 1.5) and β to (2u − 1)/2, in float32, so
    a gradient that forgets γ or β cannot pass (at γ = 1, β = 0 it would)."""
    parameters = dict(net.named_parameters())
    for j, (key, p) in enumerate(net.named_parameters()):
        prefix = key[:-len("weight")] if key.endswith("weight") else key[:-len("bias")]
        if parameters[prefix + "weight"].dim() != 1:
            continue
        u = portable_uniform(j, p.numel(), seed)
        values = (u * np.float32(2) - np.float32(1)) * np.float32(0.5)
        if key.endswith("weight"):
            values = values + np.float32(1)
        with torch.no_grad():
            p.copy_(torch.from_numpy(values.astype(np.float32)).reshape(p.shape))


def read_idx(path):
    """The array of a gzip-compressed IDX file (Fashion-MNIST's format), uint8, in its own shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
