"""Assertion helpers: run the probe, fail with a diagnosis table and the catalog's remedies.

Every helper takes ``(model, inputs, target=None, loss_fn=None)``, optional ``bounds=Bounds(...)``
and bound keyword arguments (``max_dead_fraction=0.3``), and returns the ``GradientReport``.
A NaN/Inf anywhere fails every helper, since no other measurement means anything then.
"""

from __future__ import annotations

from typing import Any, Callable

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


def _run(
    helper: str,
    selected: Callable[[Problem], bool],
    model: Any,
    inputs: Any,
    target: Any,
    loss_fn: Any,
    bounds: Bounds | None,
    train: bool,
    seed: int | None,
    bound_kwargs: dict[str, Any],
) -> GradientReport:
    __tracebackhide__ = True
    from pytest_gradcheck._probe import probe

    base = Bounds() if bounds is None else bounds
    if not isinstance(base, Bounds):
        raise BoundsError(f"{helper}: bounds must be a Bounds, got {type(base).__name__}")
    merged = base.merged(bound_kwargs, source=helper)
    report = probe(model, inputs, target, loss_fn, bounds=merged, train=train, seed=seed)
    failing = [p for p in report.problems if p.code == NON_FINITE or selected(p)]
    if failing:
        raise AssertionError(report.format_failure(failing))
    return report


def assert_gradients_healthy(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    bounds: Bounds | None = None,
    train: bool = True,
    seed: int | None = None,
    **bound_kwargs: Any,
) -> GradientReport:
    """Fail on any problem: vanishing/exploding gradients, NaN/Inf, dead ReLUs, saturation,
    parameters without gradients."""
    __tracebackhide__ = True
    return _run(
        "assert_gradients_healthy",
        lambda p: True,
        model,
        inputs,
        target,
        loss_fn,
        bounds,
        train,
        seed,
        bound_kwargs,
    )


def assert_grad_norms_within(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    bounds: Bounds | None = None,
    train: bool = True,
    seed: int | None = None,
    **bound_kwargs: Any,
) -> GradientReport:
    """Fail when a layer's gradient norm is above ``max_grad_norm`` or its per-element RMS is
    below ``min_grad_norm``."""
    __tracebackhide__ = True
    return _run(
        "assert_grad_norms_within",
        lambda p: p.bound_name in ("max_grad_norm", "min_grad_norm"),
        model,
        inputs,
        target,
        loss_fn,
        bounds,
        train,
        seed,
        bound_kwargs,
    )


def assert_no_vanishing_gradients(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    bounds: Bounds | None = None,
    train: bool = True,
    seed: int | None = None,
    **bound_kwargs: Any,
) -> GradientReport:
    """Fail on ``min_vanishing_ratio`` (first/last layer gradient scale) or ``min_grad_norm``."""
    __tracebackhide__ = True
    return _run(
        "assert_no_vanishing_gradients",
        lambda p: p.code == VANISHING,
        model,
        inputs,
        target,
        loss_fn,
        bounds,
        train,
        seed,
        bound_kwargs,
    )


def assert_no_exploding_gradients(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    bounds: Bounds | None = None,
    train: bool = True,
    seed: int | None = None,
    **bound_kwargs: Any,
) -> GradientReport:
    """Fail on ``max_grad_norm`` or ``max_exploding_ratio`` (first/last layer gradient scale)."""
    __tracebackhide__ = True
    return _run(
        "assert_no_exploding_gradients",
        lambda p: p.code == EXPLODING,
        model,
        inputs,
        target,
        loss_fn,
        bounds,
        train,
        seed,
        bound_kwargs,
    )


def assert_relu_alive(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    bounds: Bounds | None = None,
    train: bool = True,
    seed: int | None = None,
    **bound_kwargs: Any,
) -> GradientReport:
    """Fail when an activation has more than ``max_dead_fraction`` dead ReLU units."""
    __tracebackhide__ = True
    return _run(
        "assert_relu_alive",
        lambda p: p.code == DEAD_RELU,
        model,
        inputs,
        target,
        loss_fn,
        bounds,
        train,
        seed,
        bound_kwargs,
    )


def assert_no_saturation(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    bounds: Bounds | None = None,
    train: bool = True,
    seed: int | None = None,
    **bound_kwargs: Any,
) -> GradientReport:
    """Fail when a sigmoid/tanh has more than ``max_saturated_fraction`` saturated units."""
    __tracebackhide__ = True
    return _run(
        "assert_no_saturation",
        lambda p: p.code == SATURATION,
        model,
        inputs,
        target,
        loss_fn,
        bounds,
        train,
        seed,
        bound_kwargs,
    )


def assert_all_parameters_get_gradients(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    bounds: Bounds | None = None,
    train: bool = True,
    seed: int | None = None,
    **bound_kwargs: Any,
) -> GradientReport:
    """Fail when a parameter that requires grad gets no gradient or an exactly zero one."""
    __tracebackhide__ = True
    return _run(
        "assert_all_parameters_get_gradients",
        lambda p: p.code == NO_GRADIENT,
        model,
        inputs,
        target,
        loss_fn,
        bounds,
        train,
        seed,
        bound_kwargs,
    )


def assert_finite_gradients(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    bounds: Bounds | None = None,
    train: bool = True,
    seed: int | None = None,
    **bound_kwargs: Any,
) -> GradientReport:
    """Fail when the output, the loss or a gradient holds NaN/Inf; names where it began."""
    __tracebackhide__ = True
    return _run(
        "assert_finite_gradients",
        lambda p: False,
        model,
        inputs,
        target,
        loss_fn,
        bounds,
        train,
        seed,
        bound_kwargs,
    )
