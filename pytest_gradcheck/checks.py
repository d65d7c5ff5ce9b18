"""Turn a probe's measurements into findings: bounds in, ``Problem``s named after the catalog out.

Pure Python (no torch): every number was already brought to the host by the probe. The mapping
from a measured value to the bound that limits it lives here once (``measurements``): the checks,
the assertion messages and the plugin's terminal summary all read it.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
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

#: Root causes first, their consequences after: a NaN makes every other number meaningless; dead
#: or saturated units starve the layers below them of gradient (vanishing, zero gradients).
CHECK_ORDER = (NON_FINITE, DEAD_RELU, SATURATION, EXPLODING, VANISHING, NO_GRADIENT)

#: A layer whose weight gain is this many times the median of the others is named the culprit
#: of exploding gradients (a 1000x too-large layer stands out; healthy models stay within ~4x).
CULPRIT_GAIN_FACTOR = 20.0

#: A median weight gain (RMS x sqrt(fan_in)) above this is a too-large initialization everywhere.
LARGE_GAIN = 3.0

_RECURRENT_TYPES = ("LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell")


def is_ignored(name: str, ignore: Iterable[str]) -> bool:
    """Whether a module path or activation site (``block.0/relu#2``) matches an ignore glob."""
    # An activation site is also ignored through the module it runs in.
    module = name.split("/", 1)[0].split("#", 1)[0]
    return any(fnmatchcase(name, g) or fnmatchcase(module, g) for g in ignore)


# --- comparing like with like along depth ---------------------------------------------------------


def layer_role(layer: LayerStats) -> str:
    """The layer's role: its type and its path with every number replaced by ``#``.

    ``encoder.layer.0.attention.self.query`` and ``encoder.layer.5.attention.self.query`` play one
    role at two depths; ``conv1`` and ``conv2`` of one block, or ``0`` and ``38`` of a Sequential
    stack, too. Gradients are compared within a role, never across roles: a query projection's
    small gradient at initialisation (near-uniform attention) is its nature, not a sign of depth.
    """
    return f"{layer.type}:{re.sub(r'[0-9]+', '#', layer.name)}"


@dataclass(frozen=True)
class DepthRatio:
    """Gradient RMS of the first member of a role over that of its last (forward order)."""

    ratio: float
    first: str
    last: str
    growth: float
    """The change per weight layer going back toward the input: ``ratio ** (1 / layers apart)``."""
    role: str | None
    """The role compared, or None when no role repeats and the first/last weight layers are used."""


def depth_ratio(layers: list[LayerStats], ignore: Iterable[str] = ()) -> DepthRatio | None:
    """The most extreme first/last gradient-RMS ratio over the roles that repeat along depth.

    Layers are taken in forward order; layers without a (finite, non-zero) gradient are left out
    (they are reported as no-gradient or non-finite). When no role has two members, the first and
    last weight layers of the model are compared, whatever their roles.
    """
    ignore = tuple(ignore)
    scales = [
        layer
        for layer in layers
        if layer.is_weight_layer
        and layer.called
        and layer.grad_rms is not None
        and math.isfinite(layer.grad_rms)
        and layer.grad_rms > 0
        and not is_ignored(layer.name, ignore)
    ]
    if len(scales) < 2:
        return None
    position = {layer.name: i for i, layer in enumerate(scales)}
    roles: dict[str, list[LayerStats]] = {}
    for layer in scales:
        roles.setdefault(layer_role(layer), []).append(layer)
    pairs = [(role, members[0], members[-1]) for role, members in roles.items() if len(members) > 1]
    if not pairs:
        pairs = [(None, scales[0], scales[-1])]
    best: DepthRatio | None = None
    for role, first, last in pairs:
        ratio = first.grad_rms / last.grad_rms  # type: ignore[operator]
        apart = position[last.name] - position[first.name]
        found = DepthRatio(ratio, first.name, last.name, ratio ** (1 / apart), role)
        # Most extreme in decades, either side: one number serves both bounds.
        if best is None or abs(math.log10(ratio)) > abs(math.log10(best.ratio)):
            best = found
    return best


# --- every measured value next to the bound that limits it ----------------------------------------


@dataclass(frozen=True)
class Measurement:
    """One measured value and the bound it is checked against."""

    bound_name: str
    value: float
    where: str
    """Module path, activation site (with its kind) or ``first / last`` for the depth ratio."""


#: The bounds a probe measures (``measurements``); the others are for short training runs.
PROBE_BOUNDS = (
    "max_grad_norm",
    "min_grad_norm",
    "min_vanishing_ratio",
    "max_exploding_ratio",
    "max_dead_fraction",
    "max_saturated_fraction",
)


def measurements(report: GradientReport, bounds: Bounds) -> list[Measurement]:
    """Every value a bound limits, leaving out what ``bounds.ignore`` matches.

    With NaN/Inf anywhere the gradient scales mean nothing, so only activations are measured then.
    """
    found: list[Measurement] = []
    ignore = bounds.ignore
    if report.nonfinite is None:
        pair = report.vanishing_pair
        if report.vanishing_ratio is not None and pair is not None:
            span = f"{pair[0]} / {pair[1]}"
            # One first/last ratio, two bounds: too small is vanishing, too large is exploding.
            # It comes first: it says what the per-layer values below it add up to.
            found.append(Measurement("min_vanishing_ratio", report.vanishing_ratio, span))
            found.append(Measurement("max_exploding_ratio", report.vanishing_ratio, span))
        for layer in report.layers:
            if is_ignored(layer.name, ignore):
                continue
            name = layer.name or "<model>"
            if layer.grad_norm is not None and math.isfinite(layer.grad_norm):
                found.append(Measurement("max_grad_norm", layer.grad_norm, name))
            # min_grad_norm is about weight layers: norm scales and biases are smaller by nature.
            if layer.is_weight_layer and layer.grad_rms is not None and layer.grad_rms > 0:
                found.append(Measurement("min_grad_norm", layer.grad_rms, name))
    for act in report.activations:
        if is_ignored(act.name, ignore):
            continue
        where = f"{act.name} ({act.kind})"
        if act.dead_fraction is not None:
            found.append(Measurement("max_dead_fraction", act.dead_fraction, where))
        if act.saturated_fraction is not None:
            found.append(Measurement("max_saturated_fraction", act.saturated_fraction, where))
    return found


def margin(bound_name: str, value: float, bound: float) -> float:
    """How far inside its bound a value is, in decades (negative: outside, the bound broken)."""
    upper = bound_name.startswith("max_")
    if value > 0 and bound > 0:
        return math.log10(bound / value) if upper else math.log10(value / bound)
    if value == bound:
        return 0.0
    inside = value < bound if upper else value > bound
    return math.inf if inside else -math.inf


def breaks(bound_name: str, value: float, bound: float) -> bool:
    """Whether ``value`` is outside ``bound`` (``max_*``: above it; ``min_*``: below it)."""
    return value > bound if bound_name.startswith("max_") else value < bound


def closest_to_bounds(report: GradientReport, bounds: Bounds) -> dict[str, Measurement]:
    """Per bound, the measured value that came closest to it (or went furthest past it)."""
    closest: dict[str, Measurement] = {}
    for m in measurements(report, bounds):
        current = closest.get(m.bound_name)
        bound = getattr(bounds, m.bound_name)
        if current is None or margin(m.bound_name, m.value, bound) < margin(
            current.bound_name, current.value, bound
        ):
            closest[m.bound_name] = m
    return closest


# --- findings ------------------------------------------------------------------------------------


def find_problems(report: GradientReport, bounds: Bounds) -> list[Problem]:
    """All findings of ``report`` under ``bounds``: root causes first (``CHECK_ORDER``), then each
    check's findings in forward order."""
    layers = [layer for layer in report.layers if not is_ignored(layer.name, bounds.ignore)]
    remedies = _Remedies(report)
    problems: list[Problem] = []
    if report.nonfinite is not None:
        site = report.nonfinite
        problems.append(
            _problem(
                NON_FINITE,
                site.module or "<model>",
                None,
                None,
                None,
                site.detail,
                reason="non-finite",
            )
        )
    by_site = {act.name: act for act in report.activations}
    for m in measurements(report, bounds):
        bound = getattr(bounds, m.bound_name)
        if not breaks(m.bound_name, m.value, bound):
            continue
        if m.bound_name in ("max_dead_fraction", "max_saturated_fraction"):
            site = m.where.rsplit(" (", 1)[0]
            problems.append(_activation_problem(by_site[site], m, bound, remedies))
        else:
            problems.append(_gradient_problem(report, layers, m, bound, remedies))
    problems += _no_gradient_problems(report, layers, remedies)
    # Stable: within a check, measurements and layers are already in forward order.
    problems.sort(key=lambda p: CHECK_ORDER.index(p.code))
    return problems


def _activation_problem(
    act: ActivationStats, m: Measurement, bound: float, remedies: _Remedies
) -> Problem:
    if m.bound_name == "max_dead_fraction":
        units = "channels" if act.unit_kind == "channel" else f"{act.kind} units"
        return _problem(
            DEAD_RELU,
            act.name,
            m.value,
            bound,
            m.bound_name,
            f"{m.value:.0%} of {act.units} {units} are 0 for every example of the batch",
            reason="fraction of units 0 for the whole batch",
            remedy=remedies.dead_relu(),
        )
    return _problem(
        SATURATION,
        act.name,
        m.value,
        bound,
        m.bound_name,
        f"{m.value:.0%} of the {act.kind} outputs ({act.units} {act.unit_kind}s wide) sit "
        f"within 1% of a limit",
        reason=f"fraction of {act.kind} outputs at a limit",
        remedy=remedies.saturation(act),
    )


def _gradient_problem(
    report: GradientReport,
    layers: list[LayerStats],
    m: Measurement,
    bound: float,
    remedies: _Remedies,
) -> Problem:
    if m.bound_name == "max_grad_norm":
        layer = next(layer for layer in layers if (layer.name or "<model>") == m.where)
        recurrent = layer.type in _RECURRENT_TYPES
        return _problem(
            EXPLODING,
            m.where,
            m.value,
            bound,
            m.bound_name,
            f"gradient norm {_g(m.value)}"
            + (" (a recurrent layer: it grows over time steps, not layers)" if recurrent else ""),
            reason="gradient norm",
            note=_culprit(layers),
            remedy=remedies.exploding(),
        )
    if m.bound_name == "min_grad_norm":
        return _problem(
            VANISHING,
            m.where,
            m.value,
            bound,
            m.bound_name,
            f"gradient RMS {_g(m.value)} per element",
            reason="gradient RMS per element",
            remedy=remedies.vanishing(),
        )
    first, last = (report.vanishing_pair or ("<model>", "<model>"))[:2]
    compared = "same role, deeper" if report.depth_role else "the first and last weight layers"
    first_layer = next((layer for layer in layers if layer.name == first), None)
    if first_layer is not None and first_layer.type in _RECURRENT_TYPES:
        # The product that explodes or vanishes is over time steps inside the layer.
        trend = f"the gradient is a product over the time steps of {first}, not over layers"
    else:
        per_layer = _g(report.growth_per_layer)
        trend = f"gradients change {per_layer}x per weight layer toward the input"
    exploding = m.bound_name == "max_exploding_ratio"
    return _problem(
        EXPLODING if exploding else VANISHING,
        first,
        m.value,
        bound,
        m.bound_name,
        f"gradient RMS of {first} is {_g(m.value)}{'x' if exploding else ' of'} that of {last} "
        f"({compared}); {trend}",
        reason="gradient RMS ratio along depth",
        note=_culprit(layers) if exploding else "",
        remedy=remedies.exploding() if exploding else remedies.vanishing(),
    )


def _no_gradient_problems(
    report: GradientReport, layers: list[LayerStats], remedies: _Remedies
) -> list[Problem]:
    problems = []
    dead = _fully_dead_sites(report)
    missing = [layer for layer in layers if layer.no_grad]
    hint = _ignore_hint([layer.name for layer in missing], report.layers)
    for layer in missing:
        called = layer.called
        problems.append(
            _problem(
                NO_GRADIENT,
                layer.name or "<model>",
                None,
                None,
                None,
                f"{_plural(layer.no_grad)} require grad but got no gradient"
                + ("" if called else " (the module was never called in forward)"),
                reason="no gradient" if called else "no gradient: never called in forward",
                note=hint,
                remedy=remedies.no_gradient(called=called),
            )
        )
    if report.nonfinite is None:
        for layer in layers:
            if not layer.zero_grad:
                continue
            cause = f"the units of {', '.join(dead[:3])} are dead" if dead else ""
            problems.append(
                _problem(
                    NO_GRADIENT,
                    layer.name or "<model>",
                    0.0,
                    None,
                    None,
                    f"{_plural(layer.zero_grad)} got an exactly zero gradient",
                    reason="exactly zero gradient",
                    note=f"likely cause: {cause}" if cause else "",
                    remedy=remedies.blocked_by_dead_units()
                    if dead
                    else remedies.no_gradient(called=True),
                )
            )
    return problems


def _fully_dead_sites(report: GradientReport) -> list[str]:
    # Counted whatever the bounds say: even when dead units are tolerated (or ignored), they are
    # what blocks the gradient of the layers before them.
    return [act.name for act in report.activations if act.dead_fraction == 1.0]


def _ignore_hint(missing: list[str], layers: list[LayerStats]) -> str:
    """``ignore=`` for a whole subtree that gets no gradient (a frozen part, a GAN step)."""
    if not missing or any(not name for name in missing):
        return ""
    tops = {name.split(".", 1)[0] for name in missing}
    if len(tops) != 1:
        return ""
    (top,) = tops
    subtree = [layer.name for layer in layers if layer.name.split(".", 1)[0] == top]
    if sorted(subtree) != sorted(missing) or len(subtree) == len(layers):
        return ""
    glob = [top] if subtree == [top] else [f"{top}.*"]
    if top in subtree and glob != [top]:
        glob.insert(0, top)
    return (
        f"the whole of {top} gets no gradient: if that is deliberate (frozen or detached on "
        f"purpose, e.g. a GAN step), pass ignore={glob!r}"
    )


def _culprit(layers: list[LayerStats]) -> str:
    """The layer whose weights are far larger than the others' (the usual exploding culprit)."""
    gains = [(layer.weight_gain, layer) for layer in layers if layer.weight_gain]
    if len(gains) < 3:
        return ""
    gain, worst = max(gains, key=lambda pair: pair[0])
    median = statistics.median(g for g, layer in gains if layer is not worst)
    if median > 0 and gain > CULPRIT_GAIN_FACTOR * median:
        return (
            f"culprit: {worst.name or '<model>'} ({worst.type}), whose weight gain "
            f"{_g(gain)} is {_g(gain / median)}x the median of the other layers"
        )
    overall = statistics.median(g for g, _ in gains)
    if overall > LARGE_GAIN:
        return (
            f"the weights are large everywhere: median weight gain {_g(overall)} "
            f"(PyTorch's default init gives about 0.6, Kaiming about 1.4)"
        )
    return ""


class _Remedies:
    """The catalog's remedies, narrowed to what fits this model (no "add normalization" to a
    model that has it, no "use ReLU" to a model without sigmoid/tanh)."""

    def __init__(self, report: GradientReport) -> None:
        self.has_norm = any("Norm" in layer.type for layer in report.layers)
        self.recurrent = any(layer.type in _RECURRENT_TYPES for layer in report.layers)
        self.squashing = any(
            act.kind in ("sigmoid", "tanh") and act.unit_kind == "unit"
            for act in report.activations
        )

    def vanishing(self) -> str:
        parts = []
        if self.squashing:
            parts.append("use ReLU-family activations in hidden layers")
        if not self.has_norm:
            parts.append("add normalization (BatchNorm/LayerNorm) or residual connections")
        parts.append(catalog.get(VANISHING).remedies[1])
        return "; ".join(parts)

    def exploding(self) -> str:
        if self.recurrent:
            return (
                "clip gradients (torch.nn.utils.clip_grad_norm_) and initialize recurrent "
                "weights orthogonally (spectral radius <= 1)"
            )
        parts = [catalog.get(EXPLODING).remedies[1]]
        if not self.has_norm:
            parts.append("add normalization (BatchNorm/LayerNorm)")
        parts.append("clip gradients (torch.nn.utils.clip_grad_norm_)")
        return "; ".join(parts)

    def dead_relu(self) -> str:
        return catalog.get(DEAD_RELU).remedy

    def blocked_by_dead_units(self) -> str:
        return "revive the dead units (see dead-relu): no gradient passes them to the layers before"

    def saturation(self, act: ActivationStats) -> str:
        if act.unit_kind in ("gate", "cell"):
            return (
                "normalize or rescale the inputs of the recurrent layer (its gate "
                "pre-activations are huge), or use a smaller initialization"
            )
        return catalog.get(SATURATION).remedy

    def no_gradient(self, *, called: bool) -> str:
        if called:
            return (
                "remove `.detach()`/`.data`/`torch.no_grad()` on the path to the loss, or set "
                "`requires_grad=False` (or `ignore=`) for parameters frozen on purpose"
            )
        return catalog.get(NO_GRADIENT).remedy


def _problem(
    code: str,
    module: str,
    value: float | None,
    bound: float | None,
    bound_name: str | None,
    message: str,
    *,
    reason: str = "",
    note: str = "",
    remedy: str | None = None,
) -> Problem:
    """A finding of ``code``, with the catalog's title and (unless given) its remedy."""
    mode = catalog.get(code)
    return Problem(
        code=code,
        title=mode.title,
        module=module,
        value=value,
        bound=bound,
        bound_name=bound_name,
        message=message,
        remedy=remedy or mode.remedy,
        reason=reason,
        note=note,
    )


def _plural(names: list[str]) -> str:
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f"parameter{'s' if len(names) > 1 else ''} {shown}"


def _g(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}"
