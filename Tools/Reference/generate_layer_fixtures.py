#!/usr/bin/env python3
"""Generates the PyTorch reference fixtures of Engine's layers, optimizers and safetensors I/O.

Pinned: torch 2.15.0, safetensors 0.8.0 (see requirements.txt). Run from the repository root:
    python Tools/Reference/generate_layer_fixtures.py

Writes, under Tests/EngineTests/Fixtures/:
  safetensors/torch_tensors.safetensors  F32 and I64 tensors (incl. a scalar and an empty one)
                                         and metadata, written by safetensors.torch.save_file
  safetensors/mlp_initial.safetensors    the initial state dict of the two-layer network below
  safetensors/batchnorm_mlp.safetensors  a trained Linear-BatchNorm1d-ReLU-Linear state dict
                                         (running statistics, num_batches_tracked as int64)
  safetensors/batchnorm_convnet.safetensors  Conv2d-BatchNorm2d-Sigmoid-MaxPool2d-Flatten-Linear-
                                         BatchNorm1d, after two training batches
  layers.json                            expected values for all of the above: the tensors of
                                         torch_tensors, the optimizer trajectories (losses per
                                         step, final weights, final optimizer state), the eval
                                         output of the batch-norm network, and the parameter
                                         keys, shapes and counts of small nn.Sequential networks,
                                         and the conv network's eval and train outputs, gradients
                                         and running statistics after one training batch

Read by Tests/EngineTests/Layers/LayerReferenceTests.swift and
Tests/EngineTests/Serialization/SafeTensorsInteropTests.swift.
"""
import json
import os
import sys

import safetensors
import torch
from safetensors.torch import save_file
from torch import nn

EXPECTED_TORCH = "2.15.0"
EXPECTED_SAFETENSORS = "0.8.0"
if not torch.__version__.startswith(EXPECTED_TORCH):
    sys.exit(f"expected torch {EXPECTED_TORCH}, found {torch.__version__}")
if safetensors.__version__ != EXPECTED_SAFETENSORS:
    sys.exit(f"expected safetensors {EXPECTED_SAFETENSORS}, found {safetensors.__version__}")

torch.manual_seed(20261128)
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EngineTests", "Fixtures")
SAFETENSORS_DIR = os.path.join(FIXTURES, "safetensors")
os.makedirs(SAFETENSORS_DIR, exist_ok=True)


def encode(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


# --- (a) safetensors files written by PyTorch ------------------------------------------------

torch_tensors = {
    "matrix": torch.randn(2, 3),
    "vector": torch.arange(5, dtype=torch.float32) - 2.5,
    "scalar": torch.tensor(3.5),
    "counts": torch.tensor([1, 2, -3, 16777216], dtype=torch.int64),
    "empty": torch.zeros(0, 4),
}
save_file(torch_tensors, os.path.join(SAFETENSORS_DIR, "torch_tensors.safetensors"),
          metadata={"format": "pt", "source": "generate_layer_fixtures.py"})


# --- (b) optimizer trajectories of a two-layer network ---------------------------------------

def two_layer_network():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


initial = two_layer_network()
initial_state = {k: v.detach().clone() for k, v in initial.state_dict().items()}
save_file(initial_state, os.path.join(SAFETENSORS_DIR, "mlp_initial.safetensors"))
inputs = torch.randn(6, 4)
labels = torch.tensor([0, 2, 1, 2, 0, 1])


def groups(net, lr, weight_decay):
    """Weight decay on weights only, as in d2l's concise weight decay."""
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in net.named_parameters() if not name.endswith("weight")]
    return [{"params": weights, "weight_decay": weight_decay, "lr": lr},
            {"params": biases, "weight_decay": 0.0, "lr": lr}]


def run(name, make_optimizer, steps, learning_rate_changes):
    net = two_layer_network()
    net.load_state_dict(initial_state)
    optimizer = make_optimizer(net)
    keys = {id(p): k for k, p in net.named_parameters()}
    losses = []
    for step in range(steps):
        if step in learning_rate_changes:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_changes[step]
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(net(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    state = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            for state_name, value in optimizer.state[p].items():
                state[f"{keys[id(p)]}.{state_name}"] = encode(torch.as_tensor(value, dtype=torch.float32))
    return {
        "name": name,
        "steps": steps,
        "learningRateChanges": {str(k): v for k, v in learning_rate_changes.items()},
        "losses": losses,
        "finalParameters": {k: encode(v) for k, v in net.state_dict().items()},
        "finalOptimizerState": state,
    }


trajectories = [
    run("sgd", lambda net: torch.optim.SGD(net.parameters(), lr=0.5), 4, {}),
    run("sgd_momentum_weight_decay_groups",
        lambda net: torch.optim.SGD(groups(net, 0.1, 0.01), lr=0.1, momentum=0.9), 5, {3: 0.05}),
    run("sgd_nesterov_weight_decay_groups",
        lambda net: torch.optim.SGD(groups(net, 0.1, 0.01), lr=0.1, momentum=0.9, nesterov=True), 5, {3: 0.05}),
    run("adam", lambda net: torch.optim.Adam(net.parameters(), lr=0.01), 5, {}),
    run("adam_weight_decay_groups", lambda net: torch.optim.Adam(groups(net, 0.02, 0.1), lr=0.02), 5, {2: 0.01}),
]


# --- a batch-norm network's state (with int64 num_batches_tracked) and its eval output -------

bn_net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
bn_net.train()
with torch.no_grad():
    for _ in range(3):
        bn_net(torch.randn(5, 4) * 2 + 1)
bn_net.eval()
bn_input = torch.randn(4, 4)
with torch.no_grad():
    bn_output = bn_net(bn_input)
save_file({k: v.contiguous() for k, v in bn_net.state_dict().items()},
          os.path.join(SAFETENSORS_DIR, "batchnorm_mlp.safetensors"))


# --- (c) parameter keys and counts of small networks ------------------------------------------

class Inception(nn.Module):
    """d2l's Inception block (section 8.4) with explicit input channels."""

    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.b1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.b2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.b2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.b3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.b3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.b4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)


shared = nn.Linear(4, 4)
networks = {
    "mlp": nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)),
    "lenet": nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10)),
    "batchnorm": nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(6 * 12 * 12, 10), nn.BatchNorm1d(10)),
    "nested": nn.Sequential(
        nn.Sequential(nn.Linear(4, 5), nn.ReLU()), nn.Dropout(0.5), nn.Sequential(nn.Linear(5, 3)),
        nn.Linear(3, 2, bias=False), nn.Tanh(), nn.Softmax(dim=1)),
    "shared": nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2)),
    "inception": nn.Sequential(Inception(8, 4, (4, 6), (2, 3), 3), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()),
}
network_cases = []
for name, net in networks.items():
    network_cases.append({
        "name": name,
        "parameters": [{"key": k, "shape": list(p.shape)} for k, p in net.named_parameters()],
        "buffers": [{"key": k, "shape": list(b.shape), "dtype": str(b.dtype).replace("torch.", "")}
                    for k, b in net.named_buffers()],
        "parameterCount": sum(p.numel() for p in net.parameters()),
    })


# --- a convolutional batch-norm network end to end: eval output, train output, gradients, and
#     the running statistics after the training forward pass -----------------------------------

conv_net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),
    nn.Flatten(), nn.Linear(6 * 4 * 4, 10), nn.BatchNorm1d(10))
conv_net.train()
with torch.no_grad():
    for _ in range(2):
        conv_net(torch.randn(3, 1, 12, 12))
save_file({k: v.contiguous() for k, v in conv_net.state_dict().items()},
          os.path.join(SAFETENSORS_DIR, "batchnorm_convnet.safetensors"))
conv_input = torch.randn(4, 1, 12, 12)
conv_labels = torch.tensor([3, 1, 4, 1])
conv_net.eval()
with torch.no_grad():
    conv_eval_output = conv_net(conv_input)
conv_net.train()
conv_train_output = conv_net(conv_input)
nn.functional.cross_entropy(conv_train_output, conv_labels).backward()
conv_case = {
    "input": encode(conv_input),
    "labels": conv_labels.tolist(),
    "evalOutput": encode(conv_eval_output),
    "trainOutput": encode(conv_train_output),
    "gradients": {k: encode(p.grad) for k, p in conv_net.named_parameters()},
    "buffersAfterTraining": {k: encode(v) for k, v in conv_net.named_buffers()},
}

with open(os.path.join(FIXTURES, "layers.json"), "w") as f:
    json.dump({
        "generator": "Tools/Reference/generate_layer_fixtures.py",
        "torch": torch.__version__,
        "safetensors": safetensors.__version__,
        "torchTensors": {k: encode(v) for k, v in torch_tensors.items()},
        "trajectoryInputs": encode(inputs),
        "trajectoryLabels": labels.tolist(),
        "trajectories": trajectories,
        "batchNormInput": encode(bn_input),
        "batchNormEvalOutput": encode(bn_output),
        "networks": network_cases,
        "convNet": conv_case,
    }, f)
print("wrote", FIXTURES)
