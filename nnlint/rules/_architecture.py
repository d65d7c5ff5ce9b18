"""What the architecture rules (NN101, NN201) read off a model's path: the hidden layers with
the activation that follows each, and whether the path is a plain stack."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from nnlint.extractors.architecture import Layer, ModelPath
from nnlint.extractors.layers import SELF_NORMALIZING
from nnlint.facts import FileFacts

# Byte patterns of the files where a model path can be built at all: a layer constructor of
# either framework (every path the rules look at holds a weight layer).
ARCHITECTURE_TRIGGERS: tuple[bytes, ...] = (b"Linear", b"Conv", b"Dense")

# Layer kinds that end a run of hidden layers: what happens inside them is not a plain layer.
_BREAKS = frozenset({"norm", "recurrent", "attention", "opaque"})


@dataclass(frozen=True)
class HiddenLayer:
    """A weight layer and the activation applied to its output before the next weight layer."""

    weight: Layer
    activation: str | None
    activation_layer: Layer | None  # None for a fused activation (Keras ``activation=``)
    # A normalization, recurrent, attention or opaque layer between this weight layer and the
    # previous one: the run of plain layers is broken there.
    after_break: bool

    @property
    def report_node(self) -> cst.CSTNode:
        layer = self.activation_layer or self.weight
        return layer.report_node


def model_paths(facts: FileFacts) -> list[ModelPath]:
    return facts.families.get("architecture", [])


def weight_layers(path: ModelPath) -> Iterator[HiddenLayer]:
    """Each weight layer of ``path`` (embeddings left out) with the activation after it."""
    layers = path.layers
    pending: Layer | None = None
    pending_break = False
    activation: Layer | None = None
    broken = False
    for layer in layers:
        if layer.kind == "weight" and not layer.is_embedding:
            if pending is not None:
                yield _hidden(pending, activation, pending_break)
            pending, pending_break, activation = layer, broken, None
            broken = bool(layer.normalized)
            continue
        if layer.kind in _BREAKS:
            broken = True
            if pending is not None and activation is None:
                # Normalization between a layer and its activation keeps the activation in
                # its responsive range: the layer does not count as a saturating stack member.
                pending_break = True
            continue
        if layer.kind == "activation" and pending is not None and activation is None:
            activation = layer
    if pending is not None:
        yield _hidden(pending, activation, pending_break)


def _hidden(weight: Layer, activation: Layer | None, broken: bool) -> HiddenLayer:
    if weight.activation is not None:
        return HiddenLayer(weight, weight.activation, None, broken)
    name = activation.activation if activation is not None else None
    return HiddenLayer(weight, name, activation, broken)


def is_plain(path: ModelPath) -> bool:
    """No normalization (layer or weight normalization), no residual, nothing opaque that could
    hide either, no recurrent or attention layer, and no self-normalizing activation."""
    if path.residual or not path.certain:
        return False
    for layer in path.layers:
        if layer.kind in _BREAKS or layer.normalized:
            return False
        if layer.activation in SELF_NORMALIZING:
            return False
    return True
