"""How long the default short run takes: ResNet-18 (CIFAR stem, 11M parameters) at batch 8, on CPU.

Usage: python benchmarks/short_run_speed.py [--width 64] [--batch 8] [--repeats 3] [--threads 1]
Target (issue 9): the default settings (5 steps of Adam(lr=0.001), a probe before and after)
finish in under 5 s on CPU.

Measured per repeat: one plain training step (forward, backward, Adam step) on the model itself;
``short_run`` with its defaults (deep copy, 5 steps, two probes); the dropout check; the whole
zero-code check (probe, dropout check, short run). Time is wall time and the calling thread's CPU
time (with 1 torch thread the work runs on it, and CPU time is less disturbed by other jobs on a
shared machine, whose load average is printed). Reported: medians, and the short run in plain
training steps (a ratio that carries over to other machines).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

from pytest_gradcheck.dropout import check_dropout
from pytest_gradcheck.model_check import ModelCase, run_checks
from pytest_gradcheck.training import short_run

# The reference models are test support code, kept out of the wheel.
sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gradcheck")
)
from model_zoo import CifarResNet18  # noqa: E402

TARGET_S = 5.0


def _timed(work: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.thread_time()
    work()
    return time.perf_counter() - wall, time.thread_time() - cpu


def measure(width: int, batch: int, repeats: int) -> dict[str, list[tuple[float, float]]]:
    torch.manual_seed(0)
    model = CifarResNet18(width=width)
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def plain_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    case = ModelCase("benchmark", model, x, y)
    work = {
        "plain training step": plain_step,
        "short_run (defaults)": lambda: short_run(model, x, y),
        "dropout check": lambda: check_dropout(model, x),
        "zero-code check (--steps 5)": lambda: run_checks(case, steps=5),
    }
    plain_step()  # warm-up: allocator, oneDNN primitives, Adam state
    short_run(model, x, y, steps=1)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in work}
    for _ in range(repeats):
        for name, run in work.items():
            samples[name].append(_timed(run))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64, help="ResNet width (64: ResNet-18)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    params = sum(p.numel() for p in CifarResNet18(width=args.width).parameters())
    print(
        f"ResNet-18 (CIFAR stem) width {args.width}, {params / 1e6:.1f}M parameters, batch "
        f"{args.batch}, 3x32x32, torch {torch.__version__}, {args.threads} thread(s), load "
        f"average {os.getloadavg()[0]:.1f}, {args.repeats} repeat(s)"
    )
    samples = measure(args.width, args.batch, args.repeats)
    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in samples.items()
    }
    step_wall, step_cpu = medians["plain training step"]
    print(f"{'':30} {'wall s':>8} {'CPU s':>8} {'plain steps (CPU)':>18}")
    for name, (wall, cpu) in medians.items():
        print(f"{name:30} {wall:8.2f} {cpu:8.2f} {cpu / step_cpu:18.1f}")
    wall, cpu = medians["short_run (defaults)"]
    verdict = "PASS" if cpu < TARGET_S else "FAIL"
    print(f"short run with default settings: {cpu:.2f} CPU-s (target < {TARGET_S:g} s): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
