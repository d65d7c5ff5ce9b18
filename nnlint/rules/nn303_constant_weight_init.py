"""NN303: weights initialised to zeros or one constant in every layer (or before a ReLU)."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import CONSTANT_INITIALIZATION
from nnlint.extractors.training import layer_kind
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._architecture import ARCHITECTURE_TRIGGERS
from nnlint.rules._training import HIDDEN_ACTIVATIONS, init_target, training_facts
from nnlint.rules.base import Invalid, Rule, Violation


class ConstantWeightInit(Rule):
    """
    ## What it does
    Flags weights initialised to zeros or to one constant where it breaks learning:

    - PyTorch: `nn.init.zeros_`, `ones_`, `constant_` (or `.weight.data.zero_()` /
      `.fill_(c)`) on the weight of every `Linear`/`Conv` layer of a model, that is inside
      `for m in self.modules():` (or an init function given to `model.apply`) under
      `if isinstance(m, nn.Linear):` and the like;
    - Keras: `kernel_initializer="zeros"` (or `"ones"`, `Zeros()`, `Ones()`, `Constant(c)`) on
      a `Dense`/`ConvND` layer with a hidden-layer activation (`relu`, `tanh`, `gelu`, ...).

    Biases are fine at a constant. Normalisation layers' weights (`constant_(m.weight, 1)`
    under `isinstance(m, nn.BatchNorm2d)`) are meant to start at 1 and are not flagged, and
    neither is one named layer set to zero on purpose (a zero-initialised output head, the last
    layer of a residual branch, LoRA's `B` matrix, adaLN-Zero): a single constant layer among
    random ones still learns.

    ## Why is this bad?
    Random initial weights make the units of a layer different. If every layer starts
    constant, every unit of a layer computes the same output and receives the same gradient,
    so they stay identical forever: a layer of 512 units learns like a layer of one. With
    zeros it is worse: the gradient of every layer below the last is exactly 0, and a ReLU
    layer whose weights and bias are 0 outputs 0 and passes no gradient at all.

    ## Example
    ```python
    for m in self.modules():
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    ```

    ## Use instead
    ```python
    for m in self.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    ```
    """

    code = "NN303"
    name = "constant-weight-init"
    MESSAGE = (
        "Weights initialised to a constant: every unit of a layer stays identical; use a random "
        "initialization"
    )
    severity = Severity.WARNING
    failure_mode = CONSTANT_INITIALIZATION
    # Only the weights of a known Linear/Conv/Dense layer are checked, so a file without one
    # cannot have a finding (and files with one are parsed for the architecture rules anyway).
    triggers = ARCHITECTURE_TRIGGERS

    VALID = [
        # Norm weights start at 1 and biases at 0 on purpose.
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def init(self):\n"
        "        for m in self.modules():\n            if isinstance(m, nn.BatchNorm2d):\n"
        "                nn.init.constant_(m.weight, 1)\n"
        "                nn.init.constant_(m.bias, 0)\n"
        "            elif isinstance(m, nn.Linear):\n"
        "                nn.init.normal_(m.weight, 0, 0.01)\n"
        "                nn.init.zeros_(m.bias)\n",
        # One named layer at zero (a zero-initialised head or residual branch) is deliberate.
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.head = nn.Linear(8, 2)\n"
        "        nn.init.zeros_(self.head.weight)\n",
        # Some layers only (by name, behind a config flag): a zero-initialised head.
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def init(self, cfg):\n"
        "        for n, m in self.named_modules():\n"
        "            if 'fc' in n and isinstance(m, nn.Linear):\n"
        "                if cfg.zero_init_fc:\n                    nn.init.zeros_(m.weight)\n"
        "                else:\n                    nn.init.normal_(m.weight, 0.0, 0.01)\n",
        # No isinstance: nnlint cannot tell which layers.
        "import torch.nn as nn\n\ndef init(model):\n    for m in model.modules():\n"
        "        if hasattr(m, 'weight'):\n            nn.init.constant_(m.weight, 1.0)\n",
        # Keras: a zero output layer (logistic regression) and a zero bias.
        "from tensorflow import keras\n"
        "out = keras.layers.Dense(1, activation='sigmoid', kernel_initializer='zeros')\n",
        "from tensorflow import keras\n"
        "h = keras.layers.Dense(64, 'relu', bias_initializer='zeros')\n",
    ]
    INVALID = [
        Invalid(
            "import torch.nn as nn\n\nclass M(nn.Module):\n    def reset(self):\n"
            "        for m in self.modules():\n"
            "            if isinstance(m, (nn.Linear, nn.Conv2d)):\n"
            "                nn.init.zeros_(m.weight)\n",
            line=7,
            column=17,
            end_line=7,
            end_column=41,
            message=(
                "`nn.init.zeros_(...)` sets the weights of every `Linear` layer of the model "
                "to 0: their gradients below the last layer are 0 and ReLU units never fire; "
                "keep a random initialization (Kaiming/Xavier) for weights"
            ),
        ),
        Invalid(
            "import torch.nn as nn\n\ndef init_weights(m):\n    if type(m) == nn.Linear:\n"
            "        m.weight.data.fill_(0.5)\n\nmodel.apply(init_weights)\n",
            line=5,
            column=9,
            end_line=5,
            end_column=33,
            message=(
                "`m.weight.data.fill_(...)` sets the weights of every `Linear` layer of the "
                "model to 0.5: every unit of a layer computes the same output and gets the "
                "same update; keep a random initialization (Kaiming/Xavier) for weights"
            ),
        ),
        Invalid(
            "import torch\nfrom torch import nn\n\nclass Net(nn.Module):\n"
            "    def _init_weights(self, module):\n        if isinstance(module, nn.Linear):\n"
            "            module.weight.data.zero_()\n",
            line=7,
            column=13,
            end_line=7,
            end_column=39,
            message=(
                "`module.weight.data.zero_(...)` sets the weights of every `Linear` layer of "
                "the model to 0: their gradients below the last layer are 0 and ReLU units "
                "never fire; keep a random initialization (Kaiming/Xavier) for weights"
            ),
        ),
        Invalid(
            "from tensorflow.keras import layers\n"
            "h = layers.Dense(64, activation='relu', kernel_initializer='zeros')\n",
            line=2,
            column=60,
            end_line=2,
            end_column=67,
            message=(
                "`kernel_initializer='zeros'` sets the weights of a hidden `Dense` layer "
                "(relu) to 0: their gradients below the last layer are 0 and ReLU units never "
                "fire; keep a random initialization (Kaiming/Xavier) for weights"
            ),
        ),
        Invalid(
            "from tensorflow import keras\nh = keras.layers.Conv2D(32, 3, activation='relu',\n"
            "    kernel_initializer=keras.initializers.Constant(0.1))\n",
            line=3,
            column=24,
            end_line=3,
            end_column=56,
            message=(
                "`kernel_initializer=keras.initializers.Constant(0.1)` sets the weights of a "
                "hidden `Conv2D` layer (relu) to 0.1: every unit of a layer computes the same "
                "output and gets the same update; keep a random initialization "
                "(Kaiming/Xavier) for weights"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        for init in training_facts(facts).inits:
            if init.parameter != "weight" or init.kind != "constant":
                continue
            if init.layer is None or layer_kind(init.layer) != "weight":
                continue
            if init.call.expects_error or init.call.scope.in_test_function:
                continue
            value = f"{init.value:g}"
            if init.activation is not None or init.layer.startswith("keras."):
                if init.activation not in HIDDEN_ACTIVATIONS:
                    continue
                where = f"a hidden `{init.layer.rsplit('.', 1)[1]}` layer ({init.activation})"
            elif init.every_module:
                where = f"every `{init.layer.rsplit('.', 1)[1]}` layer of the model"
            else:
                continue
            consequence = (
                "their gradients below the last layer are 0 and ReLU units never fire"
                if init.value == 0
                else "every unit of a layer computes the same output and gets the same update"
            )
            yield Violation(
                init.node,
                f"`{init_target(init)}` sets the weights of {where} to {value}: {consequence}; "
                "keep a random initialization (Kaiming/Xavier) for weights",
            )
