"""NN403: a dropout rate outside [0, 1] is no probability."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import DROPOUT_MISUSE
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._dropout import (
    DROPOUT_TRIGGERS,
    constant_note,
    describe_rate,
    literal_rate_sites,
)
from nnlint.rules.base import Invalid, Rule, Violation


class DropoutRateOutOfRange(Rule):
    """
    ## What it does
    Flags a dropout layer or call whose rate (or TensorFlow 1 `keep_prob`) is a literal outside
    [0, 1]: a negative number such as `-0.1`, or one above 1 such as `1.5` or a percentage
    like `50`. Same APIs as NN401.

    ## Why is this bad?
    The rate is a probability. PyTorch and Keras raise `ValueError` when the layer is built,
    which may be hours into a job (in an evaluation script, or a branch taken late); a
    percentage written as `50` instead of `0.5` is a common slip.

    ## Example
    ```python
    from keras import layers

    drop = layers.Dropout(50)
    ```

    ## Use instead
    ```python
    from keras import layers

    drop = layers.Dropout(0.5)
    ```
    """

    code = "NN403"
    name = "dropout-rate-out-of-range"
    MESSAGE = "Dropout rate outside [0, 1] is no probability"
    REMEDY = "write the rate as a probability between 0 and 1 (0.5, not 50)"
    severity = Severity.ERROR
    failure_mode = DROPOUT_MISUSE
    triggers = DROPOUT_TRIGGERS

    VALID = [
        "import torch.nn as nn\nnn.Dropout(0.999)\n",
        "import torch.nn as nn\nnn.Dropout(-x)\n",
        "import torch.nn as nn\nnn.Dropout(1.0 + eps)\n",
        "from keras import layers\nlayers.Dropout(rate)\n",
        # The second positional argument of Dropout is ``inplace``, not the rate.
        "import torch.nn as nn\nnn.Dropout(0.5, 2)\n",
        # Tests that a bad rate is rejected are meant to fail (Keras's own test suite does this).
        "import pytest\nimport torch.nn as nn\n\n"
        "def test_rejects_rate():\n    with pytest.raises(ValueError):\n"
        "        nn.Dropout(1.5)\n",
        "from pytest import raises as expect\nfrom keras import layers\n"
        "with expect(ValueError, match='rate'):\n    layers.Dropout(rate=-0.5)\n",
        "import unittest\nfrom keras import layers\n\n"
        "class DropoutTest(unittest.TestCase):\n    def test_invalid_rate(self):\n"
        "        with self.assertRaisesRegex(ValueError, 'Invalid value'):\n"
        "            layers.Dropout(rate=1.5)\n",
    ]
    INVALID = [
        # A `with` that expects something else does not excuse the rate.
        Invalid(
            "import pytest\nimport torch.nn as nn\n"
            "with pytest.warns(UserWarning):\n    layer = nn.Dropout(1.5)\n",
            line=4,
            column=13,
            end_line=4,
            end_column=28,
            message=(
                "`nn.Dropout` with p=1.5 is outside [0, 1]: it fails when the layer is built or "
                "runs; use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nlayer = nn.Dropout(-0.1)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=25,
            message=(
                "`nn.Dropout` with p=-0.1 is outside [0, 1]: it fails when the layer is built or "
                "runs; use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nlayer = nn.Dropout(p=1.5)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=26,
            message=(
                "`nn.Dropout` with p=1.5 is outside [0, 1]: it fails when the layer is built or "
                "runs; use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "from keras import layers\nlayer = layers.Dropout(50)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=27,
            message=(
                "`layers.Dropout` with rate=50 is outside [0, 1]: it fails when the layer is "
                "built or runs; use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import torch.nn.functional as F\ny = F.dropout(x, p=2, training=False)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=38,
            message=(
                "`F.dropout` with p=2 is outside [0, 1]: it fails when the layer is built or "
                "runs; use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import tensorflow as tf\ny = tf.nn.dropout(x, keep_prob=-1)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=35,
            message=(
                "`tf.nn.dropout` with keep_prob=-1 is outside [0, 1]: it fails when the layer is "
                "built or runs; use a keep_prob between 0 and 1"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nRATE = -0.5\nlayer = nn.Dropout(RATE)\n",
            line=3,
            column=9,
            end_line=3,
            end_column=25,
            message=(
                "`nn.Dropout` with p=RATE (= -0.5) is outside [0, 1]: it fails when the layer is "
                "built or runs; use a rate between 0 and 1; `RATE` is set on line 2, and every "
                "use of it shares this rate"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        # torch and Keras reject the rate before they look at `training`, tests included.
        for site, rate in literal_rate_sites(facts, skip_deliberate=False):
            if rate.value is not None and not 0 <= rate.value <= 1:
                word = "keep_prob" if rate.param == "keep_prob" else "rate"
                yield Violation(
                    site.node,
                    f"`{site.callee_text}` with {describe_rate(rate)} is outside [0, 1]: it "
                    f"fails when the layer is built or runs; use a {word} between 0 and 1"
                    f"{constant_note(facts, rate)}",
                )
