#!/usr/bin/env python3
"""The reference side of `swift run -c release benchmarks --compare FILE`.

Runs the same workloads as the Swift `benchmarks` executable, on the CPU, with the same thread
count, and writes the same JSON shape. A development tool, not a dependency of the package.

Pinned: torch 2.15.0, numpy 2.4.6 (Tools/Reference/requirements.txt).

    python Benchmarks/Reference/pytorch_bench.py --threads 2 --json torch.json [--quick] [--filter TEXT]
    swift run -c release benchmarks --compare torch.json

Workloads (names match the Swift side exactly; see Benchmarks/*.swift for the definitions):
  conv-block    "conv-3x3-stack NxCxH fwd|fwd+bwd", "conv-5x5 ...": two 3x3 convolutions (C->C->C,
                padding 1, ReLU between) against one 5x5 (padding 2). FLOPs: 36*N*C^2*H^2 and
                50*N*C^2*H^2 forward (a multiply-add is 2 FLOPs), x3 for forward+backward.
  train-effect  "train-effect conv-3x3-stack|conv-5x5": conv 1->16 3x3, ReLU, [block], ReLU,
                max-pool 2, linear 3136->10, trained with SGD lr 0.1, batch 128, on the first
                10 000 Fashion-MNIST training images for 2 epochs (quick: 256 images, 1 epoch),
                tested on the first 10 000 (quick: 256) test images; time = training only.
  gemm          "gemm NxNxN" and "gemm <layer> MxNxK": float32 numpy.matmul (numpy's own
                bundled OpenBLAS), the baseline the engine's sgemm is held to.
  conv          "conv <layer> fwd+bwd": torch conv2d forward + backward (dx, dw, db) of the zoo's
                conv layers; sgemm_gflops is torch.mm of the forward GEMM's M x N x K.
  train         "train <model>": one training step (zero_grad, forward, CrossEntropyLoss,
                backward, SGD step) of every zoo network at the book's batch and input size, on
                random data, each in a child process whose VmHWM (/proc/self/status) is peak_mb.
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tools", "Reference"))
from d2l_book_networks import NETWORKS  # noqa: E402

EXPECTED_TORCH = "2.15.0"
if not torch.__version__.startswith(EXPECTED_TORCH):
    sys.exit(f"expected torch {EXPECTED_TORCH}, found {torch.__version__}")


def measure(fn, warmup, repetitions):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)


def result(name, group, times, flops, params=0, notes="", **extra):
    med = statistics.median(times)
    r = {"name": name, "group": group, "params": params, "flops": flops, "median_ms": med,
         "min_ms": times[0], "max_ms": times[-1], "repetitions": len(times),
         "gflops": flops / med / 1e6 if flops else 0.0, "notes": notes}
    r.update(extra)
    return r


def proc_status_mb(key):
    """A memory line of /proc/self/status in MiB (VmRSS: current, VmHWM: high-water mark)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# MARK: conv-block: two 3x3 convolutions against one 5x5

BLOCKS = ("conv-3x3-stack", "conv-5x5")


def block_layers(block, c):
    if block == "conv-3x3-stack":
        return [nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1)]
    return [nn.Conv2d(c, c, 5, padding=2)]


def block_forward_flops(block, n, c, h):
    return (36 if block == "conv-3x3-stack" else 50) * n * c * c * h * h


def block_shapes(quick):
    return [(2 if quick else n, c, h) for n, c, h in [(32, 64, 56), (128, 16, 28), (64, 32, 32)]]


def conv_block_benchmarks(quick):
    for n, c, h in block_shapes(quick):
        for block in BLOCKS:
            for backward in (False, True):
                name = f"{block} {n}x{c}x{h} {'fwd+bwd' if backward else 'fwd'}"

                def run(warmup, repetitions, n=n, c=c, h=h, block=block, backward=backward, name=name):
                    torch.manual_seed(4)
                    x = torch.randn(n, c, h, h)
                    net = nn.Sequential(*block_layers(block, c))
                    seed = torch.ones(n, c, h, h)
                    x.requires_grad_(backward)

                    def step():
                        if backward:
                            x.grad = None
                            net.zero_grad(set_to_none=True)
                            net(x).backward(seed)
                        else:
                            with torch.no_grad():
                                net(x)
                    times = measure(step, warmup, repetitions)
                    forward = block_forward_flops(block, n, c, h)
                    return result(name, "conv-block", times, 3 * forward if backward else forward,
                                  params=sum(p.numel() for p in net.parameters()),
                                  notes=f"input [{n}, {c}, {h}, {h}]")
                yield name, run


def fashion_mnist(split):
    directory = os.environ.get("D2L_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    stem = "train" if split == "train" else "t10k"
    with gzip.open(os.path.join(directory, f"{stem}-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(directory, f"{stem}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255), torch.from_numpy(labels.astype(np.int64))


def block_network(block):
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), *block_layers(block, 16), nn.ReLU(),
                         nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(16 * 14 * 14, 10))


def train_effect_benchmarks(quick):
    train_images, test_images, epochs = (256, 256, 1) if quick else (10_000, 10_000, 2)
    batch, lr = 128, 0.1
    for block in BLOCKS:
        name = f"train-effect {block}"

        def run(warmup, repetitions, block=block, name=name):
            torch.manual_seed(0)
            net = block_network(block)
            params = sum(p.numel() for p in net.parameters())
            notes = (f"{epochs} epoch(s), {train_images} train / {test_images} test images, batch {batch}, "
                     f"SGD lr {lr}")
            try:
                x_train, y_train = fashion_mnist("train")
                x_test, y_test = fashion_mnist("test")
            except OSError as error:
                r = result(name, "train-effect", [0.0], 0.0, params=params, notes=f"skipped: {error}")
                r["repetitions"] = 0
                return r
            x_train, y_train = x_train[:train_images], y_train[:train_images]
            x_test, y_test = x_test[:test_images], y_test[:test_images]
            optimizer = torch.optim.SGD(net.parameters(), lr=lr)
            generator = torch.Generator().manual_seed(0)
            seconds = 0.0
            for _ in range(epochs):
                net.train()
                start = time.perf_counter()
                order = torch.randperm(train_images, generator=generator)
                for first in range(0, train_images, batch):
                    index = order[first:first + batch]
                    optimizer.zero_grad()
                    loss = F.cross_entropy(net(x_train[index]), y_train[index])
                    loss.backward()
                    optimizer.step()
                seconds += time.perf_counter() - start
            net.eval()
            with torch.no_grad():
                correct = sum(int((net(x_test[i:i + batch]).argmax(1) == y_test[i:i + batch]).sum())
                              for i in range(0, test_images, batch))
            return result(name, "train-effect", [seconds * 1e3], 0.0, params=params, notes=notes,
                          test_accuracy=correct / test_images, examples_per_sec=epochs * train_images / seconds)
        yield name, run


# MARK: gemm and conv layers

# (name, batch, in, out, kernel, stride, padding, size): Benchmarks/GEMMBenchmarks.swift's table.
def conv_layers(quick):
    lenet, big, google = (16, 2, 4) if quick else (256, 16, 32)
    return [
        ("lenet conv1", lenet, 1, 6, 5, 1, 2, 28), ("lenet conv2", lenet, 6, 16, 5, 1, 0, 14),
        ("alexnet conv1", big, 1, 96, 11, 4, 1, 224), ("alexnet conv2", big, 96, 256, 5, 1, 2, 26),
        ("alexnet conv3", big, 256, 384, 3, 1, 1, 12),
        ("vgg conv1", big, 1, 16, 3, 1, 1, 224), ("vgg conv3", big, 32, 64, 3, 1, 1, 56),
        ("vgg conv5", big, 64, 128, 3, 1, 1, 28),
        ("googlenet b1", google, 1, 64, 7, 2, 3, 96), ("googlenet b2 3x3", google, 64, 192, 3, 1, 1, 24),
        ("googlenet 3a 1x1", google, 192, 64, 1, 1, 0, 12), ("googlenet 3a 5x5", google, 16, 32, 5, 1, 2, 12),
    ]


def layer_gemm(layer):
    _, batch, cin, cout, k, s, p, size = layer
    out = (size + 2 * p - k) // s + 1
    return cout, batch * out * out, cin * k * k


def time_numpy_gemm(m, n, k, warmup, repetitions):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return measure(lambda: np.matmul(a, b), warmup, repetitions)


def hypervisor_stolen_ms():
    """CPU time the hypervisor took from all cores since boot, ms (the steal field of /proc/stat's
    cpu line, as the Swift side's `hypervisorStolenMilliseconds`); None where it cannot be read."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return float(fields[8]) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def measured_peak(quick):
    n = 1024 if quick else 2048
    return 2.0 * n ** 3 / time_numpy_gemm(n, n, n, 2, 10)[0] / 1e6


def gemm_benchmarks(quick, peak):
    shapes = [(f"gemm {n}x{n}x{n}", n, n, n, "numpy.matmul float32")
              for n in ([128, 256] if quick else [256, 512, 1024, 2048])]
    for layer in conv_layers(quick):
        m, n, k = layer_gemm(layer)
        shapes.append((f"gemm {layer[0]} {m}x{n}x{k}", m, n, k, f"numpy.matmul float32, forward GEMM of {layer[0]}"))
    for name, m, n, k, notes in shapes:
        def run(warmup, repetitions, name=name, m=m, n=n, k=k, notes=notes):
            times = time_numpy_gemm(m, n, k, warmup, repetitions)
            r = result(name, "gemm", times, 2.0 * m * n * k, notes=notes)
            r["percent_of_peak"] = 100 * r["gflops"] / peak
            return r
        yield name, run


def conv_layer_benchmarks(quick):
    for layer in conv_layers(quick):
        name = f"conv {layer[0]} fwd+bwd"

        def run(warmup, repetitions, layer=layer, name=name):
            _, batch, cin, cout, k, s, p, size = layer
            torch.manual_seed(2)
            x = torch.randn(batch, cin, size, size, requires_grad=True)
            conv = nn.Conv2d(cin, cout, k, stride=s, padding=p)
            out = (size + 2 * p - k) // s + 1
            seed = torch.ones(batch, cout, out, out)

            def step():
                x.grad = None
                conv.zero_grad(set_to_none=True)
                conv(x).backward(seed)
            times = measure(step, warmup, repetitions)
            m, n, kk = layer_gemm(layer)
            a, b = torch.randn(m, kk), torch.randn(kk, n)
            sgemm = measure(lambda: torch.mm(a, b), 1, max(repetitions, 3))
            forward = 2.0 * m * n * kk
            return result(name, "conv", times, 3 * forward, params=sum(q.numel() for q in conv.parameters()),
                          notes=f"input [{batch}, {cin}, {size}, {size}]; GEMM {m}x{n}x{kk}",
                          sgemm_gflops=forward / statistics.median(sgemm) / 1e6)
        yield name, run


# MARK: the zoo's networks, as the book writes them (Tools/Reference/d2l_book_networks.py)

# name -> (batch, input side, lr): Sources/Models/ModelZoo.swift's table.
SETTINGS = {
    "softmax-regression": (256, 28, 0.1),
    "mlp": (256, 28, 0.1),
    "mlp-dropout": (256, 28, 0.5),
    "lenet": (256, 28, 0.9),
    "batch-norm-lenet": (256, 28, 1.0),
    "batch-norm-lenet-scratch": (256, 28, 1.0),
    "alexnet": (128, 224, 0.01),
    "vgg": (128, 224, 0.05),
    "nin": (128, 224, 0.1),
    "googlenet": (128, 96, 0.1),
    "resnet": (256, 96, 0.05),
    "densenet": (256, 96, 0.1),
}
# name -> (builder, batch, input side, lr)
ZOO = {name: (NETWORKS[name],) + settings for name, settings in SETTINGS.items()}


def train_settings(name, quick, warmup, repetitions):
    """(batch, side, warmup, repetitions), as trainSettings in Benchmarks/TrainBenchmarks.swift."""
    _, batch, side, _ = ZOO[name]
    big = side >= 96
    if quick:
        return (2 if big else 16), side, 0, 1
    return batch, side, (1 if big else warmup), (3 if big else repetitions)


def train_child(name, warmup, repetitions, quick):
    base = proc_status_mb("VmRSS:")
    build, _, _, lr = ZOO[name]
    batch, side, warmup, repetitions = train_settings(name, quick, warmup, repetitions)
    torch.manual_seed(3)
    model = build()
    images = torch.rand(batch, 1, side, side)
    labels = torch.randint(0, 10, (batch,))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()

    times = measure(step, warmup, repetitions)
    r = result(f"train {name}", "train", times, 0.0, params=sum(p.numel() for p in model.parameters()),
               notes=f"batch {batch}, input 1x{side}x{side}, SGD lr {lr}")
    r["examples_per_sec"] = batch / (r["median_ms"] / 1e3)
    r["peak_mb"] = proc_status_mb("VmHWM:")
    r["base_mb"] = base
    print(json.dumps(r))


def train_benchmarks(quick, threads):
    for name in ZOO:
        def run(warmup, repetitions, name=name):
            command = [sys.executable, os.path.abspath(__file__), "--train-child", name, str(warmup), str(repetitions),
                       "--threads", str(threads), "--json", os.devnull] + (["--quick"] if quick else [])
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            return json.loads(output.strip().splitlines()[-1])
        yield f"train {name}", run


# MARK: main

def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def numpy_blas():
    try:
        from threadpoolctl import threadpool_info
        for info in threadpool_info():
            if info.get("internal_api") == "openblas":
                return info.get("architecture", "?"), info.get("num_threads", 0)
    except ImportError:
        pass
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"].get("openblas configuration", "")
    return (config.split()[-2] if config else "?"), 0


def block_report(results):
    by_name = {r["name"]: r for r in results}
    lines = []
    for n, c, h in sorted({tuple(r["name"].split()[1].split("x")) for r in results if r["group"] == "conv-block"}):
        for p in ("fwd", "fwd+bwd"):
            a, b = by_name.get(f"conv-3x3-stack {n}x{c}x{h} {p}"), by_name.get(f"conv-5x5 {n}x{c}x{h} {p}")
            if a and b:
                lines.append(f"{n}x{c}x{h} {p:8} params {a['params']}/{b['params']}  ms {a['median_ms']:.2f}/"
                             f"{b['median_ms']:.2f}  time ratio 3x3/5x5 {a['median_ms'] / b['median_ms']:.2f}")
    a, b = by_name.get("train-effect conv-3x3-stack"), by_name.get("train-effect conv-5x5")
    if a and b and "test_accuracy" in a and "test_accuracy" in b:
        lines.append(f"train-effect: 3x3 stack {a['median_ms'] / 1e3:.1f} s, test acc {a['test_accuracy']:.4f}; "
                     f"5x5 {b['median_ms'] / 1e3:.1f} s, test acc {b['test_accuracy']:.4f}")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--filter")
    parser.add_argument("--train-child", nargs=3, metavar=("NAME", "WARMUP", "REPETITIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    except ImportError:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))

    if args.train_child:
        name, warmup, repetitions = args.train_child
        train_child(name, int(warmup), int(repetitions), args.quick)
        return

    warmup, repetitions = (0, 1) if args.quick else (2, 7)
    core, _ = numpy_blas()
    peak = measured_peak(args.quick)
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores | torch {torch.__version__}, {torch.get_num_threads()} threads"
          f" | numpy {np.__version__} (OpenBLAS {core})")
    print(f"sgemm peak {peak:.1f} GFLOP/s (best of 10 numpy sgemm {1024 if args.quick else 2048}^3, the gemm rows' "
          f"percent_of_peak; compare_table.py measures every row against the Swift side's FMA peak)")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    results = []
    workloads = (list(conv_block_benchmarks(args.quick)) + list(train_effect_benchmarks(args.quick))
                 + list(gemm_benchmarks(args.quick, peak)) + list(conv_layer_benchmarks(args.quick))
                 + list(train_benchmarks(args.quick, args.threads)))
    for name, run in workloads:
        if args.filter and args.filter not in name:
            continue
        stolen_before = hypervisor_stolen_ms()
        r = run(warmup, repetitions)
        stolen_after = hypervisor_stolen_ms()
        if stolen_before is not None and stolen_after is not None:
            r["stolen_ms"] = stolen_after - stolen_before
        results.append(r)
        extra = ""
        if "percent_of_peak" in r:
            extra = f"{r['percent_of_peak']:.0f}% of peak"
        elif "sgemm_gflops" in r:
            extra = f"sgemm {r['sgemm_gflops']:.1f} GF/s"
        elif "peak_mb" in r:
            extra = f"{r['examples_per_sec']:.0f} ex/s {r['peak_mb']:.0f} MiB"
        elif "test_accuracy" in r:
            extra = f"test acc {r['test_accuracy']:.4f}"
        stolen = f"  [hypervisor stole {r['stolen_ms']:.0f} ms]" if r.get("stolen_ms") else ""
        print(f"{r['name']:<44} {r['median_ms']:12.3f}  {r['min_ms']:7.3f}..{r['max_ms']:<7.3f} {r['gflops']:9.1f}  {extra}"
              f"{stolen}", flush=True)
    for line in block_report(results):
        print(line)

    report = {"blas": {"core": f"numpy OpenBLAS {core} / torch {torch.__version__}", "threads": args.threads,
                       "config": torch.__config__.parallel_info().splitlines()[0]},
              "cpu": cpu_name(), "cores": os.cpu_count(), "build": "python",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "peak_gflops": peak,
              "results": results}
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
