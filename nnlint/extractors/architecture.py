"""The architecture family: for each model a file defines, the ordered path of layers it builds.

Filled in by the architecture model (work in progress); the data model below is stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import libcst as cst

from nnlint.extractors import Extractor, register_extractor

LayerKind = Literal[
    "weight",  # Linear, Conv*, Dense, Conv*D, Embedding, ...
    "activation",  # ReLU, Sigmoid, Tanh, Softmax, GELU, ... (module, function or method)
    "norm",  # BatchNorm*, LayerNorm, GroupNorm, InstanceNorm*, RMSNorm, Keras *Normalization
    "dropout",
    "recurrent",  # LSTM, GRU, RNN and their Keras twins (gates are internal)
    "attention",
    "pooling",
    "reshape",  # Flatten, view, reshape, permute: no effect on gradient flow
    "other",  # a known layer of no interest (Identity, Upsample, ...)
    "opaque",  # something the extractor cannot see into (an imported block, an unknown call)
]
Framework = Literal["torch", "keras"]


@dataclass(frozen=True)
class Layer:
    """One step of a model's path, as written in the code."""

    kind: LayerKind
    name: str  # canonical qualified name (``torch.nn.Linear``) or the written name
    node: cst.CSTNode  # where the layer is constructed or applied
    # Activations: ``sigmoid``, ``tanh``, ``relu``, ``softmax``, ... Weight layers with a
    # fused activation (Keras ``Dense(64, activation="tanh")``): that activation.
    activation: str | None = None
    # Weight layers: the number of output units/channels when it is a literal.
    units: int | None = None


@dataclass(frozen=True)
class ModelPath:
    """The ordered layers from a model's input to its output, with what the rules need to know
    about the path as a whole."""

    model: str  # class or variable name
    framework: Framework
    node: cst.CSTNode  # the class definition, the ``Sequential(...)`` call, ...
    layers: tuple[Layer, ...]
    residual: bool = False  # a skip connection (``out + identity``, concatenation) on the path
    # False when the extractor had to guess (a branch whose arms differ in layers that matter):
    # rules that need the exact sequence stay quiet.
    certain: bool = True

    @property
    def output_activation(self) -> str | None:
        """The activation applied last (after the last weight layer), if any."""
        for layer in reversed(self.layers):
            if layer.kind == "weight":
                return layer.activation
            if layer.kind == "activation":
                return layer.activation
        return None


@register_extractor
class ArchitectureExtractor(Extractor):
    family = "architecture"

    def finish(self) -> list[ModelPath]:
        return []
