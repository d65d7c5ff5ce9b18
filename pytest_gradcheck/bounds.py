"""Bounds of a gradient-health check: names, defaults, validation (pure Python, no torch).

The same names are used as keyword arguments of the assertion helpers, as kwargs of
``@pytest.mark.gradcheck(...)`` and as ``gradcheck_<name>`` ini options.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


class BoundsError(ValueError):
    """A bound has an unknown name or a value of the wrong type or range."""


# Shown as pytest_gradcheck.BoundsError in tracebacks: the name users import.
BoundsError.__module__ = "pytest_gradcheck"


@dataclass(frozen=True)
class Bounds:
    # NOTE: the default values are provisional until measured on healthy and pathological models
    # (see docs/gradcheck-defaults.md); the names are the public contract.
    max_grad_norm: float = 1e3
    """Exploding: the largest per-layer gradient norm allowed."""
    min_grad_norm: float = 1e-9
    """Vanishing: the smallest per-element (RMS) gradient of any weight layer allowed."""
    min_vanishing_ratio: float = 1e-3
    """Vanishing: the smallest gradient scale ratio along depth (within a layer role) allowed."""
    max_exploding_ratio: float = 1e3
    """Exploding: the largest gradient scale ratio along depth (within a layer role) allowed."""
    max_dead_fraction: float = 0.5
    """Dead ReLU: the largest fraction of units of one activation that may be dead on the batch."""
    max_saturated_fraction: float = 0.5
    """Saturation: the largest fraction of sigmoid/tanh units that may be saturated."""
    max_update_ratio: float = 1.0
    """Short run: the largest per-layer update-to-weight ratio mean|dW| / mean|W| of one step."""
    min_update_ratio: float = 1e-6
    """Short run: the smallest update-to-weight ratio of one step of a weight layer (not 0)."""
    max_killed_fraction: float = 0.25
    """Short run: the largest fraction of one activation's units that the updates may kill."""
    ignore: tuple[str, ...] = ()
    """Module paths or fnmatch globs that no check looks at."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "bounds") -> Bounds:
        return cls().merged(values, source=source)

    def merged(self, values: Mapping[str, Any], source: str = "bounds") -> Bounds:
        """A copy with ``values`` applied; unknown names or bad values raise ``BoundsError``."""
        known = self.names()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise BoundsError(
                f"{source}: unknown gradcheck bound(s) {', '.join(map(repr, unknown))}; "
                f"known bounds: {', '.join(known)}"
            )
        return replace(self, **{k: _coerce(k, v, source) for k, v in values.items()})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _coerce(name: str, value: Any, source: str) -> Any:
    if name == "ignore":
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise BoundsError(
                f"{source}: 'ignore' must be a list of module paths or globs, got {value!r}"
            )
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BoundsError(f"{source}: {name!r} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise BoundsError(f"{source}: {name!r} must be a number, got {value!r}") from None
    if math.isnan(number) or number < 0:
        raise BoundsError(f"{source}: {name!r} must be a non-negative number, got {value!r}")
    if name.endswith("_fraction") and number > 1:
        raise BoundsError(f"{source}: {name!r} is a fraction in [0, 1], got {value!r}")
    return number
