"""NN202: weight initialisation with a literal std or bound of 1 or more."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import EXPLODING_GRADIENTS
from nnlint.extractors.training import layer_kind
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._architecture import ARCHITECTURE_TRIGGERS
from nnlint.rules._training import init_target, training_facts
from nnlint.rules.base import Invalid, Rule, Valid, Violation


class InitScaleTooLarge(Rule):
    """
    ## What it does
    Flags the weights of a `Linear`/`Conv` (Keras `Dense`/`ConvND`) layer drawn from a normal
    distribution with a literal standard deviation of 1 or more, or from a uniform distribution
    with a literal bound of 1 or more: `nn.init.normal_(w, 0, 1)`, `trunc_normal_(w, std=1)`,
    `uniform_(w, -1, 1)`, `w.data.normal_(0, 1)`, Keras `RandomNormal(stddev=1.0)`,
    `TruncatedNormal(stddev=1.0)`, `RandomUniform(-1, 1)`. The layer must be known: `self.fc`
    assigned an `nn.Linear(...)`, or `m` under `if isinstance(m, nn.Linear):`.

    Embeddings (whose default is N(0, 1) by design) and norms are not flagged, nor scales
    computed from the fan-in (`math.sqrt(2 / n)`), which are not literals.

    ## Why is this bad?
    A layer with `n` inputs and weights of standard deviation `s` multiplies the scale of its
    input by about `s * sqrt(n)`. Standard initializations pick `s` near `1 / sqrt(n)`
    (Xavier/Glorot) or `sqrt(2 / n)` (Kaiming/He) to keep that factor near 1. With `s = 1`
    and 256 inputs the factor is 16 per layer: activations and gradients grow geometrically
    with depth, tanh/sigmoid units saturate at once, and the first updates are huge.

    ## Example
    ```python
    nn.init.normal_(self.fc.weight, mean=0.0, std=1.0)
    ```

    ## Use instead
    ```python
    nn.init.kaiming_normal_(self.fc.weight, nonlinearity="relu")
    ```

    ## Options
    - `threshold` (default 1.0): the smallest literal std or bound flagged.
    """

    code = "NN202"
    name = "init-scale-too-large"
    MESSAGE = (
        "Weights initialised with a std or bound of 1 or more: activations and gradients explode"
    )
    severity = Severity.WARNING
    failure_mode = EXPLODING_GRADIENTS
    options = {"threshold": 1.0}
    # Only the weights of a known Linear/Conv/Dense layer are checked (see NN303).
    triggers = ARCHITECTURE_TRIGGERS

    VALID = [
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(8, 8)\n"
        "        nn.init.normal_(self.fc.weight, 0, 0.02)\n",
        # Embeddings default to N(0, 1).
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.emb = nn.Embedding(100, 8)\n"
        "        nn.init.normal_(self.emb.weight, std=1.0)\n",
        # Computed from the fan-in.
        "import math\nimport torch.nn as nn\n\ndef init(model):\n    for m in model.modules():\n"
        "        if isinstance(m, nn.Conv2d):\n"
        "            m.weight.data.normal_(0, math.sqrt(2.0 / m.in_channels))\n",
        # Unknown layer.
        "import torch.nn as nn\n\ndef init(w):\n    nn.init.uniform_(w.weight, -1, 1)\n",
        "from tensorflow import keras\n"
        "init = keras.initializers.RandomNormal(stddev=0.05)\n"
        "d = keras.layers.Dense(8, kernel_initializer=init)\n",
        Valid(
            "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.fc = nn.Linear(8, 8)\n"
            "        nn.init.normal_(self.fc.weight, 0, 1.0)\n",
            options={"threshold": 2.0},
        ),
    ]
    INVALID = [
        Invalid(
            "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.fc = nn.Linear(8, 8)\n"
            "        nn.init.normal_(self.fc.weight, mean=0.0, std=1.0)\n",
            line=7,
            column=9,
            end_line=7,
            end_column=59,
            message=(
                "`nn.init.normal_(...)` draws weights with a standard deviation of 1: each "
                "layer multiplies the activation scale by about that times sqrt(fan-in), so "
                "activations and gradients explode with depth; use Kaiming/Xavier "
                "initialization (std about 1/sqrt(fan-in))"
            ),
        ),
        Invalid(
            "import torch.nn as nn\n\ndef init(model):\n    for m in model.modules():\n"
            "        if isinstance(m, nn.Linear):\n            m.weight.data.uniform_(-1, 1)\n",
            line=6,
            column=13,
            end_line=6,
            end_column=42,
            message=(
                "`m.weight.data.uniform_(...)` draws weights with a bound of 1: each layer "
                "multiplies the activation scale by about that times sqrt(fan-in), so "
                "activations and gradients explode with depth; use Kaiming/Xavier "
                "initialization (std about 1/sqrt(fan-in))"
            ),
        ),
        Invalid(
            "from tensorflow import keras\nd = keras.layers.Dense(\n    8,\n"
            "    kernel_initializer=keras.initializers.RandomNormal(mean=0.0, stddev=1.0),\n)\n",
            line=4,
            column=24,
            end_line=4,
            end_column=77,
            message=(
                "`kernel_initializer=keras.initializers.RandomNormal(mean=0.0, stddev=1.0)` "
                "draws weights with a standard deviation of 1: each layer multiplies the "
                "activation scale by about that times sqrt(fan-in), so activations and "
                "gradients explode with depth; use Kaiming/Xavier initialization (std about "
                "1/sqrt(fan-in))"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        threshold = float(self.settings["threshold"])
        for init in training_facts(facts).inits:
            if init.parameter != "weight" or init.scale is None or init.scale < threshold:
                continue
            if init.layer is None or layer_kind(init.layer) != "weight":
                continue
            if init.call.expects_error or init.call.scope.in_test_function:
                continue
            what = "standard deviation" if init.kind == "normal" else "bound"
            yield Violation(
                init.node,
                f"`{init_target(init)}` draws weights with a {what} of {init.scale:g}: each "
                "layer multiplies the activation scale by about that times sqrt(fan-in), so "
                "activations and gradients explode with depth; use Kaiming/Xavier "
                "initialization (std about 1/sqrt(fan-in))",
            )
