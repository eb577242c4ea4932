#!/usr/bin/env python3
"""Generates the fixtures of Tests/ModelsTests from the textbook's own PyTorch model definitions
("Dive into Deep Learning", d2l-zh 2.0.0 / d2l-en 0.17.5, written as the book writes them in
d2l_book_networks.py):

* Tests/ModelsTests/Fixtures/models.json: for every model of the zoo, the names, shapes and
  element counts of its parameters (`named_parameters()`), the keys and shapes of its state dict,
  the parameter count, and the shape walk the book prints
  (`for layer in net: X = layer(X); print(layer.__class__.__name__, X.shape)`) for the input the
  book uses. No weights of the big models are stored.
* in models.json too: the book's scratch `BatchNorm` module on two random inputs (output, gradients
  of L = sum(output * upstream) for x, gamma and beta, moving statistics after the step, and the
  no-grad prediction with them).
* Tests/ModelsTests/Fixtures/lenet.safetensors: the weights of the book's LeNet after a short,
  seeded training run in PyTorch (61 706 parameters, ~240 KB), and in models.json PyTorch's logits
  and predicted labels for the first 500 Fashion-MNIST test images, read from
  /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist, the original Zalando files).

Pinned: torch 2.15.0, safetensors 0.8.0 (see requirements.txt). Run from the repository root:
    python Tools/Reference/generate_model_fixtures.py
"""
import base64
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
from d2l_book_networks import (BatchNorm, alexnet, batch_norm_lenet, batch_norm_lenet_scratch, densenet,  # noqa: E402
                               googlenet, init_xavier, lenet, mlp, mlp_dropout, nin, resnet18, softmax_regression, vgg11_small)

torch.manual_seed(20261128)
torch.set_num_threads(1)
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")
DATA = os.environ.get("D2L_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def encode(t):
    array = t.detach().to(torch.float32).contiguous().numpy().astype("<f4")
    return {"shape": list(t.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}


# MARK: The book's definitions live in d2l_book_networks.py (shared with the benchmarks)

# (registry name, constructor, input shape of the shape walk: the book's where it prints one)
MODELS = [
    ("softmax-regression", softmax_regression, (1, 1, 28, 28)),
    ("mlp", mlp, (1, 1, 28, 28)),
    ("mlp-dropout", mlp_dropout, (1, 1, 28, 28)),
    ("lenet", lenet, (1, 1, 28, 28)),
    ("batch-norm-lenet", batch_norm_lenet, (1, 1, 28, 28)),
    ("batch-norm-lenet-scratch", batch_norm_lenet_scratch, (1, 1, 28, 28)),
    ("alexnet", alexnet, (1, 1, 224, 224)),
    ("vgg", vgg11_small, (1, 1, 224, 224)),
    ("nin", nin, (1, 1, 224, 224)),
    ("googlenet", googlenet, (1, 1, 96, 96)),
    ("resnet", resnet18, (1, 1, 224, 224)),
    ("densenet", densenet, (1, 1, 96, 96)),
]


def describe(name, make, input_shape):
    net = make()
    parameters = [{"key": k, "shape": list(p.shape)} for k, p in net.named_parameters()]
    state = [{"key": k, "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
             for k, t in net.state_dict().items()]
    # The walk in eval mode without grad (batch norm on one example has no batch statistics).
    net.eval()
    walk = []
    with torch.no_grad():
        X = torch.rand(size=input_shape)
        for layer in net:
            X = layer(X)
            walk.append({"layer": layer.__class__.__name__, "shape": list(X.shape)})
    count = sum(p.numel() for p in net.parameters())
    print(f"{name:26s} {count:>11,d} parameters, output {walk[-1]['shape']}")
    return {"name": name, "parameterCount": count, "inputShape": list(input_shape),
            "parameters": parameters, "stateDict": state, "shapeWalk": walk}


models = [describe(*entry) for entry in MODELS]


# MARK: The scratch BatchNorm module: output, input and parameter gradients, moving statistics

scratch_cases = []
for name, features, dims, shape in [("fully connected [6, 5]", 5, 2, (6, 5)),
                                    ("convolutional [3, 4, 5, 5]", 4, 4, (3, 4, 5, 5))]:
    bn = BatchNorm(features, num_dims=dims)
    with torch.no_grad():  # non-trivial parameters and moving statistics
        bn.gamma.copy_(torch.rand(bn.gamma.shape) + 0.5)
        bn.beta.copy_(torch.randn(bn.beta.shape))
        bn.moving_mean = torch.randn(bn.moving_mean.shape)
        bn.moving_var = torch.rand(bn.moving_var.shape) + 0.5
    gamma0, beta0 = bn.gamma.detach().clone(), bn.beta.detach().clone()
    mean0, var0 = bn.moving_mean.clone(), bn.moving_var.clone()
    x = (torch.randn(shape) * 2 + 1).requires_grad_(True)
    y = bn(x)  # grad enabled: batch statistics, moving statistics updated
    upstream = torch.randn(y.shape)
    (y * upstream).sum().backward()
    with torch.no_grad():
        prediction = bn(x)  # no grad: the updated moving statistics
    scratch_cases.append({"name": name, "featureCount": features, "dimensionCount": dims,
                          "gamma": encode(gamma0), "beta": encode(beta0),
                          "movingMean": encode(mean0), "movingVariance": encode(var0),
                          "input": encode(x), "upstream": encode(upstream), "output": encode(y),
                          "inputGradient": encode(x.grad), "gammaGradient": encode(bn.gamma.grad),
                          "betaGradient": encode(bn.beta.grad),
                          "movingMeanAfter": encode(bn.moving_mean), "movingVarianceAfter": encode(bn.moving_var),
                          "prediction": encode(prediction)})


# MARK: LeNet trained briefly in PyTorch, evaluated on the first 500 test images

train_images = torch.tensor(read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz")).copy(),
                            dtype=torch.float32).unsqueeze(1) / 255
train_labels = torch.tensor(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz")).astype(np.int64))
test_images = torch.tensor(read_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))[:500].copy(),
                           dtype=torch.float32).unsqueeze(1) / 255
test_labels = read_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))[:500].astype(int).tolist()

torch.manual_seed(6)
net = lenet()

net.apply(init_xavier)
# A short run (Adam, 3 epochs over the first 12 800 training images) so the predictions are far from
# chance; which optimizer produced the weights does not matter for the test.
optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
loss = nn.CrossEntropyLoss()
generator = torch.Generator().manual_seed(7)
net.train()
for epoch in range(3):
    order = torch.randperm(12800, generator=generator)
    for start in range(0, 12800, 256):
        index = order[start:start + 256]
        optimizer.zero_grad()
        l = loss(net(train_images[index]), train_labels[index])
        l.backward()
        optimizer.step()
    print(f"LeNet epoch {epoch + 1}: last batch loss {l.item():.4f}")

net.eval()
with torch.no_grad():
    logits = net(test_images)
predictions = logits.argmax(dim=1).tolist()
top2 = logits.topk(2, dim=1).values
margin = (top2[:, 0] - top2[:, 1]).min().item()
correct = sum(int(p == y) for p, y in zip(predictions, test_labels))
print(f"LeNet on the first 500 test images: {correct} correct; smallest top-2 logit margin {margin:.2e}")

os.makedirs(FIXTURES, exist_ok=True)
weights_path = os.path.join(FIXTURES, "lenet.safetensors")
save_file({k: v.contiguous() for k, v in net.state_dict().items()}, weights_path)

with open(os.path.join(FIXTURES, "models.json"), "w") as f:
    json.dump({"generator": "Tools/Reference/generate_model_fixtures.py", "torch": torch.__version__,
               "models": models, "scratchBatchNorm": scratch_cases,
               "leNetEvaluation": {"weights": "lenet.safetensors", "count": 500,
                                   "labels": test_labels, "predictions": predictions, "correct": correct,
                                   "smallestMargin": margin,
                                   "logits": encode(logits)}},
              f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {os.path.normpath(FIXTURES)}/models.json and lenet.safetensors "
      f"({os.path.getsize(weights_path) // 1024} KB)")
