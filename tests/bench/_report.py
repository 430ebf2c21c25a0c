"""Shared printing for benchmarks: numbers beside a baseline measured in the same run."""

from __future__ import annotations

import statistics


def result(name: str, ours: float, baseline: float, unit: str = "") -> None:
    ratio = ours / baseline if baseline else float("nan")
    print(f"{name}: ours={ours:,.1f}{unit} baseline={baseline:,.1f}{unit} ratio={ratio:.2f}")
    print(f"RESULT {name} ours={ours:.2f} baseline={baseline:.2f} ratio={ratio:.3f}", flush=True)


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(samples: list[float]) -> str:
    return (
        f"n={len(samples)} p50={percentile(samples, 50):.2f} p99={percentile(samples, 99):.2f}"
        f" mean={statistics.fmean(samples):.2f}"
    )
