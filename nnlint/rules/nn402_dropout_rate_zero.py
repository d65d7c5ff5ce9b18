"""NN402: a dropout rate of 0 (or ``keep_prob`` of 1) makes the layer do nothing."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import DROPOUT_MISUSE
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._dropout import (
    DROPOUT_TRIGGERS,
    describe_rate,
    in_unit_interval,
    literal_rate_sites,
)
from nnlint.rules.base import Invalid, Rule, Violation


class DropoutRateZero(Rule):
    """
    ## What it does
    Flags a dropout layer or call whose rate is the literal 0 (`0`, `0.0`, `0.`, `.0`, `False`,
    or a module constant assigned once to it), and TensorFlow 1's `tf.nn.dropout` with
    `keep_prob=1.0`. Same APIs as NN401.

    ## Why is this bad?
    A rate of 0 drops nothing: the layer is a no-op, so the model gets none of the
    regularization the code seems to ask for. It is usually a leftover from debugging or a
    default that was never tuned. A rate read from a parameter or a config (which may be 0 on
    purpose) is not flagged.

    ## Example
    ```python
    import torch.nn as nn

    block = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.0))
    ```

    ## Use instead
    Delete the layer, or give it a real rate (or one from your config):
    ```python
    import torch.nn as nn

    block = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.1))
    ```
    """

    code = "NN402"
    name = "dropout-rate-zero"
    MESSAGE = "Dropout rate 0 drops nothing: the layer does nothing"
    severity = Severity.WARNING
    failure_mode = DROPOUT_MISUSE
    triggers = DROPOUT_TRIGGERS

    VALID = [
        "import torch.nn as nn\nnn.Dropout(0.1)\n",
        "import torch.nn as nn\nnn.Dropout(p=drop_rate)\n",
        "import torch.nn as nn\nnn.Dropout()\n",
        "import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self, p=0.0):\n"
        "        self.drop = nn.Dropout(p)\n",
        "import torch.nn.functional as F\ny = F.dropout(x, p=self.p, training=self.training)\n",
        "import tensorflow as tf\ny = tf.nn.dropout(x, keep_prob=0.5)\n",
        # tf.compat.v1 positional is keep_prob: 0.0 keeps nothing (NN401), it is not "rate 0".
        "import tensorflow.compat.v1 as tf\ny = tf.nn.dropout(x, 0.0)\n",
        "import keras\nkeras.layers.GaussianNoise(0.0)\n",
    ]
    INVALID = [
        Invalid("import torch.nn as nn\nlayer = nn.Dropout(0.0)\n", line=2),
        Invalid("import torch.nn as nn\nlayer = nn.Dropout(p=0)\n", line=2),
        Invalid("import torch.nn as nn\nlayer = nn.AlphaDropout(.0)\n", line=2),
        Invalid("import torch.nn as nn\nlayer = nn.FeatureAlphaDropout(0.)\n", line=2),
        Invalid("import torch.nn as nn\nlayer = nn.Dropout3d(-0.0)\n", line=2),
        Invalid(
            "import torch.nn.functional as F\ny = F.dropout(x, 0.0, training=self.training)\n",
            line=2,
        ),
        Invalid("import keras\nlayer = keras.layers.Dropout(0)\n", line=2),
        Invalid(
            "from keras.layers import GaussianDropout\nlayer = GaussianDropout(rate=0.0)\n", line=2
        ),
        Invalid("import tensorflow as tf\ny = tf.nn.dropout(x, keep_prob=1.0)\n", line=2),
        Invalid("import torch.nn as nn\nDROP: float = 0.0\nlayer = nn.Dropout(DROP)\n", line=3),
        Invalid("import torch.nn as nn\nlayer = nn.Dropout(False)\n", line=2),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        for site, rate in literal_rate_sites(facts):
            if in_unit_interval(rate) and rate.drop_probability == 0:
                what = "keeps every activation" if rate.param == "keep_prob" else "drops nothing"
                yield Violation(
                    site.node,
                    f"`{site.callee_text}` with {describe_rate(rate)} {what}, so the layer is a "
                    "no-op; delete it or use a rate between 0 and 1",
                )
