"""Cost of the gradient probe against a plain forward+backward (1 thread, paired and interleaved).

Usage: python benchmarks/probe_overhead.py [--repeats 15]
Targets (issue 3): <= 1.25x on the ResNet-18 at batch 8, <= 1.5x on a 20-layer MLP, peak RSS +10%.
Peak RSS: a fresh subprocess per variant; the peak is reset after import and one warm-up pass.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from torch.nn import functional as F

from pytest_gradcheck import probe
from pytest_gradcheck._zoo import build

TARGETS = {"resnet18": 1.25, "relu_mlp20_kaiming": 1.5}


def _case(name: str):
    case = build(name, small=False)
    return case.model, case.inputs, case.target


def _plain(model, x, y) -> None:
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def _probed(model, x, y) -> None:
    probe(model, x, y)


def time_pairs(name: str, repeats: int) -> tuple[float, float, float]:
    model, x, y = _case(name)
    model.train()
    for _ in range(2):  # warm-up: allocator, oneDNN primitives
        _plain(model, x, y)
        _probed(model, x, y)
    plain, probed, ratios = [], [], []
    for i in range(repeats):
        # Alternate which variant goes first so drift hits both equally.
        order = (_plain, _probed) if i % 2 == 0 else (_probed, _plain)
        times = {}
        for fn in order:
            t0 = time.perf_counter()
            fn(model, x, y)
            times[fn] = time.perf_counter() - t0
        plain.append(times[_plain])
        probed.append(times[_probed])
        ratios.append(times[_probed] / times[_plain])
    return statistics.median(plain), statistics.median(probed), statistics.median(ratios)


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
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--rss-child", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.rss_child:
        _rss_child(*args.rss_child)
        return
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {args.repeats} interleaved pairs")
    header = (
        f"{'model':20} {'plain ms':>9} {'probe ms':>9} {'ratio':>6} {'target':>6} "
        f"{'peak plain MiB':>14} {'peak probe MiB':>14} {'delta':>7}"
    )
    print(header)
    for name, target in TARGETS.items():
        plain, probed, ratio = time_pairs(name, args.repeats)
        rss_plain, rss_probe = peak_rss(name, "plain"), peak_rss(name, "probe")
        delta = rss_probe["peak_kib"] / rss_plain["peak_kib"] - 1
        print(
            f"{name:20} {plain * 1e3:9.1f} {probed * 1e3:9.1f} {ratio:5.2f}x {target:5.2f}x "
            f"{rss_plain['peak_kib'] / 1024:14.1f} {rss_probe['peak_kib'] / 1024:14.1f} "
            f"{delta:+7.1%}"
        )


if __name__ == "__main__":
    main()
