"""What installing pytest-gradcheck costs a test suite that never uses it (target: <= 50 ms).

Measures, in fresh interpreters, paired and interleaved, and prints medians:
  1. ``python -X importtime``: the cumulative import time of ``pytest_gradcheck.plugin`` (pytest
     itself already imported, as it is when pytest loads the plugin);
  2. ``pytest --version`` with the plugin vs ``-p no:gradcheck``;
  3. a trivial two-test suite with the plugin vs ``-p no:gradcheck`` (the suite also asserts that
     torch was never imported).

Usage: python benchmarks/plugin_startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRIVIAL_SUITE = """
import sys


def test_arithmetic():
    assert 1 + 1 == 2


def test_torch_never_imported():
    assert "torch" not in sys.modules
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Installed packages have cached bytecode; measure that, not recompiling on every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTEST_ADDOPTS", None)
    return env


def plugin_import_us(env: dict[str, str]) -> int:
    """Cumulative microseconds of ``import pytest_gradcheck.plugin`` after ``import pytest``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest; import pytest_gradcheck.plugin"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    for line in out.stderr.splitlines():
        if line.rstrip().endswith("| pytest_gradcheck.plugin"):
            return int(line.split("|")[1])
    raise RuntimeError(f"no importtime line for pytest_gradcheck.plugin:\n{out.stderr[-2000:]}")


def wall_s(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def paired(label: str, args: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    with_plugin: list[float] = []
    without: list[float] = []
    for i in range(runs):
        # Interleave, alternating which goes first, so drift and caches hit both sides alike.
        order = [(with_plugin, args), (without, [*args, "-p", "no:gradcheck"])]
        if i % 2:
            order.reverse()
        for samples, run_args in order:
            samples.append(wall_s(run_args, cwd, env))
    diffs = [a - b for a, b in zip(with_plugin, without)]
    added = statistics.median(diffs) * 1000
    print(
        f"{label}: with plugin {statistics.median(with_plugin) * 1000:.1f} ms, "
        f"-p no:gradcheck {statistics.median(without) * 1000:.1f} ms, "
        f"added (median of paired differences) {added:+.1f} ms  [{runs} pairs]"
    )
    return added


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="pairs per measurement")
    args = parser.parse_args()
    env = _env()
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp)
        (suite / "test_trivial.py").write_text(TRIVIAL_SUITE)
        # Warm-up: write bytecode caches and page in the interpreter, then measure.
        wall_s(["-q", "-p", "no:cacheprovider"], suite, env)
        plugin_import_us(env)

        imports = [plugin_import_us(env) for _ in range(args.runs)]
        print(
            f"import pytest_gradcheck.plugin (after pytest): median "
            f"{statistics.median(imports)} us, min {min(imports)} us  [{args.runs} runs]"
        )
        paired("pytest --version", ["--version"], suite, env, args.runs)
        added = paired(
            "trivial suite (2 tests)", ["-q", "-p", "no:cacheprovider"], suite, env, args.runs
        )
    print(f"target: <= 50 ms added; {'met' if added <= 50 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
