#!/usr/bin/env python3
"""Generates the fixtures of Tests/ModelsTests from the textbook's own PyTorch model definitions
("Dive into Deep Learning", d2l-zh 2.0.0 / d2l-en 0.17.5, copied below as the book writes them):

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
import gzip
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
import safetensors
from safetensors.torch import save_file

EXPECTED_SAFETENSORS = "0.8.0"
if safetensors.__version__ != EXPECTED_SAFETENSORS:
    sys.exit(f"expected safetensors {EXPECTED_SAFETENSORS}, found {safetensors.__version__}")

torch.manual_seed(20261128)
torch.set_num_threads(1)
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")
DATA = os.environ.get("D2L_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def encode(t):
    array = t.detach().to(torch.float32).contiguous().numpy().astype("<f4")
    return {"shape": list(t.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}


# MARK: The book's definitions (d2l-zh 2.0.0 PyTorch notebooks; EN 0.17.5 is the same)

def softmax_regression():  # §3.7
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def mlp():  # §4.3
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def mlp_dropout(dropout1=0.2, dropout2=0.5):  # §4.6, concise
    return nn.Sequential(nn.Flatten(),
                         nn.Linear(784, 256), nn.ReLU(), nn.Dropout(dropout1),
                         nn.Linear(256, 256), nn.ReLU(), nn.Dropout(dropout2),
                         nn.Linear(256, 10))


def lenet():  # §6.6
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):  # §7.5, scratch
    if not torch.is_grad_enabled():
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
    else:
        assert len(X.shape) in (2, 4)
        if len(X.shape) == 2:
            mean = X.mean(dim=0)
            var = ((X - mean) ** 2).mean(dim=0)
        else:
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        X_hat = (X - mean) / torch.sqrt(var + eps)
        moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
        moving_var = momentum * moving_var + (1.0 - momentum) * var
    Y = gamma * X_hat + beta
    return Y, moving_mean.data, moving_var.data


class BatchNorm(nn.Module):  # §7.5, scratch: moving_mean / moving_var are plain attributes
    def __init__(self, num_features, num_dims):
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.moving_mean = torch.zeros(shape)
        self.moving_var = torch.ones(shape)

    def forward(self, X):
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5, momentum=0.9)
        return Y


def batch_norm_lenet_scratch():  # §7.5
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), BatchNorm(6, num_dims=4), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), BatchNorm(16, num_dims=4), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), BatchNorm(120, num_dims=2), nn.Sigmoid(),
        nn.Linear(120, 84), BatchNorm(84, num_dims=2), nn.Sigmoid(),
        nn.Linear(84, 10))


def batch_norm_lenet():  # §7.5, concise
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10))


def alexnet():  # §7.1
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 10))


def vgg_block(num_convs, in_channels, out_channels):  # §7.2
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(conv_arch):
    conv_blks = []
    in_channels = 1
    for (num_convs, out_channels) in conv_arch:
        conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *conv_blks, nn.Flatten(),
        nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 10))


def vgg11_small(ratio=4):
    conv_arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    return vgg([(pair[0], pair[1] // ratio) for pair in conv_arch])


def nin_block(in_channels, out_channels, kernel_size, strides, padding):  # §7.3
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin():
    return nn.Sequential(
        nin_block(1, 96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(384, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten())


class Inception(nn.Module):  # §7.4
    def __init__(self, in_channels, c1, c2, c3, c4, **kwargs):
        super(Inception, self).__init__(**kwargs)
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def googlenet():
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
                       nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32),
                       Inception(256, 128, (128, 192), (32, 96), 64),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = nn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64),
                       Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64),
                       Inception(512, 112, (144, 288), (32, 64), 64),
                       Inception(528, 256, (160, 320), (32, 128), 128),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128),
                       Inception(832, 384, (192, 384), (48, 128), 128),
                       nn.AdaptiveAvgPool2d((1, 1)),
                       nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, 10))


class Residual(nn.Module):  # §7.6
    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


def resnet18():
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10))


def conv_block(input_channels, num_channels):  # §7.7
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    def __init__(self, num_convs, input_channels, num_channels):
        super(DenseBlock, self).__init__()
        layer = []
        for i in range(num_convs):
            layer.append(conv_block(num_channels * i + input_channels, num_channels))
        self.net = nn.Sequential(*layer)

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            X = torch.cat((X, Y), dim=1)
        return X


def transition_block(input_channels, num_channels):
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2))


def densenet():
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    num_channels, growth_rate = 64, 32
    num_convs_in_dense_blocks = [4, 4, 4, 4]
    blks = []
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        blks.append(DenseBlock(num_convs, num_channels, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(num_convs_in_dense_blocks) - 1:
            blks.append(transition_block(num_channels, num_channels // 2))
            num_channels = num_channels // 2
    return nn.Sequential(
        b1, *blks,
        nn.BatchNorm2d(num_channels), nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(num_channels, 10))


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

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


train_images = torch.tensor(read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz")).copy(),
                            dtype=torch.float32).unsqueeze(1) / 255
train_labels = torch.tensor(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz")).astype(np.int64))
test_images = torch.tensor(read_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))[:500].copy(),
                           dtype=torch.float32).unsqueeze(1) / 255
test_labels = read_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))[:500].astype(int).tolist()

torch.manual_seed(6)
net = lenet()


def init_weights(m):  # train_ch6's initialization
    if type(m) == nn.Linear or type(m) == nn.Conv2d:
        nn.init.xavier_uniform_(m.weight)


net.apply(init_weights)
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
