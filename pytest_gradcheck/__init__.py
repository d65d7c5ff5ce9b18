"""pytest-gradcheck: assert that one short forward/backward pass of a model has healthy gradients.

Importing this package does not import torch; the probe and assertion helpers load it on first use.
"""

from __future__ import annotations

from typing import Any

from pytest_gradcheck.bounds import Bounds, BoundsError

_ASSERTIONS = (
    "assert_gradients_healthy",
    "assert_grad_norms_within",
    "assert_no_vanishing_gradients",
    "assert_no_exploding_gradients",
    "assert_relu_alive",
    "assert_no_saturation",
    "assert_all_parameters_get_gradients",
    "assert_finite_gradients",
    "assert_training_healthy",
    "assert_can_overfit",
    "assert_dropout_healthy",
)

__all__ = [
    "Bounds",
    "BoundsError",
    "DropoutReport",
    "GradcheckUsageError",
    "GradientReport",
    "Problem",
    "TrainingReport",
    "check_dropout",
    "overfit",
    "probe",
    "short_run",
    *_ASSERTIONS,
]

_LAZY = {
    "probe": "pytest_gradcheck._probe",
    "GradcheckUsageError": "pytest_gradcheck._probe",
    "GradientReport": "pytest_gradcheck.report",
    "Problem": "pytest_gradcheck.report",
    "short_run": "pytest_gradcheck.training",
    "overfit": "pytest_gradcheck.training",
    "TrainingReport": "pytest_gradcheck.training",
    "check_dropout": "pytest_gradcheck.dropout",
    "DropoutReport": "pytest_gradcheck.dropout",
    **{name: "pytest_gradcheck.assertions" for name in _ASSERTIONS},
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_gradcheck' has no attribute {name!r}")
    import importlib

    try:
        implementation = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        raise ImportError(
            f"pytest_gradcheck.{name} needs torch, which is not installed; install it, e.g. "
            "`pip install 'nnlint[gradcheck]'` (or torch itself)"
        ) from error
    value = getattr(implementation, name)
    globals()[name] = value
    return value
