"""Assertion helpers: run the probe, fail with a diagnosis table and the catalog's remedies.

Every helper takes ``(model, inputs, target=None, loss_fn=None)``, optional ``bounds=Bounds(...)``
and bound keyword arguments (``max_dead_fraction=0.3``), ``full_output=True`` to give ``loss_fn``
the model's whole output, and returns the ``GradientReport``.
A NaN/Inf anywhere fails every helper, since no other measurement means anything then.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from pytest_gradcheck.bounds import Bounds, BoundsError
from pytest_gradcheck.checks import (
    DEAD_RELU,
    EXPLODING,
    NO_GRADIENT,
    NON_FINITE,
    SATURATION,
    VANISHING,
)
from pytest_gradcheck.report import GradientReport, Problem

__all__ = [
    "assert_gradients_healthy",
    "assert_grad_norms_within",
    "assert_no_vanishing_gradients",
    "assert_no_exploding_gradients",
    "assert_relu_alive",
    "assert_no_saturation",
    "assert_all_parameters_get_gradients",
    "assert_finite_gradients",
]


class Assertion(Protocol):
    """The signature every assertion helper shares."""

    __name__: str

    def __call__(
        self,
        model: Any,
        inputs: Any,
        target: Any = None,
        loss_fn: Any = None,
        *,
        bounds: Bounds | None = None,
        train: bool = True,
        seed: int | None = None,
        full_output: bool = False,
        **bound_kwargs: Any,
    ) -> GradientReport: ...


def _assertion(name: str, selected: Callable[[Problem], bool], doc: str) -> Assertion:
    """Build one helper: probe, then fail on the problems ``selected`` picks (and on NaN/Inf)."""

    def helper(
        model: Any,
        inputs: Any,
        target: Any = None,
        loss_fn: Any = None,
        *,
        bounds: Bounds | None = None,
        train: bool = True,
        seed: int | None = None,
        full_output: bool = False,
        **bound_kwargs: Any,
    ) -> GradientReport:
        __tracebackhide__ = True
        from pytest_gradcheck._probe import probe

        base = Bounds() if bounds is None else bounds
        if not isinstance(base, Bounds):
            raise BoundsError(f"{name}: bounds must be a Bounds, got {type(base).__name__}")
        merged = base.merged(bound_kwargs, source=name)
        report = probe(
            model,
            inputs,
            target,
            loss_fn,
            bounds=merged,
            train=train,
            seed=seed,
            full_output=full_output,
        )
        failing = [p for p in report.problems if p.code == NON_FINITE or selected(p)]
        if failing:
            raise AssertionError(report.format_failure(failing))
        return report

    helper.__name__ = helper.__qualname__ = name
    helper.__doc__ = doc
    return helper


assert_gradients_healthy = _assertion(
    "assert_gradients_healthy",
    lambda p: True,
    "Fail on any problem: vanishing/exploding gradients, NaN/Inf, dead ReLUs, saturation, "
    "parameters without gradients.",
)
assert_grad_norms_within = _assertion(
    "assert_grad_norms_within",
    lambda p: p.bound_name in ("max_grad_norm", "min_grad_norm"),
    "Fail when a layer's gradient norm is above ``max_grad_norm`` or its per-element RMS is "
    "below ``min_grad_norm``.",
)
assert_no_vanishing_gradients = _assertion(
    "assert_no_vanishing_gradients",
    lambda p: p.code == VANISHING,
    "Fail on ``min_vanishing_ratio`` (gradient scale along depth, within a layer role) or "
    "``min_grad_norm``.",
)
assert_no_exploding_gradients = _assertion(
    "assert_no_exploding_gradients",
    lambda p: p.code == EXPLODING,
    "Fail on ``max_grad_norm`` or ``max_exploding_ratio`` (gradient scale along depth, within a "
    "layer role).",
)
assert_relu_alive = _assertion(
    "assert_relu_alive",
    lambda p: p.code == DEAD_RELU,
    "Fail when an activation has more than ``max_dead_fraction`` dead ReLU units.",
)
assert_no_saturation = _assertion(
    "assert_no_saturation",
    lambda p: p.code == SATURATION,
    "Fail when a sigmoid/tanh has more than ``max_saturated_fraction`` saturated units.",
)
assert_all_parameters_get_gradients = _assertion(
    "assert_all_parameters_get_gradients",
    lambda p: p.code == NO_GRADIENT,
    "Fail when a parameter that requires grad gets no gradient or an exactly zero one.",
)
assert_finite_gradients = _assertion(
    "assert_finite_gradients",
    lambda p: False,
    "Fail when the output, the loss or a gradient holds NaN/Inf; names where it began.",
)
