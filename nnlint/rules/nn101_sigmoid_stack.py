"""NN101: a deep stack of sigmoid/tanh-activated hidden layers (vanishing gradients)."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import VANISHING_GRADIENTS
from nnlint.extractors.layers import SATURATING
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._architecture import HiddenLayer, model_paths, weight_layers
from nnlint.rules.base import Invalid, Rule, Valid, Violation

_TORCH = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
_KERAS = "from tensorflow import keras\nfrom tensorflow.keras import layers\n\n"


class SigmoidStack(Rule):
    """
    ## What it does
    Flags a model path with `min-depth` (default 3) or more consecutive hidden layers whose
    activation is sigmoid or tanh (also hard sigmoid, hardtanh, softsign), reported once per
    stack at its first saturating activation.

    It reads the architecture the file builds, not the word "Sigmoid": `nn.Sequential(...)`
    (positional, `OrderedDict`, `*layers` built by appends, loops over `range(N)` or a list of
    sizes, comprehensions), `nn.Module` subclasses (layers assigned in `__init__` and applied in
    `forward` as modules, `torch.sigmoid`/`F.tanh` functions or `x.sigmoid()` methods, reused
    activation modules, activation classes passed as arguments or defaults such as
    `act_layer=nn.Tanh`), `nn.ModuleList` loops, same-file helper functions, and Keras
    `Sequential([...])`, `model.add(...)`, the functional API and `activation="tanh"` /
    `Activation("tanh")`.

    Not flagged: the output layer (a single sigmoid/softmax output is how a classifier ends),
    LSTM/GRU/RNN gates (inside the recurrent layer), gating such as `torch.sigmoid(gate) * x`
    or GLU, tanh inside a GELU approximation, sigmoid on a loss, a mask or a sampling
    probability (none of them is a hidden layer), residual networks, layers whose activation
    is preceded by normalization, and stacks whose depth or activation comes from a config or a
    parameter the file does not fix (nnlint cannot know them and stays quiet).

    ## Why is this bad?
    The derivative of a sigmoid is at most 0.25, and that of tanh is near 0 once it saturates.
    Backpropagation multiplies the gradient by one such factor per layer, so after a few hidden
    layers the first ones receive gradients orders of magnitude smaller than the last: they
    learn very slowly or not at all (vanishing gradients). Classic textbook networks (LeNet-5,
    early autoencoders) used them; they train, but slowly and only when shallow.

    ## Example
    ```python
    import torch.nn as nn

    model = nn.Sequential(
        nn.Linear(784, 256),
        nn.Sigmoid(),
        nn.Linear(256, 128),
        nn.Sigmoid(),
        nn.Linear(128, 64),
        nn.Sigmoid(),
        nn.Linear(64, 10),
    )
    ```

    ## Use instead
    ReLU-family activations in hidden layers (or normalization / residual connections where the
    saturating activation is needed):
    ```python
    import torch.nn as nn

    model = nn.Sequential(
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )
    ```

    ## Options
    - `min-depth` (int, default 3): how many consecutive saturating hidden layers make a stack.
      Set it in `[tool.nnlint.sigmoid-stack]`.
    """

    code = "NN101"
    name = "sigmoid-stack"
    MESSAGE = "Deep stack of sigmoid/tanh hidden layers: gradients vanish on the way down"
    severity = Severity.WARNING
    failure_mode = VANISHING_GRADIENTS
    options = {"min-depth": 3}
    triggers = (b"igmoid", b"tanh", b"Tanh", b"softsign")

    VALID = [
        # Two hidden sigmoid layers and a sigmoid output: below the default depth.
        _TORCH + "net = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 8), "
        "nn.Sigmoid(), nn.Linear(8, 1), nn.Sigmoid())\n",
        # ReLU hidden layers with a single sigmoid output.
        _TORCH + "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), "
        "nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())\n",
        # LSTM gates are inside the recurrent layer.
        _TORCH + "class Tagger(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.lstm = nn.LSTM(32, 64, num_layers=3)\n        self.out = nn.Linear(64, 5)\n"
        "    def forward(self, x):\n        h, _ = self.lstm(x)\n"
        "        return torch.sigmoid(self.out(h))\n",
        # Gating: the sigmoid scales another branch.
        _TORCH + "class Gated(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.a = nn.Linear(8, 8)\n        self.b = nn.Linear(8, 8)\n"
        "        self.c = nn.Linear(8, 8)\n        self.d = nn.Linear(8, 8)\n"
        "    def forward(self, x):\n        x = self.a(x) * torch.sigmoid(self.b(x))\n"
        "        x = self.c(x) * torch.sigmoid(self.d(x))\n        return x\n",
        # Batch norm before every tanh keeps it responsive.
        _TORCH + "net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), "
        "nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 8), nn.BatchNorm1d(8), "
        "nn.Tanh(), nn.Linear(8, 1))\n",
        # Depth from a parameter: cannot know.
        _TORCH + "def mlp(depth):\n    layers = []\n    for _ in range(depth):\n"
        "        layers += [nn.Linear(8, 8), nn.Tanh()]\n"
        "    return nn.Sequential(*layers, nn.Linear(8, 1))\n",
        # Activation from a config object: cannot know.
        _TORCH + "def mlp(cfg):\n    return nn.Sequential(nn.Linear(4, 8), cfg.act(), "
        "nn.Linear(8, 8), cfg.act(), nn.Linear(8, 8), cfg.act(), nn.Linear(8, 1))\n",
        # Residual connections around the saturating layers.
        _TORCH + "class Res(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.f1 = nn.Linear(8, 8)\n        self.f2 = nn.Linear(8, 8)\n"
        "        self.f3 = nn.Linear(8, 8)\n        self.out = nn.Linear(8, 1)\n"
        "    def forward(self, x):\n        x = x + torch.tanh(self.f1(x))\n"
        "        x = x + torch.tanh(self.f2(x))\n        x = x + torch.tanh(self.f3(x))\n"
        "        return self.out(x)\n",
        # Keras: ReLU hidden layers, softmax output.
        _KERAS + "model = keras.Sequential([layers.Dense(64, activation='relu'), "
        "layers.Dense(64, activation='relu'), layers.Dense(64, activation='relu'), "
        "layers.Dense(10, activation='softmax')])\n",
        # Raising the depth threshold.
        Valid(
            _TORCH + "net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), "
            "nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))\n",
            options={"min-depth": 4},
        ),
    ]
    INVALID = [
        Invalid(
            _TORCH + "net = nn.Sequential(\n    nn.Linear(784, 256),\n    nn.Sigmoid(),\n"
            "    nn.Linear(256, 128),\n    nn.Sigmoid(),\n    nn.Linear(128, 64),\n"
            "    nn.Sigmoid(),\n    nn.Linear(64, 10),\n)\n",
            line=7,
            column=5,
            end_line=7,
            end_column=17,
            message=(
                "3 consecutive hidden layers of `nn.Sequential` use sigmoid: backpropagation "
                "multiplies the gradient by at most 0.25 (sigmoid) or nearly 0 (saturated tanh) "
                "per layer, so the first layers get vanishing gradients; use ReLU-family "
                "activations, or add normalization or residual connections where the saturating "
                "activation is needed"
            ),
        ),
        # Module subclass: a reused activation module, functions and methods.
        Invalid(
            _TORCH + "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.fc1 = nn.Linear(784, 256)\n        self.fc2 = nn.Linear(256, 128)\n"
            "        self.fc3 = nn.Linear(128, 64)\n        self.fc4 = nn.Linear(64, 10)\n"
            "        self.act = nn.Tanh()\n\n    def forward(self, x):\n"
            "        x = self.act(self.fc1(x))\n        x = torch.tanh(self.fc2(x))\n"
            "        x = self.fc3(x).sigmoid()\n        return self.fc4(x)\n",
            line=15,
            column=13,
            end_line=15,
            end_column=34,
            message=(
                "3 consecutive hidden layers of `Net` use sigmoid/tanh: backpropagation "
                "multiplies the gradient by at most 0.25 (sigmoid) or nearly 0 (saturated tanh) "
                "per layer, so the first layers get vanishing gradients; use ReLU-family "
                "activations, or add normalization or residual connections where the saturating "
                "activation is needed"
            ),
        ),
        # A list built in a loop over a literal range, splatted into Sequential.
        Invalid(
            _TORCH + "layers = []\nfor _ in range(4):\n"
            "    layers += [nn.Linear(32, 32), nn.Sigmoid()]\n"
            "model = nn.Sequential(*layers, nn.Linear(32, 1))\n",
            line=7,
            column=35,
            end_line=7,
            end_column=47,
            message=(
                "4 consecutive hidden layers of `nn.Sequential` use sigmoid: backpropagation "
                "multiplies the gradient by at most 0.25 (sigmoid) or nearly 0 (saturated tanh) "
                "per layer, so the first layers get vanishing gradients; use ReLU-family "
                "activations, or add normalization or residual connections where the saturating "
                "activation is needed"
            ),
        ),
        # An activation class passed as a default.
        Invalid(
            _TORCH + "def mlp(sizes=(8, 8, 8, 8, 1), act_layer=nn.Tanh):\n    layers = []\n"
            "    for i in range(len(sizes) - 1):\n"
            "        layers.append(nn.Linear(8, 8))\n        layers.append(act_layer())\n"
            "    return nn.Sequential(*layers[:-1])\n\nhead = mlp((8, 8, 8, 8, 1))\n",
            line=9,
            column=23,
            end_line=9,
            end_column=34,
            message=(
                "3 consecutive hidden layers of `nn.Sequential` use tanh: backpropagation "
                "multiplies the gradient by at most 0.25 (sigmoid) or nearly 0 (saturated tanh) "
                "per layer, so the first layers get vanishing gradients; use ReLU-family "
                "activations, or add normalization or residual connections where the saturating "
                "activation is needed"
            ),
        ),
        # Keras functional API with activation strings.
        Invalid(
            _KERAS + "inputs = keras.Input(shape=(784,))\n"
            "x = layers.Dense(128, activation='sigmoid')(inputs)\n"
            "x = layers.Dense(64, activation='sigmoid')(x)\n"
            "x = layers.Dense(32, activation='sigmoid')(x)\n"
            "outputs = layers.Dense(10, activation='softmax')(x)\n"
            "model = keras.Model(inputs, outputs)\n",
            line=5,
            column=5,
            end_line=5,
            end_column=52,
            message=(
                "3 consecutive hidden layers of `keras.Model` use sigmoid: backpropagation "
                "multiplies the gradient by at most 0.25 (sigmoid) or nearly 0 (saturated tanh) "
                "per layer, so the first layers get vanishing gradients; use ReLU-family "
                "activations, or add normalization or residual connections where the saturating "
                "activation is needed"
            ),
        ),
        # Keras model.add chain with Activation layers.
        Invalid(
            _KERAS + "model = keras.Sequential()\nmodel.add(layers.Dense(64))\n"
            "model.add(layers.Activation('tanh'))\nmodel.add(layers.Dense(64))\n"
            "model.add(layers.Activation('tanh'))\nmodel.add(layers.Dense(64))\n"
            "model.add(layers.Activation('tanh'))\nmodel.add(layers.Dense(1))\n",
            line=6,
            column=11,
            end_line=6,
            end_column=36,
            message=(
                "3 consecutive hidden layers of `keras.Sequential` use tanh: backpropagation "
                "multiplies the gradient by at most 0.25 (sigmoid) or nearly 0 (saturated tanh) "
                "per layer, so the first layers get vanishing gradients; use ReLU-family "
                "activations, or add normalization or residual connections where the saturating "
                "activation is needed"
            ),
        ),
        Invalid(
            _TORCH + "net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), "
            "nn.Tanh(), nn.Linear(8, 1))\n",
            line=5,
            options={"min-depth": 2},
            column=38,
            end_line=5,
            end_column=47,
            message=(
                "2 consecutive hidden layers of `nn.Sequential` use tanh: backpropagation "
                "multiplies the gradient by at most 0.25 (sigmoid) or nearly 0 (saturated tanh) "
                "per layer, so the first layers get vanishing gradients; use ReLU-family "
                "activations, or add normalization or residual connections where the saturating "
                "activation is needed"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        min_depth = int(self.settings["min-depth"])
        seen: set[int] = set()
        for path in model_paths(facts):
            if path.residual or not path.certain:
                continue
            hidden = list(weight_layers(path))[:-1]  # the last weight layer is the output
            run: list[HiddenLayer] = []
            for layer in [*hidden, None]:
                saturating = layer is not None and layer.activation in SATURATING
                if layer is not None and saturating and not (layer.after_break and run):
                    run.append(layer)
                    continue
                if len(run) >= min_depth:
                    first = run[0]
                    key = id(first.report_node)
                    if key not in seen:
                        seen.add(key)
                        yield Violation(first.report_node, _message(path.model, run))
                run = [layer] if layer is not None and saturating else []


def _message(model: str, run: list[HiddenLayer]) -> str:
    names = sorted({h.activation or "" for h in run})
    kinds = "/".join(names)
    return (
        f"{len(run)} consecutive hidden layers of `{model}` use {kinds}: backpropagation "
        "multiplies the gradient by at most 0.25 (sigmoid) or nearly 0 (saturated tanh) per "
        "layer, so the first layers get vanishing gradients; use ReLU-family activations, or "
        "add normalization or residual connections where the saturating activation is needed"
    )
