"""Measure the probe on the healthy and pathological zoo models; print the table of the defaults.

Usage: python benchmarks/measure_defaults.py [--seeds 3] [--full-resnet] [--markdown] [--models ...]
The numbers in docs/gradcheck-defaults.md come from this script. ``vanishing_ratio`` is the depth
ratio the checks use (first/last member of the most extreme repeated layer role, ``compared``);
``first_last`` is the plain first/last weight-layer ratio, for comparison.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from pytest_gradcheck import Bounds, probe

# The reference models are test support code, kept out of the wheel.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "gradcheck"))
from model_zoo import HEALTHY, PATHOLOGICAL, build  # noqa: E402


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2e}"


def _compared(report) -> str:
    """The role the depth ratio compared (``first/last`` when no role repeats)."""
    if report.vanishing_pair is None:
        return "-"
    return report.depth_role.split(":", 1)[1] if report.depth_role else "first/last"


def measure(name: str, seed: int, small: bool) -> dict[str, object]:
    case = build(name, seed=seed, small=small)
    report = probe(case.model, case.inputs, case.target)
    finite = [
        layer
        for layer in report.layers
        if layer.grad_norm is not None and math.isfinite(layer.grad_norm)
    ]
    weight = [layer for layer in finite if layer.is_weight_layer and layer.grad_rms]
    dead = [a.dead_fraction for a in report.activations if a.dead_fraction is not None]
    sat = [a.saturated_fraction for a in report.activations if a.saturated_fraction is not None]
    return {
        "model": name,
        "seed": seed,
        "expected": ",".join(sorted(case.expected)) or "healthy",
        "also_ok": ",".join(sorted(case.plausible)) or "-",
        "as_expected": "yes"
        if case.expected <= {p.code for p in report.problems} <= case.expected | case.plausible
        else "NO",
        "found": ",".join(sorted({p.code for p in report.problems})) or "healthy",
        "max_grad_norm": max((layer.grad_norm for layer in finite), default=None),
        "min_grad_rms": min((layer.grad_rms for layer in weight), default=None),
        "vanishing_ratio": report.vanishing_ratio,
        "compared": _compared(report),
        "first_last": weight[0].grad_rms / weight[-1].grad_rms if len(weight) > 1 else None,
        "growth": report.growth_per_layer,
        "max_dead": max(dead, default=None),
        "max_saturated": max(sat, default=None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--full-resnet", action="store_true", help="width-64 ResNet-18 (slow)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--models", nargs="+", help="only these zoo models")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"defaults: {Bounds().as_dict()}")
    columns = [
        "model",
        "seed",
        "expected",
        "also_ok",
        "found",
        "as_expected",
        "max_grad_norm",
        "min_grad_rms",
        "vanishing_ratio",
        "compared",
        "first_last",
        "growth",
        "max_dead",
        "max_saturated",
    ]
    rows = []
    for name in args.models or HEALTHY + PATHOLOGICAL:
        for seed in range(args.seeds):
            row = measure(name, seed, small=not args.full_resnet)
            rows.append(
                [row[c] if isinstance(row[c], (str, int)) else _fmt(row[c]) for c in columns]
            )
    rows = [[str(c) for c in row] for row in rows]
    if args.markdown:
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(x) for x in col) for col in zip(columns, *rows)]
        for row in [columns, *rows]:
            print("  ".join(x.ljust(w) for x, w in zip(row, widths)))
    wrong = [r for r in rows if r[columns.index("as_expected")] != "yes"]
    print(f"\n{len(rows) - len(wrong)}/{len(rows)} verdicts as expected")


if __name__ == "__main__":
    main()
