"""What one gradient probe measured: per-layer and per-activation numbers, findings, and renderings.

Pure data (no torch import): the probe fills it in, the checks add ``problems``, the plugin and the
assertion helpers render it as a table or as JSON.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_gradcheck.bounds import Bounds


@dataclass(frozen=True)
class Problem:
    """One finding of a check, named after a failure mode of the shared ``nnlint.catalog``."""

    code: str
    """Failure-mode id from ``nnlint.catalog`` (``vanishing-gradients``, ``dead-relu``, ...)."""
    title: str
    module: str
    """Module path (``layer1.0.conv1``), an activation site (``blocks.0/relu``) or ``<model>``."""
    value: float | None
    bound: float | None
    bound_name: str | None
    message: str
    remedy: str
    reason: str = ""
    """The finding without its numbers (``exactly zero gradient``): consecutive findings with the
    same check and reason are shown as one line."""
    note: str = ""
    """What the finding points at beyond itself: the likely culprit or cause, an ignore= hint."""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["value"] = _json_float(self.value)
        return data


@dataclass
class LayerStats:
    """Gradient numbers of one parameterised module (its own parameters, not its children's)."""

    name: str
    type: str
    params: list[str]
    numel: int
    grad_norm: float | None
    """L2 norm of the gradients of all the layer's parameters (None: none got a gradient)."""
    weight_norm: float
    grad_rms: float | None
    """Per-element scale, ``grad_norm / sqrt(numel)``: compares layers of different sizes fairly."""
    ratio: float | None
    """``grad_norm / weight_norm``: the relative size of one plain-SGD step at learning rate 1."""
    is_weight_layer: bool
    """Has a >=2-D weight and is not an embedding: the layers the vanishing ratio compares."""
    called: bool
    """Its forward ran; parameters of modules that never ran are listed after the others."""
    no_grad: list[str] = field(default_factory=list)
    zero_grad: list[str] = field(default_factory=list)
    nonfinite_grad: list[str] = field(default_factory=list)
    weight_gain: float | None = None
    """Weight layers only: ``||W|| / sqrt(fan_out)``, the RMS of the weight times ``sqrt(fan_in)``,
    about 0.6 for PyTorch's default init and 1.4 for Kaiming; a layer far above the others
    explodes gradients."""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("grad_norm", "weight_norm", "grad_rms", "ratio"):
            data[key] = _json_float(data[key])
        return data


@dataclass
class ActivationStats:
    """Dead or saturated units of one activation call (a module call or a functional call)."""

    name: str
    kind: str
    """``relu`` (also LeakyReLU with slope 0), ``relu6``, ``prelu``, ``sigmoid`` or ``tanh``."""
    units: int
    dead_fraction: float | None
    """ReLU family: fraction of units that are 0 for every example of the batch."""
    saturated_fraction: float | None
    """Sigmoid/tanh: fraction of outputs (example x unit) within 1% of the range from a limit."""
    unit_kind: str = "unit"
    """What a unit is: ``unit`` (a feature), ``channel`` (of a conv map), ``gate`` or ``cell``
    (of a recurrent layer, recomputed from its weights)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class NonFiniteSite:
    """Where NaN/Inf first appeared: ``where`` is inputs, forward, loss or gradient."""

    where: str
    module: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GradientReport:
    """The result of :func:`pytest_gradcheck.probe`: measurements plus the problems found."""

    model: str
    device: str
    train: bool
    loss: float | None
    bounds: Bounds
    layers: list[LayerStats]
    activations: list[ActivationStats]
    vanishing_ratio: float | None
    """Gradient RMS of the first member of a repeated layer role over that of its last member
    (forward order; the most extreme role), or of the first over the last weight layer when no
    role repeats: see ``checks.depth_ratio``."""
    vanishing_pair: tuple[str, str] | None
    growth_per_layer: float | None
    """Geometric-mean change of gradient RMS per weight layer going back toward the input."""
    no_grad: list[str]
    zero_grad: list[str]
    nonfinite: NonFiniteSite | None
    problems: list[Problem] = field(default_factory=list)
    depth_role: str | None = None
    """The layer role whose first/last members gave ``vanishing_ratio`` (``Linear:layer.#.query``);
    None when no role repeats and the model's first and last weight layers were compared."""
    skipped_at_random: list[str] = field(default_factory=list)
    """Parameters that got no (or an exactly zero) gradient in the probe's pass but a gradient in
    a re-run with other random draws: the model skips them at random (LayerDrop, batch-level
    stochastic depth), so they are not reported as no-gradient."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def gradient_pattern(self) -> str:
        """``shrinking``, ``growing`` or ``flat``: how gradient scale moves toward the input."""
        g = self.growth_per_layer
        if g is None or not math.isfinite(g):
            return "unknown"
        if g < 0.8:
            return "shrinking"
        if g > 1.25:
            return "growing"
        return "flat"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; non-finite floats become ``null`` (``nonfinite`` says where)."""
        return {
            "model": self.model,
            "device": self.device,
            "train": self.train,
            "loss": _json_float(self.loss),
            "bounds": {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.bounds.as_dict().items()
            },
            "ok": self.ok,
            "layers": [layer.as_dict() for layer in self.layers],
            "activations": [act.as_dict() for act in self.activations],
            "vanishing_ratio": _json_float(self.vanishing_ratio),
            "vanishing_pair": list(self.vanishing_pair) if self.vanishing_pair else None,
            "growth_per_layer": _json_float(self.growth_per_layer),
            "depth_role": self.depth_role,
            "gradient_pattern": self.gradient_pattern,
            "problems": [p.as_dict() for p in self.problems],
            "no_grad": list(self.no_grad),
            "zero_grad": list(self.zero_grad),
            "skipped_at_random": list(self.skipped_at_random),
            "nonfinite": self.nonfinite.as_dict() if self.nonfinite else None,
        }

    def summary_line(self, verdict: bool = True) -> str:
        loss = "n/a" if self.loss is None else _fmt(self.loss)
        ratio = "n/a" if self.vanishing_ratio is None else _fmt(self.vanishing_ratio)
        line = (
            f"{self.model} on {self.device} ({'train' if self.train else 'eval'} mode): "
            f"loss {loss}, "
            f"{len(self.layers)} layers, vanishing ratio {ratio}"
        )
        if self.skipped_at_random:
            line += (
                f", {len(self.skipped_at_random)} parameter(s) skipped at random in this pass "
                "(LayerDrop?) got a gradient in a re-run"
            )
        if verdict:
            line += ", ok" if self.ok else f", {len(self.problems)} problem(s)"
        return line

    def format_table(self, problems_only: bool = True) -> str:
        """A compact text table: the offending layers (default) or every layer and activation."""
        if problems_only:
            return _render(self._problem_rows(self.problems)) if self.problems else "no problems"
        rows = [("module", "type", "grad norm", "grad rms", "weight norm", "grad/weight")]
        for layer in self.layers:
            name = layer.name or "<model>"
            if not layer.called:
                name += " (not called)"
            rows.append(
                (
                    name,
                    layer.type,
                    _fmt(layer.grad_norm),
                    _fmt(layer.grad_rms),
                    _fmt(layer.weight_norm),
                    _fmt(layer.ratio),
                )
            )
        text = _render(rows)
        if self.activations:
            act_rows = [("activation", "kind", "units", "dead", "saturated")]
            for act in self.activations:
                act_rows.append(
                    (
                        act.name,
                        act.kind,
                        f"{act.units} {act.unit_kind}s",
                        _pct(act.dead_fraction),
                        _pct(act.saturated_fraction),
                    )
                )
            text += "\n\n" + _render(act_rows)
        return text

    def _problem_rows(self, problems: list[Problem]) -> list[tuple[str, ...]]:
        """Header plus one row per problem; a layer's module path carries its type (``0
        (Linear)``), since in an ``nn.Sequential`` the path alone is just an index."""
        types = {layer.name: layer.type for layer in self.layers}
        rows = [("module", "check", "value", "bound")]
        for p in problems:
            bound = "" if p.bound is None else f"{_relation(p)} {_fmt(p.bound)} ({p.bound_name})"
            module = f"{p.module} ({types[p.module]})" if p.module in types else p.module
            rows.append((module, p.code, _fmt(p.value), bound))
        return rows

    def format_failure(self, problems: list[Problem] | None = None) -> str:
        """The assertion message: a headline, one line per group of findings (root causes first,
        consecutive layers with the same finding as one range), their notes, one remedy per
        failure mode; at most about 20 lines whatever the model."""
        problems = self.problems if problems is None else problems
        groups = _group(problems)
        shown = groups[:_MAX_GROUP_LINES]
        types = {layer.name: layer.type for layer in self.layers}
        lines = [
            f"gradient check failed with {len(problems)} problem(s): {self.summary_line(False)}"
        ]
        width = max(len(group[0].code) for group in shown)
        for group in shown:
            lines.append(f"  {group[0].code:<{width}}  {_group_line(group, types)}")
        if len(groups) > len(shown):
            rest = sum(len(group) for group in groups[len(shown) :])
            lines.append(f"  ... and {rest} more (report.format_table() lists them all)")
        notes = list(dict.fromkeys(p.note for group in shown for p in group if p.note))
        lines += [f"  {note}" for note in notes[:_MAX_NOTES]]
        if self.nonfinite is not None and not any(p.code == "non-finite" for p in problems):
            lines.append(f"  first non-finite value: {self.nonfinite.detail}")
        remedies: dict[str, Problem] = {}
        for p in problems:
            remedies.setdefault(p.code, p)
        from nnlint.catalog import static_twin

        lines += [
            f"{code} ({p.title}): {p.remedy} ({static_twin(code)})" for code, p in remedies.items()
        ]
        return "\n".join(lines)


#: Finding lines in a failure message; the rest are counted, not shown.
_MAX_GROUP_LINES = 10
_MAX_NOTES = 3


def _group(problems: list[Problem]) -> list[list[Problem]]:
    """Consecutive findings of one check with the same reason and bound, as groups."""
    groups: list[list[Problem]] = []
    for p in problems:
        last = groups[-1][0] if groups else None
        if (
            last is not None
            and p.reason
            and (last.code, last.reason, last.bound_name) == (p.code, p.reason, p.bound_name)
        ):
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


def _group_line(group: list[Problem], types: dict[str, str]) -> str:
    first = group[0]
    limit = (
        ""
        if first.bound is None
        else f" ({_relation(first)} {_fmt(first.bound)} {first.bound_name})"
    )
    if len(group) == 1:
        where = f"{first.module} ({types[first.module]})" if first.module in types else first.module
        return f"{where}: {first.message}{limit}"
    names = [p.module for p in group]
    listed = ", ".join(names) if len(names) <= 4 else f"{names[0]} .. {names[-1]}"
    kinds = sorted({types[name] for name in names if name in types})
    if kinds:
        what = f"{len(group)} {'/'.join(kinds[:2])}{'/...' if len(kinds) > 2 else ''} layers"
    else:
        what = f"{len(group)} activations"
    measured = ""
    values = [p.value for p in group if p.value is not None]
    if values and first.bound is not None:
        low, high = min(values), max(values)
        measured = f" {_fmt(low)}" if low == high else f" {_fmt(low)} .. {_fmt(high)}"
    return f"{listed} ({what}): {first.reason}{measured}{limit}"


def _relation(p: Problem) -> str:
    # Bounds named min_* are lower bounds (the value fell below), the others upper bounds.
    return "<" if (p.bound_name or "").startswith("min_") else ">"


def _render(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    )


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.2e}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _json_float(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value
