"""Assertion helpers: run the probe, fail with a diagnosis table and the catalog's remedies.

Every helper takes ``(model, inputs, target=None, loss_fn=None)``, optional ``bounds=Bounds(...)``
and bound keyword arguments (``max_dead_fraction=0.3``), ``full_output=True`` to give ``loss_fn``
the model's whole output, and returns the ``GradientReport``.
A NaN/Inf anywhere fails every helper, since no other measurement means anything then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

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

if TYPE_CHECKING:
    from pytest_gradcheck.dropout import DropoutReport
    from pytest_gradcheck.training import TrainingReport

__all__ = [
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

        merged = _merged_bounds(name, bounds, bound_kwargs)
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


# --- short runs and dropout: checks that train or run a deep copy of the model ---------------


def assert_training_healthy(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    optimizer: Any = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    steps: int | None = None,
    bounds: Bounds | None = None,
    seed: int | None = 0,
    **bound_kwargs: Any,
) -> TrainingReport:
    """Fail when a short run on a copy goes wrong: the loss does not go down, one update is
    too large or too small for its weights (``max_update_ratio``, ``min_update_ratio``), the
    updates kill ReLU units (``max_killed_fraction``), or NaN/Inf appears (with step and layer).

    ``optimizer``: a factory ``params -> optimizer``, an optimizer class with
    ``optimizer_kwargs``, or an optimizer instance (copied with its state); None is
    Adam(lr=0.001). ``steps`` defaults to 5. The model, the optimizer and torch's RNG are left
    untouched. Returns the ``TrainingReport``.
    """
    __tracebackhide__ = True
    from pytest_gradcheck.training import DEFAULT_STEPS, short_run

    merged = _merged_bounds("assert_training_healthy", bounds, bound_kwargs)
    report = short_run(
        model,
        inputs,
        target,
        loss_fn,
        optimizer=optimizer,
        optimizer_kwargs=optimizer_kwargs,
        steps=DEFAULT_STEPS if steps is None else steps,
        bounds=merged,
        seed=seed,
    )
    if not report.ok:
        raise AssertionError(report.format_failure())
    return report


def assert_can_overfit(
    model: Any,
    inputs: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    optimizer: Any = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    target_loss: float | None = None,
    max_steps: int | None = None,
    seed: int | None = 0,
) -> TrainingReport:
    """Fail when a copy of the model cannot fit this one batch down to ``target_loss`` (default:
    a tenth of the first loss) within ``max_steps`` (default 100) steps; the message shows the
    loss curve and the parameters that never moved (frozen, or cut off by a detached path).
    """
    __tracebackhide__ = True
    from pytest_gradcheck.training import DEFAULT_OVERFIT_STEPS, overfit

    report = overfit(
        model,
        inputs,
        target,
        loss_fn,
        optimizer=optimizer,
        optimizer_kwargs=optimizer_kwargs,
        target_loss=target_loss,
        max_steps=DEFAULT_OVERFIT_STEPS if max_steps is None else max_steps,
        seed=seed,
    )
    if not report.ok:
        raise AssertionError(report.format_failure())
    return report


def assert_dropout_healthy(model: Any, inputs: Any, *, seed: int | None = 0) -> DropoutReport:
    """Fail when a dropout (module or functional) has rate 0 or 1, drops far from the rate it
    claims in train mode, or stays on in eval mode (two eval forwards must agree)."""
    __tracebackhide__ = True
    from pytest_gradcheck.dropout import check_dropout

    report = check_dropout(model, inputs, seed=seed)
    if not report.ok:
        raise AssertionError(report.format_failure())
    return report


def _merged_bounds(name: str, bounds: Bounds | None, bound_kwargs: dict[str, Any]) -> Bounds:
    base = Bounds() if bounds is None else bounds
    if not isinstance(base, Bounds):
        raise BoundsError(f"{name}: bounds must be a Bounds, got {type(base).__name__}")
    return base.merged(bound_kwargs, source=name)
