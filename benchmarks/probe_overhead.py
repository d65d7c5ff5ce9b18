"""Cost of the gradient probe against a plain forward+backward (1 thread, paired and interleaved).

Usage: python benchmarks/probe_overhead.py [--repeats 25] [--models resnet18 lstm ...]
Targets (issue 3): <= 1.25x on the ResNet-18 at batch 8, <= 1.5x on a 20-layer MLP, peak RSS +10%.
The 2-layer LSTM classifier shows the cost of recomputing its gates (issue 8); no target.
Peak RSS: a fresh subprocess per variant; the peak is reset after import and one warm-up pass.

Fairness: both variants run the same model on the same batch with the same loss (cross-entropy,
which is also the probe's default for integer targets). After warm-up both start every timed call
with ``.grad`` allocated, as in a training loop: the plain step frees those grads
(``zero_grad(set_to_none=True)``) and backward allocates new ones; the probe keeps them aside,
lets backward allocate new ones and frees those when it restores the old ones. Each pair
alternates its order. Time is wall time and the calling thread's CPU time (with 1 torch thread,
forward and backward run on it); the CPU time is less disturbed by other jobs on the machine,
whose load average is printed. Reported: medians of the paired ratios (and their quartiles).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
from torch.nn import functional as F

from pytest_gradcheck import probe

# The reference models are test support code, kept out of the wheel.
sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gradcheck")
)
from model_zoo import build  # noqa: E402

# The LSTM has no target of its own: it measures the gate recomputation (issue 8).
TARGETS: dict[str, float | None] = {"resnet18": 1.25, "relu_mlp20_kaiming": 1.5, "lstm": None}


def _case(name: str):
    case = build(name, small=False)
    return case.model, case.inputs, case.target


def _plain(model, x, y) -> None:
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def _probed(model, x, y) -> None:
    probe(model, x, y)


def _quartiles(values: list[float]) -> tuple[float, float]:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


def time_pairs(name: str, repeats: int) -> dict[str, tuple[float, ...]]:
    """Medians (plain s, probe s, ratio, ratio q1, ratio q3) for the wall and CPU clocks."""
    model, x, y = _case(name)
    model.train()
    for _ in range(2):  # warm-up: allocator, oneDNN primitives
        _plain(model, x, y)
        _probed(model, x, y)
    clocks = {"wall": time.perf_counter, "cpu": time.thread_time}
    samples: dict[str, dict[str, list[float]]] = {
        clock: {"plain": [], "probe": [], "ratio": []} for clock in clocks
    }
    for i in range(repeats):
        # Alternate which variant goes first so drift hits both equally.
        order = (("plain", _plain), ("probe", _probed))
        times: dict[str, dict[str, float]] = {clock: {} for clock in clocks}
        for variant, fn in order if i % 2 == 0 else order[::-1]:
            wall0, cpu0 = time.perf_counter(), time.thread_time()
            fn(model, x, y)
            cpu1, wall1 = time.thread_time(), time.perf_counter()
            times["wall"][variant] = wall1 - wall0
            times["cpu"][variant] = cpu1 - cpu0
        for clock, t in times.items():
            samples[clock]["plain"].append(t["plain"])
            samples[clock]["probe"].append(t["probe"])
            samples[clock]["ratio"].append(t["probe"] / t["plain"])
    return {
        clock: (
            statistics.median(s["plain"]),
            statistics.median(s["probe"]),
            statistics.median(s["ratio"]),
            *_quartiles(s["ratio"]),
        )
        for clock, s in samples.items()
    }


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _rss_child(name: str, variant: str) -> None:
    torch.set_num_threads(1)
    model, x, y = _case(name)
    fn = _plain if variant == "plain" else _probed
    fn(model, x, y)  # one-time allocations (oneDNN, allocator) belong to the baseline
    try:
        # Reset the peak (VmHWM) so it measures the passes, not importing torch (Linux only).
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        before = _status_kib("VmRSS")
        for _ in range(3):
            fn(model, x, y)
        peak = _status_kib("VmHWM")
    except OSError:
        before, peak = 0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_kib": peak, "base_kib": before}))


def peak_rss(name: str, variant: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", name, variant],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--models", nargs="+", choices=list(TARGETS), default=list(TARGETS))
    parser.add_argument(
        "--rss-child", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.rss_child:
        _rss_child(*args.rss_child)
        return
    if args.repeats < 2:
        parser.error("--repeats must be at least 2 (quartiles need two pairs)")
    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, 1 thread, {args.repeats} interleaved pairs, "
        f"load average {_load()}"
    )
    header = (
        f"{'model':20} {'clock':5} {'plain ms':>9} {'probe ms':>9} {'ratio':>6} "
        f"{'ratio q1-q3':>12} {'target':>6} {'peak plain MiB':>14} {'peak probe MiB':>14} "
        f"{'delta':>7}"
    )
    print(header)
    for name in args.models:
        target = TARGETS[name]
        timings = time_pairs(name, args.repeats)
        rss_plain, rss_probe = peak_rss(name, "plain"), peak_rss(name, "probe")
        delta = rss_probe["peak_kib"] / rss_plain["peak_kib"] - 1
        for clock, (plain, probed, ratio, q1, q3) in timings.items():
            rss = (
                f"{rss_plain['peak_kib'] / 1024:14.1f} {rss_probe['peak_kib'] / 1024:14.1f} "
                f"{delta:+7.1%}"
                if clock == "wall"
                else ""
            )
            print(
                f"{name:20} {clock:5} {plain * 1e3:9.1f} {probed * 1e3:9.1f} {ratio:5.2f}x "
                f"{q1:5.2f}-{q3:5.2f}x {_target(target)} {rss}".rstrip()
            )
    print(f"load average at the end {_load()}")


def _target(target: float | None) -> str:
    return "     -" if target is None else f"{target:5.2f}x"


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


if __name__ == "__main__":
    main()
