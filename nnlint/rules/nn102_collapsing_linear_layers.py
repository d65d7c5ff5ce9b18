"""NN102: two dense layers in a row with no nonlinearity between them, in a hidden path."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import LINEAR_COLLAPSE
from nnlint.extractors.architecture import Layer, ModelPath
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._architecture import model_paths
from nnlint.rules.base import Invalid, Rule, Violation

_DENSE = frozenset({"torch.nn.Linear", "torch.nn.LazyLinear", "keras.layers.Dense"})
# What may sit between the two layers without breaking the linear map (at inference).
_TRANSPARENT = frozenset({"dropout", "reshape"})


class CollapsingLinearLayers(Rule):
    """
    ## What it does
    Flags two fully connected layers (`nn.Linear`, Keras `Dense` without `activation=`) applied
    one after the other in a model of the file with nothing but dropout or a reshape between
    them, where the second layer is a hidden one (a nonlinearity and another weight layer
    follow it; a final projection before the loss is left alone), the first layer is at least
    as wide as the second (a narrow-then-wide pair is a low-rank factorisation, written on
    purpose) and both widths are literals.

    ## Why is this bad?
    `Linear(a, b)` followed by `Linear(b, c)` computes `W2 (W1 x + b1) + b2`, a single linear
    map: the pair can learn nothing that one `Linear(a, c)` cannot. The usual cause is a
    forgotten activation, which makes the model far less expressive than its author thinks,
    and the extra matrix product deepens the path that gradients must cross.

    ## Example
    ```python
    net = nn.Sequential(
        nn.Linear(784, 512),
        nn.Linear(512, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )
    ```

    ## Use instead
    ```python
    net = nn.Sequential(
        nn.Linear(784, 512),
        nn.ReLU(),
        nn.Linear(512, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )
    ```
    """

    code = "NN102"
    name = "collapsing-linear-layers"
    MESSAGE = "Two dense layers in a row with no activation between them collapse into one"
    severity = Severity.WARNING
    failure_mode = LINEAR_COLLAPSE
    triggers = (b"Linear", b"Dense")

    VALID = [
        "import torch.nn as nn\n"
        "net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU())\n",
        # A final projection after the last hidden layer, even with an output activation.
        "import torch.nn as nn\n"
        "net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8), nn.Linear(8, 2))\n",
        "from tensorflow import keras\nmodel = keras.Sequential([\n"
        "    keras.layers.Dense(25, activation='relu'),\n    keras.layers.Dense(10),\n"
        "    keras.layers.Dense(1, activation='sigmoid'),\n])\n",
        # A low-rank factorisation (narrow, then wide).
        "import torch.nn as nn\n"
        "net = nn.Sequential(\n"
        "    nn.Linear(512, 32), nn.Linear(32, 512), nn.ReLU(), nn.Linear(512, 10)\n)\n",
        # Normalisation between the layers.
        "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16),"
        " nn.Linear(16, 8), nn.ReLU())\n",
        "from tensorflow import keras\nmodel = keras.Sequential([\n"
        "    keras.layers.Dense(64, activation='relu'),\n"
        "    keras.layers.Dense(32, activation='relu'),\n    keras.layers.Dense(10),\n])\n",
    ]
    INVALID = [
        Invalid(
            "import torch.nn as nn\nnet = nn.Sequential(\n    nn.Linear(784, 512),\n"
            "    nn.Linear(512, 256),\n    nn.ReLU(),\n    nn.Linear(256, 10),\n)\n",
            line=3,
            column=5,
            end_line=3,
            end_column=24,
            message=(
                "`Linear(..., 512)` feeds `Linear(..., 256)` with no activation between them: "
                "the two compute one linear map, so the extra layer adds parameters but no "
                "expressive power; add an activation between them (or merge them)"
            ),
        ),
        Invalid(
            "import torch.nn as nn\n\nclass MLP(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.fc1 = nn.Linear(32, 64)\n"
            "        self.fc2 = nn.Linear(64, 64)\n        self.out = nn.Linear(64, 1)\n\n"
            "    def forward(self, x):\n        x = self.fc2(self.fc1(x))\n"
            "        return self.out(x.relu())\n",
            line=11,
            column=22,
            end_line=11,
            end_column=33,
            message=(
                "`Linear(..., 64)` feeds `Linear(..., 64)` with no activation between them: "
                "the two compute one linear map, so the extra layer adds parameters but no "
                "expressive power; add an activation between them (or merge them)"
            ),
        ),
        Invalid(
            "from tensorflow import keras\nmodel = keras.Sequential([\n"
            "    keras.layers.Dense(64),\n    keras.layers.Dropout(0.2),\n"
            "    keras.layers.Dense(32, activation='relu'),\n    keras.layers.Dense(10),\n])\n",
            line=3,
            column=5,
            end_line=3,
            end_column=27,
            message=(
                "`Dense(64)` feeds `Dense(32)` with no activation between them: the two "
                "compute one linear map, so the extra layer adds parameters but no expressive "
                "power; add an activation between them (or merge them)"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        seen: set[int] = set()
        for path in model_paths(facts):
            if not path.certain or path.residual:
                continue
            for first, second in _collapsing_pairs(path):
                node = first.report_node
                if id(node) in seen:
                    continue  # the same layers on another path of the same model
                seen.add(id(node))
                yield Violation(
                    node,
                    f"`{_written(first)}` feeds `{_written(second)}` with no activation between "
                    "them: the two compute one "
                    "linear map, so the extra layer adds parameters but no expressive power; "
                    "add an activation between them (or merge them)",
                )


def _collapsing_pairs(path: ModelPath) -> Iterator[tuple[Layer, Layer]]:
    layers = path.layers
    for index, first in enumerate(layers):
        if not _plain_dense(first) or first.activation is not None:
            continue
        following = index + 1
        while following < len(layers) and layers[following].kind in _TRANSPARENT:
            following += 1
        if following >= len(layers) or not _plain_dense(layers[following]):
            continue
        second = layers[following]
        if first.units is None or second.units is None or first.units < second.units:
            continue
        if not _hidden(layers, following):
            continue  # a final projection: the loss (or the caller) comes next
        yield first, second


def _hidden(layers: tuple[Layer, ...], index: int) -> bool:
    """Whether the weight layer at ``index`` is a hidden layer: a nonlinearity (its own or the
    next activation) and then another weight layer follow it."""
    activated = layers[index].activation is not None
    for layer in layers[index + 1 :]:
        if layer.kind == "weight":
            return activated
        if layer.kind == "activation":
            activated = True
    return False


def _plain_dense(layer: Layer) -> bool:
    return layer.kind == "weight" and layer.name in _DENSE and not layer.normalized


def _written(layer: Layer) -> str:
    """``Linear(..., 512)``, ``Dense(512)``: the layer and its width."""
    short = layer.name.rsplit(".", 1)[1]
    return f"{short}({layer.units})" if short == "Dense" else f"{short}(..., {layer.units})"
