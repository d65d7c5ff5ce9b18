"""NN302: a constant negative bias on a layer whose output goes through a ReLU."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import DEAD_RELU
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._architecture import ARCHITECTURE_TRIGGERS
from nnlint.rules._training import init_target, training_facts
from nnlint.rules.base import Invalid, Rule, Violation

_DYING = frozenset({"relu", "relu6"})


class NegativeBiasBeforeReLU(Rule):
    """
    ## What it does
    Flags a bias initialised to a negative constant on a layer followed by a ReLU: Keras
    `Dense(..., activation="relu", bias_initializer=Constant(-1.0))`, and in PyTorch
    `nn.init.constant_(self.fc.bias, -1.0)` (or `.bias.data.fill_(-1)`) on a layer whose next
    step in a model of the same file is a ReLU.

    ## Why is this bad?
    A ReLU unit outputs `max(0, w·x + b)`. With weights at their usual small initial scale, a
    negative bias makes `w·x + b` negative for most inputs: the unit outputs 0 and passes no
    gradient, so many units are dead from the first step and may never recover (dead ReLUs).
    Biases before a ReLU start at 0 or a small positive value (0.01-0.1) for this reason.

    ## Example
    ```python
    layers.Dense(128, activation="relu", bias_initializer=initializers.Constant(-1.0))
    ```

    ## Use instead
    ```python
    layers.Dense(128, activation="relu", bias_initializer="zeros")
    ```
    """

    code = "NN302"
    name = "negative-bias-before-relu"
    MESSAGE = "Negative constant bias before a ReLU: units start dead; initialise biases at 0"
    severity = Severity.WARNING
    failure_mode = DEAD_RELU
    # Only the bias of a known Linear/Conv/Dense layer is checked (see NN303).
    triggers = ARCHITECTURE_TRIGGERS

    VALID = [
        "from tensorflow.keras import initializers, layers\n"
        "d = layers.Dense(8, activation='relu', bias_initializer=initializers.Constant(0.1))\n",
        # Highway/gating layers use a negative bias before a sigmoid on purpose.
        "from tensorflow.keras import initializers, layers\n"
        "t = layers.Dense(8, activation='sigmoid', bias_initializer=initializers.Constant(-2.0))\n",
        # The layer's activation is unknown.
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.gate = nn.Linear(8, 8)\n"
        "        nn.init.constant_(self.gate.bias, -2.0)\n",
    ]
    INVALID = [
        Invalid(
            "from tensorflow.keras import initializers, layers\n"
            "d = layers.Dense(\n"
            "    8, activation='relu', bias_initializer=initializers.Constant(-1.0)\n)\n",
            line=3,
            column=44,
            end_line=3,
            end_column=71,
            message=(
                "`bias_initializer=initializers.Constant(-1.0)` starts the bias at -1 before "
                "a ReLU: most pre-activations start negative, so units output 0 and pass no "
                "gradient (dead from the first step); initialise the bias at 0 or a small "
                "positive value"
            ),
        ),
        Invalid(
            "from tensorflow import keras\n"
            "c = keras.layers.Conv2D(\n    16, 3, activation='relu',\n"
            "    bias_initializer=keras.initializers.Constant(value=-0.5),\n)\n",
            line=4,
            column=22,
            end_line=4,
            end_column=61,
            message=(
                "`bias_initializer=keras.initializers.Constant(value=-0.5)` starts the bias "
                "at -0.5 before a ReLU: most pre-activations start negative, so units output "
                "0 and pass no gradient (dead from the first step); initialise the bias at 0 "
                "or a small positive value"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        paths = facts.families.get("architecture") or []
        for init in training_facts(facts).inits:
            if init.parameter != "bias" or init.kind != "constant" or init.value is None:
                continue
            if init.value >= 0 or init.call.expects_error or init.call.scope.in_test_function:
                continue
            activation = init.activation
            if activation is None and init.layer_node is not None:
                activation = _next_activation(paths, init.layer_node)
            if activation not in _DYING:
                continue
            yield Violation(
                init.node,
                f"`{init_target(init)}` starts the bias at {init.value:g} before a ReLU: most "
                "pre-activations start negative, so units output 0 and pass no gradient (dead "
                "from the first step); initialise the bias at 0 or a small positive value",
            )


def _next_activation(paths, node) -> str | None:  # type: ignore[no-untyped-def]
    """The activation applied right after the layer built at ``node`` in a model of the file
    (dropout and reshapes in between are skipped; a norm resets the bias's effect)."""
    for path in paths:
        layers = path.layers
        for index, layer in enumerate(layers):
            if layer.node is not node:
                continue
            for following in layers[index + 1 :]:
                if following.kind in ("dropout", "reshape"):
                    continue
                return following.activation if following.kind == "activation" else None
            return None
    return None
