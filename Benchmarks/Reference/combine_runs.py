#!/usr/bin/env python3
"""One report from several runs of the same side (standard library only).

    python Benchmarks/Reference/combine_runs.py out.json run1.json run2.json run3.json ...

On a VM whose speed drifts over seconds (BENCHMARKS.md: single rows move by up to 1.5x between
runs minutes apart), one run's median per row says more about the moment than about the code.
Run each side several times, alternating which goes first, and combine each side's runs here:
per row, median_ms is the median of the runs' medians, min_ms the least minimum, max_ms the
greatest maximum, and gflops, percent_of_peak, sgemm_gflops and examples_per_sec are recomputed
from (or taken as the median of) the runs' values, stolen_ms is the runs' sum; peak_gflops is
the median of the runs' peaks.
The output has the same shape as the inputs, so compare_table.py reads it unchanged; its `runs`
field lists the input files and `date` the first run's date.
"""
import json
import statistics
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: combine_runs.py OUT.json RUN.json [RUN.json ...]")
    out_path, paths = sys.argv[1], sys.argv[2:]
    reports = []
    for path in paths:
        with open(path) as f:
            reports.append(json.load(f))
    combined = dict(reports[0])
    combined["runs"] = paths
    peaks = [r["peak_gflops"] for r in reports if r.get("peak_gflops")]
    if peaks:
        combined["peak_gflops"] = statistics.median(peaks)
    one_core = [r["peak_one_core_gflops"] for r in reports if r.get("peak_one_core_gflops")]
    if one_core:
        combined["peak_one_core_gflops"] = statistics.median(one_core)

    results = []
    for first in reports[0]["results"]:
        rows = [row for report in reports for row in report["results"] if row["name"] == first["name"]]
        row = dict(first)
        row["median_ms"] = statistics.median(r["median_ms"] for r in rows)
        row["min_ms"] = min(r["min_ms"] for r in rows)
        row["max_ms"] = max(r["max_ms"] for r in rows)
        row["runs"] = len(rows)
        if row.get("flops"):
            row["gflops"] = row["flops"] / row["median_ms"] / 1e6
        if "percent_of_peak" in row and peaks:
            row["percent_of_peak"] = 100 * row["gflops"] / combined["peak_gflops"]
        stolen = [r["stolen_ms"] for r in rows if "stolen_ms" in r]
        if stolen:
            row["stolen_ms"] = sum(stolen)
        for key in ("sgemm_gflops", "examples_per_sec", "test_accuracy", "peak_mb", "base_mb", "tensor_peak_mb"):
            values = [r[key] for r in rows if key in r]
            if values:
                row[key] = statistics.median(values)
        results.append(row)
    combined["results"] = results
    with open(out_path, "w") as f:
        json.dump(combined, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
