"""pytest-gradcheck: assert that one short forward/backward pass of a model has healthy gradients.

Importing this package does not import torch; the probe and assertion helpers load it on first use.
"""

from __future__ import annotations

from typing import Any

from pytest_gradcheck.bounds import Bounds, BoundsError

__all__ = [
    "Bounds",
    "BoundsError",
    "GradientReport",
    "probe",
    "assert_gradients_healthy",
]

_LAZY = {
    "probe": "pytest_gradcheck.probe",
    "GradientReport": "pytest_gradcheck.report",
    "assert_gradients_healthy": "pytest_gradcheck.assertions",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_gradcheck' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
