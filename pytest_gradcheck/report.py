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
    """``relu``, ``relu6``, ``sigmoid`` or ``tanh``."""
    units: int
    dead_fraction: float | None
    """ReLU family: fraction of units that are 0 for every example of the batch."""
    saturated_fraction: float | None
    """Sigmoid/tanh: fraction of outputs (example x unit) within 1% of the range from a limit."""

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
    """Gradient RMS of the first weight layer over that of the last (forward order)."""
    vanishing_pair: tuple[str, str] | None
    growth_per_layer: float | None
    """Geometric-mean change of gradient RMS per weight layer going back toward the input."""
    no_grad: list[str]
    zero_grad: list[str]
    nonfinite: NonFiniteSite | None
    problems: list[Problem] = field(default_factory=list)

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
            "gradient_pattern": self.gradient_pattern,
            "problems": [p.as_dict() for p in self.problems],
            "no_grad": list(self.no_grad),
            "zero_grad": list(self.zero_grad),
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
                        str(act.units),
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
        """The assertion message: headline, offending layers, one remedy per failure mode."""
        problems = self.problems if problems is None else problems
        lines = [
            f"gradient check failed with {len(problems)} problem(s): {self.summary_line(False)}",
            "",
        ]
        table = _render(self._problem_rows(problems))
        details = "\n".join(f"  - {p.module}: {p.message}" for p in problems)
        lines.append(_indent(table + "\n" + details))
        if self.nonfinite is not None:
            lines += ["", f"  first non-finite value: {self.nonfinite.detail}"]
        lines.append("")
        seen: dict[str, Problem] = {}
        for p in problems:
            seen.setdefault(p.code, p)
        from nnlint.catalog import static_twin

        for code, p in seen.items():
            lines.append(f"{code} ({p.title}): {p.remedy} ({static_twin(code)})")
        return "\n".join(lines)


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
