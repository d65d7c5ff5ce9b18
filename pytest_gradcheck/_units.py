"""What a "unit" of an activation is, for any layout, and the per-unit reductions on the device.

A unit is a feature of a dense layer or a channel of a convolution: the thing that dies or
saturates as a whole. Which dim of an activation indexes units is read from the layer that
produced it (a Conv1d's ``(N, C, L)`` output has channels in dim 1, a Linear's ``(N, T, F)`` has
features last), so Conv1d channels are not mistaken for time steps and channels-last maps work.
Shared by the probe and the short-run checks; imports torch.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["dead_unit_mask", "saturated_output_fraction", "unit_dim", "unit_maxima"]

# Layers whose output carries channels in dim 1 (N, C, ...): convolutions and the norms that
# normalise per channel.
_CHANNELS_FIRST: tuple[type[nn.Module], ...] = (
    nn.modules.conv._ConvNd,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.GroupNorm,
)


def _width(producer: nn.Module) -> int | None:
    """How many units ``producer`` outputs (out channels, out features, normalised features)."""
    # The instance dict, not getattr: nn.Module.__getattr__ raises (slowly) for a missing name.
    attrs = producer.__dict__
    for attr in ("out_channels", "out_features", "num_features", "num_channels", "hidden_size"):
        value = attrs.get(attr)
        if isinstance(value, int):
            return value
    shape = attrs.get("normalized_shape")
    if isinstance(shape, tuple) and shape and isinstance(shape[-1], int):
        return shape[-1]
    value = attrs.get("embedding_dim")
    return value if isinstance(value, int) else None


def unit_dim(y: Tensor, producer: nn.Module | None = None) -> int | None:
    """The dim of ``y`` that indexes units; every other dim indexes examples or positions.

    ``producer`` is the parameterised layer that ran last before the activation (None: unknown).
    A channels-first layer (conv, batch/instance/group norm) puts units in dim 1, a Linear,
    LayerNorm or embedding in the last dim; the layer's width decides when the shape allows both
    (a Conv1d output permuted to ``(N, L, C)`` has its channels last). Without a producer that
    fits: ``(N, F)`` and ``(N, T, F)`` have features last (tokens count as examples) and
    ``(N, C, H, W...)`` has channels in dim 1. A 0-D or 1-D output is one example: None.
    """
    if y.ndim <= 1:
        return None
    last = y.ndim - 1
    if y.ndim == 2:
        return last
    width = _width(producer) if producer is not None else None
    if width is not None:
        channels_first = isinstance(producer, _CHANNELS_FIRST)
        preferred = (1, last) if channels_first else (last, 1)
        for dim in preferred:
            if y.shape[dim] == width:
                return dim
    return last if y.ndim == 3 else 1


def unit_maxima(y: Tensor, dim: int | None, *, magnitude: bool = False) -> Tensor:
    """Per-unit maximum of ``y`` (of ``|y|`` with ``magnitude``) over every other dim, 1-D."""
    if magnitude:
        y = y.abs()
    if dim is None:
        return y.reshape(-1)
    others = tuple(d for d in range(y.ndim) if d != dim)
    return y.amax(dim=others)


def dead_unit_mask(y: Tensor, producer: nn.Module | None = None, *, leaky: bool = False) -> Tensor:
    """Bool per unit: 0 for every example and position of the batch (a dead ReLU-family unit).

    ReLU outputs are >= 0, so the maximum decides; ``leaky=True`` (PReLU, whose slope may be 0)
    requires every output to be exactly 0, since a negative output still passes gradient.
    """
    return unit_maxima(y, unit_dim(y, producer), magnitude=leaky) <= 0


def saturated_output_fraction(y: Tensor, kind: str, margin: float = 0.01) -> Tensor:
    """Fraction of the outputs (example x unit) of a sigmoid/tanh within ``margin`` of its range
    from a limit, as a 0-D tensor on ``y``'s device."""
    center, half = (0.5, 0.5) if kind == "sigmoid" else (0.0, 1.0)
    pinned = (y - center).abs() > half * (1 - 2 * margin)
    return pinned.sum() / max(pinned.numel(), 1)
