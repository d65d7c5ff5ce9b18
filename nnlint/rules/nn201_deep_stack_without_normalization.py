"""NN201: a deep plain stack with no normalization and no residual connection."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import EXPLODING_GRADIENTS
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._architecture import (
    ARCHITECTURE_TRIGGERS,
    is_plain,
    model_paths,
    weight_layers,
)
from nnlint.rules.base import Invalid, Rule, Valid, Violation

_TORCH = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
_KERAS = "from tensorflow import keras\nfrom tensorflow.keras import layers\n\n"


class DeepStackWithoutNormalization(Rule):
    """
    ## What it does
    Flags a model path with `min-weight-layers` (default 6) or more weight layers (Linear,
    Conv*, Dense, Conv*D; embeddings are not counted) in sequence, with no normalization layer
    anywhere on the path (BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm, Keras
    `*Normalization`, or weights wrapped in `spectral_norm`/`weight_norm`) and no residual
    connection (`out + identity`, concatenation of an earlier tensor). Reported once per stack
    at its first weight layer.

    It reads the same model sources as NN101. Not flagged: residual networks (ResNet blocks,
    transformer blocks with `x + attn(x)`), U-Nets and DenseNets (concatenated skips), networks
    whose normalization is applied through a helper or passed in as `norm_layer=...` (anything
    nnlint cannot see into counts as possibly normalizing), recurrent and attention models,
    self-normalizing SELU networks, and stacks whose depth comes from a config or a parameter.

    ## Why is this bad?
    Without normalization or a skip path, the gradient reaching the first layers is a product of
    one factor per layer. With weights a little too large or too small at initialization, or
    after a few large updates, that product explodes or vanishes geometrically with depth, and
    training diverges or stalls. Classic architectures such as VGG and AlexNet without batch
    norm train only with careful initialization and small learning rates; that is a fact about
    them, not a mistake in copying them.

    ## Example
    ```python
    import torch.nn as nn

    features = nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 128, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(128, 128, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(128, 256, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(),
    )
    ```

    ## Use instead
    Normalize after each weight layer (or add residual connections):
    ```python
    import torch.nn as nn


    def conv_bn(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


    features = nn.Sequential(
        *conv_bn(3, 64),
        *conv_bn(64, 64),
        *conv_bn(64, 128),
        *conv_bn(128, 128),
        *conv_bn(128, 256),
        *conv_bn(256, 256),
    )
    ```

    ## Options
    - `min-weight-layers` (int, default 6): how many weight layers in sequence make a deep
      stack. Set it in `[tool.nnlint.deep-stack-without-normalization]`.
    """

    code = "NN201"
    name = "deep-stack-without-normalization"
    MESSAGE = "Deep plain stack without normalization or residuals: gradients can explode"
    severity = Severity.WARNING
    failure_mode = EXPLODING_GRADIENTS
    options = {"min-weight-layers": 6}
    triggers = ARCHITECTURE_TRIGGERS

    VALID = [
        _TORCH + "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), "
        "nn.Linear(8, 1))\n",
        # Batch norm in the path.
        _TORCH + "layers = []\nfor _ in range(8):\n"
        "    layers += [nn.Conv2d(16, 16, 3), nn.BatchNorm2d(16), nn.ReLU()]\n"
        "net = nn.Sequential(*layers)\n",
        # A ResNet-style block repeated: residual connections.
        _TORCH + "class Block(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n"
        "        self.conv1 = nn.Conv2d(c, c, 3)\n        self.conv2 = nn.Conv2d(c, c, 3)\n"
        "    def forward(self, x):\n        return F.relu(x + self.conv2(F.relu(self.conv1(x))))\n"
        "\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.blocks = nn.ModuleList([Block(16) for _ in range(6)])\n"
        "    def forward(self, x):\n        for block in self.blocks:\n            x = block(x)\n"
        "        return x\n",
        # Normalization passed in as a parameter: nnlint cannot see it, so it stays quiet.
        _TORCH + "def stack(norm_layer):\n    layers = []\n    for _ in range(8):\n"
        "        layers += [nn.Linear(8, 8), norm_layer(8), nn.ReLU()]\n"
        "    return nn.Sequential(*layers)\n",
        # A depth from a parameter.
        _TORCH + "def stack(depth):\n    return nn.Sequential(*[nn.Linear(8, 8) for _ in "
        "range(depth)])\n",
        # Self-normalizing network.
        _TORCH + "net = nn.Sequential(*[m for _ in range(8) for m in (nn.Linear(8, 8), "
        "nn.SELU())])\n",
        # Keras with BatchNormalization.
        _KERAS + "model = keras.Sequential()\nfor _ in range(8):\n"
        "    model.add(layers.Dense(64))\n    model.add(layers.BatchNormalization())\n"
        "    model.add(layers.Activation('relu'))\n",
        Valid(
            _TORCH + "net = nn.Sequential(*[nn.Linear(8, 8) for _ in range(6)])\n",
            options={"min-weight-layers": 7},
        ),
    ]
    INVALID = [
        # A VGG-style feature extractor built from a module-level config list.
        Invalid(
            _TORCH + "CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M']\n\n"
            "def make_layers(cfg, batch_norm=False):\n    layers = []\n    in_channels = 3\n"
            "    for v in cfg:\n        if v == 'M':\n"
            "            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]\n        else:\n"
            "            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)\n"
            "            if batch_norm:\n"
            "                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]\n"
            "            else:\n                layers += [conv2d, nn.ReLU(inplace=True)]\n"
            "            in_channels = v\n    return nn.Sequential(*layers)\n\n"
            "features = make_layers(CFG)\n",
            line=14,
            column=22,
            end_line=14,
            end_column=73,
            message=(
                "`nn.Sequential` stacks 7 weight layers with no normalization and no residual "
                "connection: the gradient is a product of one factor per layer, so it can "
                "explode or vanish with depth (VGG/AlexNet-style stacks need careful "
                "initialization and small learning rates); add BatchNorm/LayerNorm after the "
                "weight layers or residual connections"
            ),
        ),
        # A plain module with an nn.Sequential classifier.
        Invalid(
            _TORCH + "class AlexNetish(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.features = nn.Sequential(\n"
            "            nn.Conv2d(3, 64, 11), nn.ReLU(), nn.MaxPool2d(3),\n"
            "            nn.Conv2d(64, 192, 5), nn.ReLU(), nn.MaxPool2d(3),\n"
            "            nn.Conv2d(192, 384, 3), nn.ReLU(),\n"
            "            nn.Conv2d(384, 256, 3), nn.ReLU(),\n"
            "            nn.Conv2d(256, 256, 3), nn.ReLU(),\n        )\n"
            "        self.classifier = nn.Sequential(nn.Linear(9216, 4096), nn.ReLU(), "
            "nn.Linear(4096, 10))\n\n    def forward(self, x):\n"
            "        x = self.features(x)\n        x = torch.flatten(x, 1)\n"
            "        return self.classifier(x)\n",
            line=9,
            column=13,
            end_line=9,
            end_column=33,
            message=(
                "`AlexNetish` stacks 7 weight layers with no normalization and no residual "
                "connection: the gradient is a product of one factor per layer, so it can "
                "explode or vanish with depth (VGG/AlexNet-style stacks need careful "
                "initialization and small learning rates); add BatchNorm/LayerNorm after the "
                "weight layers or residual connections"
            ),
        ),
        # Keras Sequential list.
        Invalid(
            _KERAS
            + "model = keras.Sequential([\n"
            + "".join("    layers.Dense(64, activation='relu'),\n" for _ in range(6))
            + "    layers.Dense(10),\n])\n",
            line=5,
            column=5,
            end_line=5,
            end_column=40,
            message=(
                "`keras.Sequential` stacks 7 weight layers with no normalization and no residual "
                "connection: the gradient is a product of one factor per layer, so it can "
                "explode or vanish with depth (VGG/AlexNet-style stacks need careful "
                "initialization and small learning rates); add BatchNorm/LayerNorm after the "
                "weight layers or residual connections"
            ),
        ),
        Invalid(
            _TORCH + "net = nn.Sequential(*[nn.Linear(8, 8) for _ in range(3)])\n",
            line=5,
            options={"min-weight-layers": 3},
            column=23,
            end_line=5,
            end_column=38,
            message=(
                "`nn.Sequential` stacks 3 weight layers with no normalization and no residual "
                "connection: the gradient is a product of one factor per layer, so it can "
                "explode or vanish with depth (VGG/AlexNet-style stacks need careful "
                "initialization and small learning rates); add BatchNorm/LayerNorm after the "
                "weight layers or residual connections"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        minimum = int(self.settings["min-weight-layers"])
        seen: set[int] = set()
        for path in model_paths(facts):
            if not is_plain(path):
                continue
            weights = [h.weight for h in weight_layers(path)]
            if len(weights) < minimum:
                continue
            node = weights[0].report_node
            if id(node) in seen:
                continue
            seen.add(id(node))
            yield Violation(
                node,
                f"`{path.model}` stacks {len(weights)} weight layers with no normalization and "
                "no residual connection: the gradient is a product of one factor per layer, so "
                "it can explode or vanish with depth (VGG/AlexNet-style stacks need careful "
                "initialization and small learning rates); add BatchNorm/LayerNorm after the "
                "weight layers or residual connections",
            )
