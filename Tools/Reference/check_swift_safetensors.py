#!/usr/bin/env python3
"""Checks by hand that a safetensors file written by Engine (Swift) loads in PyTorch.

Pinned: torch 2.15.0, safetensors 0.8.0. Usage:
    D2L_EXPORT_SAFETENSORS=/tmp/swift_bn.safetensors swift test --filter SafeTensorsRoundTripTests
    python Tools/Reference/check_swift_safetensors.py /tmp/swift_bn.safetensors

The file is the state dict of `Sequential { Linear(4, 3); BatchNorm1D(3); ReLU(); Linear(3, 2) }`
(the test loads PyTorch's batchnorm_mlp.safetensors fixture and saves it back). The script
(1) opens it with safetensors' own parser and prints keys, dtypes, shapes and metadata,
(2) loads it with `load_state_dict(strict=True)` into the equivalent nn.Sequential, and
(3) compares the network's eval output with the one recorded in layers.json.
Exits non-zero on any failure.
"""
import json
import os
import sys

import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

EXPECTED_TORCH = "2.15.0"
if not torch.__version__.startswith(EXPECTED_TORCH):
    sys.exit(f"expected torch {EXPECTED_TORCH}, found {torch.__version__}")
if safetensors.__version__ != "0.8.0":
    sys.exit(f"expected safetensors 0.8.0, found {safetensors.__version__}")
if len(sys.argv) != 2:
    sys.exit("usage: check_swift_safetensors.py FILE.safetensors")
path = sys.argv[1]

with safe_open(path, framework="pt") as f:
    print("metadata:", f.metadata())
    for key in f.keys():
        t = f.get_tensor(key)
        print(f"  {key}: {t.dtype} {list(t.shape)}")

state = load_file(path)
assert state["1.num_batches_tracked"].dtype == torch.int64, "num_batches_tracked must be int64"
net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
net.load_state_dict(state, strict=True)
net.eval()

fixtures = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EngineTests", "Fixtures", "layers.json")
with open(fixtures) as f:
    reference = json.load(f)
x = torch.tensor(reference["batchNormInput"]["data"]).reshape(reference["batchNormInput"]["shape"])
expected = torch.tensor(reference["batchNormEvalOutput"]["data"]).reshape(reference["batchNormEvalOutput"]["shape"])
with torch.no_grad():
    output = net(x)
torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-6)
print("OK: loaded with load_state_dict(strict=True); num_batches_tracked =",
      int(state["1.num_batches_tracked"]), "; eval output matches layers.json")
