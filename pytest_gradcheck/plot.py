"""Gradient-flow PNG of one gradient report: per-layer gradient norms and dead/saturated units.

matplotlib is imported only when a plot is drawn, and never through pyplot, so drawing changes
no global backend state of the test process.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pytest_gradcheck.bounds import Bounds


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported (the PNG is optional, the JSON report is not)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if value > 0 and math.isfinite(value) else None


def plot_gradient_flow(
    report: dict[str, Any], bounds: Bounds, path: str | Path, title: str = ""
) -> bool:
    """Draw ``report`` (a ``GradientReport.to_dict()``) to the PNG ``path``.

    The top panel shows each parameterised layer's gradient norm and per-element RMS gradient on
    a log axis, in forward order, with the ``max_grad_norm`` and ``min_grad_norm`` bound lines.
    The bottom panel shows each activation's dead and saturated unit fractions against their
    bounds. Returns False (and draws nothing) when matplotlib is not installed.
    """
    if not matplotlib_available():
        return False
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    layers = report.get("layers") or []
    activations = report.get("activations") or []
    figure = Figure(figsize=(max(6.0, 0.45 * max(len(layers), len(activations)) + 3), 7.5))
    FigureCanvasAgg(figure)
    grads_ax, units_ax = figure.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})

    positions = list(range(len(layers)))
    names = [str(layer.get("name", "?")) for layer in layers]
    norms = [_positive(layer.get("grad_norm")) for layer in layers]
    rms = [_positive(layer.get("grad_rms")) for layer in layers]
    _plot_series(grads_ax, positions, norms, "gradient norm", "o-", "tab:blue")
    _plot_series(grads_ax, positions, rms, "gradient RMS (per element)", "s--", "tab:green")
    # Layers whose gradient is zero, missing or non-finite cannot sit on a log axis: mark them.
    missing = [p for p, n in zip(positions, norms) if n is None]
    if missing:
        floor = min([v for v in norms + rms if v is not None] or [1.0]) / 10
        grads_ax.scatter(missing, [floor] * len(missing), marker="x", color="tab:red", zorder=3)
        grads_ax.plot([], [], "x", color="tab:red", label="zero / missing / non-finite gradient")
    grads_ax.axhline(bounds.max_grad_norm, color="tab:red", linestyle=":", label="max_grad_norm")
    if bounds.min_grad_norm > 0:
        grads_ax.axhline(
            bounds.min_grad_norm,
            color="tab:orange",
            linestyle=":",
            label="min_grad_norm (per-element RMS)",
        )
    grads_ax.set_yscale("log")
    grads_ax.set_xticks(positions)
    grads_ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    grads_ax.set_xlabel("parameterised layers, in forward order")
    grads_ax.set_ylabel("gradient")
    ratio = report.get("vanishing_ratio")
    subtitle = f"vanishing ratio {ratio:.3g}" if isinstance(ratio, (int, float)) else ""
    grads_ax.set_title("\n".join(part for part in (title, subtitle) if part), fontsize=9)
    grads_ax.legend(fontsize=7, loc="best")
    grads_ax.grid(True, which="major", alpha=0.3)

    if activations:
        act_positions = list(range(len(activations)))
        dead = [_fraction(a.get("dead_fraction")) for a in activations]
        saturated = [_fraction(a.get("saturated_fraction")) for a in activations]
        width = 0.4
        units_ax.bar(
            [p - width / 2 for p in act_positions], dead, width, label="dead", color="tab:gray"
        )
        units_ax.bar(
            [p + width / 2 for p in act_positions],
            saturated,
            width,
            label="saturated",
            color="tab:purple",
        )
        units_ax.axhline(
            bounds.max_dead_fraction, color="tab:gray", linestyle=":", label="max_dead_fraction"
        )
        units_ax.axhline(
            bounds.max_saturated_fraction,
            color="tab:purple",
            linestyle="--",
            label="max_saturated_fraction",
        )
        units_ax.set_xticks(act_positions)
        units_ax.set_xticklabels(
            [f"{a.get('name', '?')} ({a.get('kind', '?')})" for a in activations],
            rotation=60,
            ha="right",
            fontsize=7,
        )
        units_ax.set_ylim(0, 1.05)
        units_ax.set_ylabel("fraction of units")
        units_ax.legend(fontsize=7, loc="best")
    else:
        units_ax.text(0.5, 0.5, "no activations observed", ha="center", va="center")
        units_ax.set_axis_off()
    figure.tight_layout()
    figure.savefig(str(path), dpi=100)
    return True


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return 0.0
    return float(value)


def _plot_series(
    axes: Any, positions: list[int], values: list[float | None], label: str, style: str, color: str
) -> None:
    xs = [p for p, v in zip(positions, values) if v is not None]
    ys = [v for v in values if v is not None]
    if ys:
        axes.plot(xs, ys, style, label=label, color=color, markersize=4)
