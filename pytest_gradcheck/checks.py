"""Turn a probe's measurements into findings: bounds in, ``Problem``s named after the catalog out.

Pure Python (no torch): every number was already brought to the host by the probe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fnmatch import fnmatchcase

from nnlint import catalog
from pytest_gradcheck.bounds import Bounds
from pytest_gradcheck.report import ActivationStats, GradientReport, LayerStats, Problem

VANISHING = "vanishing-gradients"
EXPLODING = "exploding-gradients"
NON_FINITE = "non-finite"
DEAD_RELU = "dead-relu"
SATURATION = "saturation"
NO_GRADIENT = "no-gradient"


def is_ignored(name: str, ignore: Iterable[str]) -> bool:
    """Whether a module path or activation site (``block.0/relu#2``) matches an ignore glob."""
    # An activation site is also ignored through the module it runs in.
    module = name.split("/", 1)[0].split("#", 1)[0]
    return any(fnmatchcase(name, g) or fnmatchcase(module, g) for g in ignore)


def vanishing_ratio(
    layers: list[LayerStats], ignore: Iterable[str] = ()
) -> tuple[float | None, tuple[str, str] | None, float | None]:
    """First/last weight-layer gradient RMS ratio, the pair compared, and the growth per layer.

    Layers are taken in forward order; layers without a (finite, non-zero) gradient are left out,
    they are reported as no-gradient or non-finite instead.
    """
    ignore = tuple(ignore)
    scales = [
        (layer.name, layer.grad_rms)
        for layer in layers
        if layer.is_weight_layer
        and layer.called
        and layer.grad_rms is not None
        and math.isfinite(layer.grad_rms)
        and layer.grad_rms > 0
        and not is_ignored(layer.name, ignore)
    ]
    if len(scales) < 2:
        return None, None, None
    (first, first_rms), (last, last_rms) = scales[0], scales[-1]
    ratio = first_rms / last_rms
    # Least-squares slope of log10(rms) over depth: robust to one odd layer, unlike first/last.
    n = len(scales)
    xs = range(n)
    ys = [math.log10(rms) for _, rms in scales]
    x_mean = (n - 1) / 2
    y_mean = sum(ys) / n
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys)) / sum(
        (x - x_mean) ** 2 for x in xs
    )
    # Going back toward the input is going down the index, so the per-layer factor is 10**-slope.
    growth = 10 ** (-slope)
    return ratio, (first, last), growth


def find_problems(report: GradientReport, bounds: Bounds) -> list[Problem]:
    """All findings of ``report`` under ``bounds``, ordered by check, then forward order."""
    problems: list[Problem] = []
    ignore = bounds.ignore
    layers = [layer for layer in report.layers if not is_ignored(layer.name, ignore)]

    if report.nonfinite is not None:
        site = report.nonfinite
        problems.append(
            _problem(NON_FINITE, site.module or "<model>", None, None, None, site.detail)
        )

    for layer in layers:
        if layer.no_grad:
            problems.append(
                _problem(
                    NO_GRADIENT,
                    layer.name or "<model>",
                    None,
                    None,
                    None,
                    f"{_plural(layer.no_grad)} require grad but got no gradient"
                    + ("" if layer.called else " (the module was never called in forward)"),
                )
            )
        if layer.zero_grad and report.nonfinite is None:
            problems.append(
                _problem(
                    NO_GRADIENT,
                    layer.name or "<model>",
                    0.0,
                    None,
                    None,
                    f"{_plural(layer.zero_grad)} got an exactly zero gradient",
                )
            )

    # With NaN/Inf anywhere the gradient scales are meaningless; the non-finite finding says it all.
    if report.nonfinite is None:
        for layer in layers:
            if layer.grad_norm is not None and layer.grad_norm > bounds.max_grad_norm:
                problems.append(
                    _problem(
                        EXPLODING,
                        layer.name or "<model>",
                        layer.grad_norm,
                        bounds.max_grad_norm,
                        "max_grad_norm",
                        f"gradient norm {_g(layer.grad_norm)} is above max_grad_norm "
                        f"{_g(bounds.max_grad_norm)}",
                    )
                )
        ratio, pair = report.vanishing_ratio, report.vanishing_pair
        if ratio is not None and pair is not None:
            first, last = pair
            if ratio > bounds.max_exploding_ratio:
                problems.append(
                    _problem(
                        EXPLODING,
                        first,
                        ratio,
                        bounds.max_exploding_ratio,
                        "max_exploding_ratio",
                        f"gradient RMS of the first weight layer is {_g(ratio)}x that of the last "
                        f"({last}); gradients grow {_g(report.growth_per_layer)}x per layer "
                        f"toward the input",
                    )
                )
            if ratio < bounds.min_vanishing_ratio:
                problems.append(
                    _problem(
                        VANISHING,
                        first,
                        ratio,
                        bounds.min_vanishing_ratio,
                        "min_vanishing_ratio",
                        f"gradient RMS of the first weight layer is {_g(ratio)} of that of the "
                        f"last ({last}); gradients shrink to {_g(report.growth_per_layer)}x "
                        f"per layer toward the input",
                    )
                )
        for layer in layers:
            rms = layer.grad_rms
            if layer.is_weight_layer and rms is not None and 0 < rms < bounds.min_grad_norm:
                problems.append(
                    _problem(
                        VANISHING,
                        layer.name or "<model>",
                        rms,
                        bounds.min_grad_norm,
                        "min_grad_norm",
                        f"gradient RMS {_g(rms)} per element is below min_grad_norm "
                        f"{_g(bounds.min_grad_norm)}",
                    )
                )

    for act in report.activations:
        if is_ignored(act.name, ignore):
            continue
        problems.extend(_activation_problems(act, bounds))
    return problems


def _activation_problems(act: ActivationStats, bounds: Bounds) -> list[Problem]:
    found = []
    if act.dead_fraction is not None and act.dead_fraction > bounds.max_dead_fraction:
        found.append(
            _problem(
                DEAD_RELU,
                act.name,
                act.dead_fraction,
                bounds.max_dead_fraction,
                "max_dead_fraction",
                f"{act.dead_fraction:.0%} of {act.units} {act.kind} units are 0 for every "
                f"example of the batch",
            )
        )
    if (
        act.saturated_fraction is not None
        and act.saturated_fraction > bounds.max_saturated_fraction
    ):
        found.append(
            _problem(
                SATURATION,
                act.name,
                act.saturated_fraction,
                bounds.max_saturated_fraction,
                "max_saturated_fraction",
                f"{act.saturated_fraction:.0%} of {act.units} {act.kind} units sit at a limit for "
                f"every example of the batch",
            )
        )
    return found


def _problem(
    code: str,
    module: str,
    value: float | None,
    bound: float | None,
    bound_name: str | None,
    message: str,
) -> Problem:
    mode = catalog.get(code)
    return Problem(
        code=code,
        title=mode.title,
        module=module,
        value=value,
        bound=bound,
        bound_name=bound_name,
        message=message,
        remedy=mode.remedy,
    )


def _plural(names: list[str]) -> str:
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f"parameter{'s' if len(names) > 1 else ''} {shown}"


def _g(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}"
