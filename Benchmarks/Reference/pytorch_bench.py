#!/usr/bin/env python3
"""The reference side of `swift run -c release benchmarks --compare FILE`.

Runs the same workloads as the Swift `benchmarks` executable, on the CPU, with the same thread
count, and writes the same JSON shape. A development tool, not a dependency of the package.

Pinned: torch 2.15.0, numpy 2.4.6 (Tools/Reference/requirements.txt).

    python Benchmarks/Reference/pytorch_bench.py --threads 2 --json torch.json [--quick] [--filter TEXT]
    swift run -c release benchmarks --compare torch.json

Workloads (names match the Swift side exactly):
  gemm  "gemm NxNxN": float32 numpy.matmul (numpy's own bundled OpenBLAS), the baseline the
        engine's sgemm is held to.
  train "train <model>": one training step (zero_grad, forward, CrossEntropyLoss, backward,
        SGD step) at the book's batch and input size, on random data.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

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


def result(name, group, times, flops, params=0, notes=""):
    med = statistics.median(times)
    return {"name": name, "group": group, "params": params, "flops": flops, "median_ms": med,
            "min_ms": times[0], "max_ms": times[-1], "repetitions": len(times),
            "gflops": flops / med / 1e6 if flops else 0.0, "notes": notes}


def gemm_benchmarks(quick):
    sizes = [128, 256] if quick else [256, 512, 1024, 2048]
    for n in sizes:
        def run(warmup, repetitions, n=n):
            rng = np.random.default_rng(1)
            a = rng.standard_normal((n, n), dtype=np.float32)
            b = rng.standard_normal((n, n), dtype=np.float32)
            times = measure(lambda: np.matmul(a, b), warmup, repetitions)
            return result(f"gemm {n}x{n}x{n}", "gemm", times, 2.0 * n ** 3, notes="numpy.matmul float32")
        yield f"gemm {n}x{n}x{n}", run


def lenet():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def train_step_benchmark(name, make_model, input_shape, classes=10, lr=0.1):
    def run(warmup, repetitions):
        torch.manual_seed(3)
        model = make_model()
        images = torch.rand(input_shape)
        labels = torch.randint(0, classes, (input_shape[0],))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()

        def step():
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()

        times = measure(step, warmup, repetitions)
        params = sum(p.numel() for p in model.parameters())
        per_second = input_shape[0] / (statistics.median(times) / 1e3)
        return result(name, "train", times, 0.0, params=params,
                      notes=f"{per_second:.0f} examples/s, batch {input_shape[0]}, input {list(input_shape[1:])}")
    return run


def train_benchmarks(quick):
    yield "train lenet", train_step_benchmark("train lenet", lenet, (32 if quick else 256, 1, 28, 28))


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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--filter")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    except ImportError:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))

    warmup, repetitions = (0, 1) if args.quick else (2, 7)
    core, _ = numpy_blas()
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores | torch {torch.__version__}, {torch.get_num_threads()} threads"
          f" | numpy {np.__version__} (OpenBLAS {core})")
    results = []
    for name, run in list(gemm_benchmarks(args.quick)) + list(train_benchmarks(args.quick)):
        if args.filter and args.filter not in name:
            continue
        r = run(warmup, repetitions)
        results.append(r)
        print(f"{r['name']:<28} {r['median_ms']:12.3f}  {r['min_ms']:7.3f}..{r['max_ms']:<7.3f} {r['gflops']:9.1f}")

    report = {"blas": {"core": f"numpy OpenBLAS {core} / torch {torch.__version__}", "threads": args.threads,
                       "config": torch.__config__.parallel_info().splitlines()[0]},
              "cpu": cpu_name(), "cores": os.cpu_count(), "build": "python",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "results": results}
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
