"""Smoke test of benchmarks/short_run_speed.py: its plumbing runs on a tiny ResNet (no timing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import short_run_speed  # noqa: E402


def test_every_measurement_is_taken_once_per_repeat() -> None:
    samples = short_run_speed.measure(width=2, batch=2, repeats=1)

    assert list(samples) == [
        "plain training step",
        "short_run (defaults)",
        "dropout check",
        "zero-code check (--steps 5)",
    ]
    assert all(len(runs) == 1 and runs[0][0] > 0 for runs in samples.values())
