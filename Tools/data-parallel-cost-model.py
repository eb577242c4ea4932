#!/usr/bin/env python3
"""The cost model of data-parallel training in BENCHMARKS.md ("Data-parallel training over MPI").

For N machines like the measured one, each training the global batch B / N (the book's B), one
step takes

    T(N) = T1 / N + A(N),   A(N) = 2 (N - 1) / N * S / W + 2 (N - 1) * alpha

where T1 is the measured single-machine step time at batch B, S = 4 * parameters bytes (float32
gradients), W the link bandwidth and alpha the latency of one ring step (ring all-reduce:
reduce-scatter then all-gather, 2 (N - 1) messages of S / N bytes each). Speed-up T1 / T(N),
efficiency speed-up / N. Prints the Markdown table: for each network and bandwidth, the largest N
with efficiency >= 50 % (A(N) <= T1 / N), capped at B / 2 (two examples per machine).
Assumptions (stated in BENCHMARKS.md): compute scales linearly with the per-machine batch, no
overlap of all-reduce and backward, alpha = 30 us (TCP over Ethernet), full line rate.
"""

# name, parameters (`d2l summary`), book batch, examples/s on one 2-core machine (BENCHMARKS.md,
# "Training step: memory and speed ...", run B, ours)
NETWORKS = [
    ("softmax regression", 7_850, 256, 539_407),
    ("MLP", 203_530, 256, 107_257),
    ("MLP + dropout", 269_322, 256, 51_490),
    ("LeNet", 61_706, 256, 13_329),
    ("BN-LeNet", 44_878, 256, 12_689),
    ("AlexNet", 46_764_746, 128, 19),
    ("VGG-11/4", 43_093_322, 128, 23),
    ("NiN", 1_992_166, 128, 24),
    ("GoogLeNet", 5_977_530, 128, 34),
    ("ResNet-18", 11_178_378, 256, 45),
    ("DenseNet", 758_226, 256, 58),
]
BANDWIDTHS = [("1 Gbit/s", 1e9 / 8), ("10 Gbit/s", 10e9 / 8), ("100 Gbit/s", 100e9 / 8)]
ALPHA = 30e-6


def allreduce_seconds(n, size_bytes, bandwidth):
    return 2 * (n - 1) / n * size_bytes / bandwidth + 2 * (n - 1) * ALPHA


def largest_efficient(step, size_bytes, bandwidth, batch):
    best = 1
    for n in range(2, batch // 2 + 1):
        if allreduce_seconds(n, size_bytes, bandwidth) <= step / n:
            best = n
    return best


def duration(seconds):
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def main():
    print("| network | parameters | gradient MB | step T1 (batch) | all-reduce at N = 2: 1 / 10 / 100 Gbit/s "
          "| machines at ≥ 50 % efficiency: 1 / 10 / 100 Gbit/s | speed-up there (100 Gbit/s) |")
    print("|---|---:|---:|---:|---|---|---:|")
    for name, parameters, batch, rate in NETWORKS:
        size = 4 * parameters
        step = batch / rate
        times = " / ".join(duration(allreduce_seconds(2, size, w)) for _, w in BANDWIDTHS)
        counts = [largest_efficient(step, size, w, batch) for _, w in BANDWIDTHS]
        n = counts[-1]
        speedup = step / (step / n + allreduce_seconds(n, size, BANDWIDTHS[-1][1])) if n > 1 else 1.0
        caps = " / ".join(f"{c}" + (" (cap)" if c == batch // 2 else "") for c in counts)
        print(f"| {name} | {parameters:,} | {size / 1e6:.3g} | {duration(step)} ({batch}) | {times} | {caps} | {speedup:.1f}× |")


if __name__ == "__main__":
    main()
