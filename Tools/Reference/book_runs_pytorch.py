#!/usr/bin/env python3
"""Runs the book's own MLP (section 4.3) and BN-LeNet (section 7.5, concise) training in PyTorch on
this machine's CPU, at the book's settings, for a few seeds, and prints train_ch3/train_ch6's three
numbers (loss and train accuracy accumulated over the last epoch, test accuracy after it).

Purpose: to see whether PyTorch itself, run here, lands inside the spread of the book's 21 runs
(../shared/D2L_REFERENCE.md) as often as d2l-swift does; EXPERIMENTS.md quotes the output. A
development tool, not a dependency of the package or its tests.

Pinned: torch 2.15.0. Run from the repository root:
    python Tools/Reference/book_runs_pytorch.py --seeds 0 1 2 [--models mlp batch-norm-lenet]
"""
import argparse
import gzip
import os
import sys

import numpy as np
import torch
from torch import nn

EXPECTED_TORCH = "2.15.0"
if not torch.__version__.startswith(EXPECTED_TORCH):
    sys.exit(f"expected torch {EXPECTED_TORCH}, found {torch.__version__}")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from d2l_book_networks import batch_norm_lenet, init_xavier, mlp  # noqa: E402

DATA = os.environ.get("D2L_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def read_split(split):
    """Fashion-MNIST images as [N, 1, 28, 28] floats in [0, 1] (the book's ToTensor) and labels."""
    prefix = "train" if split == "train" else "t10k"
    arrays = []
    for kind in ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz"):
        with gzip.open(os.path.join(DATA, f"{prefix}-{kind}"), "rb") as f:
            data = f.read()
        dims = data[3]
        shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
        arrays.append(np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape))
    images = torch.tensor(arrays[0].copy(), dtype=torch.float32).unsqueeze(1) / 255
    return images, torch.tensor(arrays[1].astype(np.int64))


# name -> (constructor, initializer, batch size, lr, epochs): the book's settings.
def normal_init(m):  # section 4.3: nn.init.normal_(m.weight, std=0.01)
    if type(m) == nn.Linear:
        nn.init.normal_(m.weight, std=0.01)


RUNS = {"mlp": (mlp, normal_init, 256, 0.1, 10), "batch-norm-lenet": (batch_norm_lenet, init_xavier, 256, 1.0, 10)}


def run(name, seed, train, test):
    make, init, batch_size, lr, epochs = RUNS[name]
    torch.manual_seed(seed)
    net = make()
    net.apply(init)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    (x_train, y_train), (x_test, y_test) = train, test
    for epoch in range(epochs):
        net.train()
        total, correct, seen = 0.0, 0, 0
        for index in torch.randperm(len(y_train)).split(batch_size):
            x, y = x_train[index], y_train[index]
            y_hat = net(x)
            l = loss(y_hat, y)
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
            total += l.item() * len(y)
            correct += int((y_hat.argmax(dim=1) == y).sum())
            seen += len(y)
        net.eval()
        with torch.no_grad():
            test_correct = sum(int((net(x_test[i:i + 256]).argmax(dim=1) == y_test[i:i + 256]).sum())
                               for i in range(0, len(y_test), 256))
    return total / seen, correct / seen, test_correct / len(y_test)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=list(RUNS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, test = read_split("train"), read_split("test")
    for name in args.models:
        for seed in args.seeds:
            l, train_acc, test_acc = run(name, seed, train, test)
            print(f"{name} seed {seed}: loss {l:.4f}, train acc {train_acc:.4f}, test acc {test_acc:.4f}", flush=True)


if __name__ == "__main__":
    main()
