#!/usr/bin/env python3
"""Markdown tables for BENCHMARKS.md from one side-by-side run (standard library only).

    python Benchmarks/Reference/compare_table.py swift.json torch.json > tables.md

swift.json comes from `benchmarks --json`, torch.json from `pytorch_bench.py --json`; results are
matched by name. speed-up = reference median / our median (> 1: the Swift engine is faster).
The last table checks the goals of issue #7.
"""
import json
import sys


def load(path):
    with open(path) as f:
        report = json.load(f)
    return report, {r["name"]: r for r in report["results"]}


# The networks `d2l` trains data-parallel inside the process (`ZooModel.prefersDataParallel`).
DATA_PARALLEL_IN_D2L = {"mlp", "lenet", "batch-norm-lenet", "googlenet", "resnet", "densenet"}


def peak_fraction(ours_report, r, t):
    """Both engines' GFLOP/s as a fraction of the FMA peak our side measured on the same machine
    (PyTorch's side has no FMA-loop figure of its own)."""
    peak = ours_report.get("peak_gflops")
    if not peak:
        return ""
    if t and t.get("gflops"):
        return f"; {100 * r['gflops'] / peak:.0f} % / {100 * t['gflops'] / peak:.0f} % of the FMA peak"
    return f"; Swift at {100 * r['gflops'] / peak:.0f} % of the FMA peak"


def main():
    ours_report, ours = load(sys.argv[1])
    ref_report, ref = load(sys.argv[2])
    print(f"Swift: {ours_report['cpu']}, {ours_report['cores']} cores, OpenBLAS {ours_report['blas']['core']}, "
          f"{ours_report['blas']['threads']} threads, {ours_report['build']}, {ours_report['date']}, "
          f"FMA peak {ours_report.get('peak_gflops', 0):.1f} GFLOP/s "
          f"({ours_report.get('peak_method', 'sgemm lower bound')})  ")
    print(f"Reference: {ref_report['blas']['core']}, {ref_report['blas']['threads']} threads, {ref_report['date']}, "
          f"peak >= {ref_report.get('peak_gflops', 0):.1f} GFLOP/s (numpy sgemm)\n")
    groups = []
    for r in ours_report["results"]:
        if r["group"] not in groups:
            groups.append(r["group"])
    for group in groups:
        print(f"#### {group}\n")
        print("| name | Swift ms | PyTorch ms | speed-up | min ms Swift / PyTorch | Swift GFLOP/s | PyTorch GFLOP/s "
              "| extra (Swift / PyTorch) |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for r in ours_report["results"]:
            if r["group"] != group:
                continue
            t = ref.get(r["name"])
            extra = ""
            if "sgemm_gflops" in r:
                extra = f"plain sgemm {r['sgemm_gflops']:.1f} / {t['sgemm_gflops']:.1f} GFLOP/s" if t else ""
                extra += peak_fraction(ours_report, r, t)
            elif "percent_of_peak" in r:
                extra = peak_fraction(ours_report, r, t).lstrip("; ")
            elif "peak_mb" in r:
                extra = (f"{r['examples_per_sec']:.0f} / {t['examples_per_sec']:.0f} ex/s; peak {r['peak_mb']:.0f} / "
                         f"{t['peak_mb']:.0f} MiB (base {r['base_mb']:.0f} / {t['base_mb']:.0f})" if t else "")
            elif "test_accuracy" in r:
                extra = f"test acc {r['test_accuracy']:.4f} / {t['test_accuracy']:.4f}" if t else ""
            stolen = (r.get("stolen_ms") or 0, (t or {}).get("stolen_ms") or 0)
            if stolen[0] > 0 or stolen[1] > 0:
                extra += f"; hypervisor stole {stolen[0]:.0f} / {stolen[1]:.0f} ms"
            if t:
                print(f"| {r['name']} | {r['median_ms']:.2f} | {t['median_ms']:.2f} | {t['median_ms'] / r['median_ms']:.2f}x "
                      f"| {r['min_ms']:.2f} / {t['min_ms']:.2f} | {r['gflops']:.1f} | {t['gflops']:.1f} | {extra} |")
            else:
                print(f"| {r['name']} | {r['median_ms']:.2f} | – | – | {r['min_ms']:.2f} / – | {r['gflops']:.1f} | – | |")
        print()

    print("#### Goals of issue #7\n")
    print("| goal | workload | speed-up (medians) | met? | missed by | speed-up of the minimums |")
    print("|---|---|---:|---|---|---:|")

    def goal(label, names, target, memory=False):
        for name in names:
            if name not in ours or name not in ref:
                continue
            ratio = ref[name]["median_ms"] / ours[name]["median_ms"]
            met = ratio >= target
            note = "" if met else f"{(target - ratio) / target * 100:.0f} % ({ratio:.2f}x of {target:.2f}x)"
            if memory:
                ours_mb, ref_mb = ours[name]["peak_mb"], ref[name]["peak_mb"]
                memory_met = ours_mb <= ref_mb
                met = met and memory_met
                note += ("; " if note else "") + f"peak {ours_mb:.0f} vs {ref_mb:.0f} MiB" + ("" if memory_met else " (higher)")
            best = ref[name]["min_ms"] / ours[name]["min_ms"]
            print(f"| {label} | {name} | {ratio:.2f}x | {'yes' if met else 'no'} | {note} | {best:.2f}x |")

    goal("sgemm >= 0.95x numpy", [n for n in ours if ours[n]["group"] == "gemm"], 0.95)
    goal("conv fwd+bwd >= 1.0x PyTorch", [n for n in ours if ours[n]["group"] == "conv-block" and n.endswith("fwd+bwd")], 1.0)
    goal("training >= 2x PyTorch", ["train lenet", "train batch-norm-lenet"], 2.0)
    for name in ["train lenet data-parallel", "train batch-norm-lenet data-parallel"]:
        if name in ours and name.removesuffix(" data-parallel") in ref:
            ref[name] = ref[name.removesuffix(" data-parallel")]
            goal("training >= 2x PyTorch", [name], 2.0)
    goal("training >= 1.0x, peak memory no higher", ["train alexnet", "train vgg", "train nin", "train googlenet"], 1.0,
         memory=True)

    # A "train X data-parallel" row of ours is compared with PyTorch's "train X".
    suffix = " data-parallel"
    reference_name = lambda n: n.removesuffix(suffix)
    train = [n for n in ours if ours[n]["group"] == "train" and reference_name(n) in ref]
    if train:
        print("\n#### Training step: speed and net memory (issue #13)\n")
        print("Net memory = the child's peak resident set minus its resident set before the network was built; "
              "tensors = the most bytes of tensor values alive at once (ours only).\n")
        print("| network | speed-up | ex/s ours / PyTorch | net MiB ours / PyTorch | memory ratio | tensors MiB |")
        print("|---|---:|---|---|---:|---:|")
        speedups, memory_ratios, as_d2l = [], [], []
        for name in train:
            r, t = ours[name], ref[reference_name(name)]
            speedup = t["median_ms"] / r["median_ms"]
            net_ours, net_ref = r["peak_mb"] - r["base_mb"], t["peak_mb"] - t["base_mb"]
            base = reference_name(name).removeprefix("train ")
            if name.endswith(suffix):
                if base in DATA_PARALLEL_IN_D2L:
                    as_d2l[-1] = speedup   # replaces the per-op row of the same network
            else:
                speedups.append(speedup)
                memory_ratios.append(net_ours / net_ref)
                as_d2l.append(speedup)
            tensors = f"{r['tensor_peak_mb']:.0f}" if "tensor_peak_mb" in r else "–"
            print(f"| {name.removeprefix('train ')} | {speedup:.2f}x | {r['examples_per_sec']:.0f} / {t['examples_per_sec']:.0f} "
                  f"| {net_ours:.0f} / {net_ref:.0f} | {net_ours / net_ref:.2f} | {tensors} |")
        geomean = lambda xs: __import__("math").exp(sum(__import__("math").log(x) for x in xs) / len(xs))
        print(f"\nGeometric means: speed-up {geomean(speedups):.2f}x with every network split op by op over the cores, "
              f"{geomean(as_d2l):.2f}x with the data-parallel rows of the networks d2l trains data-parallel "
              f"({', '.join(sorted(DATA_PARALLEL_IN_D2L))}); memory ratio {geomean(memory_ratios):.2f}.")


if __name__ == "__main__":
    main()
