"""NN401: a dropout rate of 1 (or ``keep_prob`` of 0) drops every activation."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import DROPOUT_MISUSE
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._dropout import (
    DROPOUT_TRIGGERS,
    constant_note,
    describe_rate,
    in_unit_interval,
    literal_rate_sites,
)
from nnlint.rules.base import Invalid, Rule, Violation


class DropoutRateOne(Rule):
    """
    ## What it does
    Flags a dropout layer or call whose rate is the literal 1 (`1`, `1.0`, `1e0`, `True`, or a
    module constant assigned once to it), and TensorFlow 1's `tf.nn.dropout` with
    `keep_prob=0`. Covers `torch.nn.Dropout*`/`AlphaDropout`/`FeatureAlphaDropout`,
    `torch.nn.functional.dropout*`/`alpha_dropout`/`feature_alpha_dropout`, `torch.dropout`,
    Keras `layers.Dropout`/`SpatialDropout1D/2D/3D`/`AlphaDropout`/`GaussianDropout` (also
    through `tf.keras`), `tf.nn.dropout` and TF1's `tf.layers.dropout`, resolved through imports
    and aliases.

    Not flagged, because the boundary rate is deliberate or harmless there: calls with a literal
    `training=False` (they never drop), `test*` functions (tests pin what rate 0 or 1 does), and
    code under `with pytest.raises(...)` / `self.assertRaises...(...)`. `tf.nn.dropout`'s
    positional argument is read as TF1's `keep_prob` in files that use TF1-only APIs
    (`tf.placeholder`, `tf.Session`, `tf.get_variable`, ...) and for a literal 1 anywhere (TF2
    rejects `rate=1`, so code that runs with it is TF1 code), as TF2's `rate` otherwise.

    ## Why is this bad?
    A rate of 1 zeroes every activation on every training step: nothing reaches the layers
    above, no gradient reaches the layers below, and the model learns nothing. (A rate from a
    parameter, a config or the command line is not checked: only literals are.)

    ## Example
    ```python
    import torch.nn as nn

    head = nn.Sequential(nn.Linear(512, 512), nn.Dropout(p=1.0), nn.Linear(512, 10))
    ```

    ## Use instead
    ```python
    import torch.nn as nn

    head = nn.Sequential(nn.Linear(512, 512), nn.Dropout(p=0.1), nn.Linear(512, 10))
    ```
    """

    code = "NN401"
    name = "dropout-rate-one"
    MESSAGE = "Dropout rate 1 drops every activation: the model learns nothing"
    REMEDY = "use a rate strictly between 0 and 1 (0.1-0.5 is typical; keep_prob 0.5-0.9)"
    severity = Severity.ERROR
    failure_mode = DROPOUT_MISUSE
    triggers = DROPOUT_TRIGGERS

    VALID = [
        "import torch.nn as nn\nnn.Dropout(0.5)\n",
        "import torch.nn as nn\nnn.Dropout(p=args.dropout)\n",
        "import torch.nn as nn\nnn.Dropout(cfg.drop_rate)\n",
        # A user's own class named Dropout is not torch's.
        "import torch\nclass Dropout:\n    def __init__(self, p): ...\nDropout(1.0)\n",
        "import torch\nfrom mylib import nn\nnn.Dropout(1.0)\n",
        # A constant assigned twice is not a constant.
        "import torch.nn as nn\nDROP = 1.0\nif fast:\n    DROP = 0.1\nnn.Dropout(DROP)\n",
        # A parameter shadows the module constant.
        "import torch.nn as nn\nDROP = 1.0\ndef make(DROP):\n    return nn.Dropout(DROP)\n",
        # TF2 ``tf.nn.dropout``'s second positional argument is ``rate``: 0.999 is allowed.
        "import tensorflow as tf\ny = tf.nn.dropout(x, 0.999)\n",
        # TF1 keep_prob=1.0 keeps everything: that is NN402's business, not this rule's.
        "import tensorflow as tf\ny = tf.nn.dropout(x, keep_prob=1.0)\n",
        "import torch.nn.functional as F\ny = F.dropout(x, 1.0 - keep)\n",
        "import torch.nn as nn\nnn.Dropout(inplace=True)\n",
        "import torch.nn as nn\nnn.Dropout(*args)\n",
        # A positional 1.0 without TF1 signs: TF2 would reject rate=1, so it is TF1's keep_prob
        # (keeps everything: NN402), never "drops every activation".
        "import tensorflow as tf\ny = tf.nn.dropout(h, 1.0)\n",
        # A literal training=False never drops, whatever the rate.
        "import torch.nn.functional as F\ny = F.dropout(x, 1.0, training=False)\n",
        # A test that rate 1 zeroes the output does it on purpose.
        "import tensorflow as tf\n\ndef test_rate_one_zeroes_output():\n"
        "    layer = tf.keras.layers.Dropout(rate=1.0)\n",
        "import torch.nn as nn\n\nclass TestDropout:\n    def test_all_dropped(self):\n"
        "        assert nn.Dropout(1.0)\n",
    ]
    INVALID = [
        Invalid(
            "import torch.nn as nn\nlayer = nn.Dropout(1.0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=24,
            message=(
                "`nn.Dropout` with p=1.0 drops every activation, so the model learns nothing; "
                "use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        # TF1 code: the positional argument is keep_prob, and 0 keeps nothing.
        Invalid(
            "import tensorflow as tf\nsess = tf.Session()\ny = tf.nn.dropout(x, 0.0)\n",
            line=3,
            column=5,
            end_line=3,
            end_column=26,
            message=(
                "`tf.nn.dropout` with keep_prob=0.0 keeps no activation, so the model learns "
                "nothing; use a keep_prob strictly between 0 and 1 (0.5-0.9 is typical)"
            ),
        ),
        Invalid(
            "import tensorflow as tf\ny = tf.layers.dropout(x, rate=1.0, training=t)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=47,
            message=(
                "`tf.layers.dropout` with rate=1.0 drops every activation, so the model learns "
                "nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        # Not a test function: a helper that merely has "test" elsewhere in its name.
        Invalid(
            "import torch.nn as nn\n\ndef build_latest():\n    return nn.Dropout(1.0)\n",
            line=4,
            column=12,
            end_line=4,
            end_column=27,
            message=(
                "`nn.Dropout` with p=1.0 drops every activation, so the model learns nothing; "
                "use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nlayer = nn.Dropout(p=1)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=24,
            message=(
                "`nn.Dropout` with p=1 drops every activation, so the model learns nothing; use "
                "a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "from torch import nn\nlayer = nn.Dropout2d((1.0))\n",
            line=2,
            column=9,
            end_line=2,
            end_column=28,
            message=(
                "`nn.Dropout2d` with p=(1.0) drops every activation, so the model learns "
                "nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "from torch.nn import Dropout as D\nlayer = D(1e0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=15,
            message=(
                "`D` with p=1e0 drops every activation, so the model learns nothing; use a rate "
                "strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "import torch.nn.functional as F\ny = F.dropout(x, 1., training=True)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=36,
            message=(
                "`F.dropout` with p=1. drops every activation, so the model learns nothing; use "
                "a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "import torch\ny = torch.dropout(x, 1.0, True)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=32,
            message=(
                "`torch.dropout` with p=1.0 drops every activation, so the model learns nothing; "
                "use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nDROP = 1.0\nlayer = nn.Dropout(DROP)\n",
            line=3,
            column=9,
            end_line=3,
            end_column=25,
            message=(
                "`nn.Dropout` with p=DROP (= 1.0) drops every activation, so the model learns "
                "nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical); `DROP` is "
                "set on line 2, and every use of it shares this rate"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nlayer = nn.Dropout(True)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=25,
            message=(
                "`nn.Dropout` with p=True (= 1) drops every activation, so the model learns "
                "nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "from keras import layers\nlayer = layers.Dropout(rate=1.0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=33,
            message=(
                "`layers.Dropout` with rate=1.0 drops every activation, so the model learns "
                "nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "import tensorflow.keras.layers as L\nlayer = L.SpatialDropout2D(1)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=30,
            message=(
                "`L.SpatialDropout2D` with rate=1 drops every activation, so the model learns "
                "nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "import tensorflow as tf\nlayer = tf.keras.layers.Dropout(1.0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=37,
            message=(
                "`tf.keras.layers.Dropout` with rate=1.0 drops every activation, so the model "
                "learns nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "from tensorflow import keras\nlayer = keras.layers.AlphaDropout(1.0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=39,
            message=(
                "`keras.layers.AlphaDropout` with rate=1.0 drops every activation, so the model "
                "learns nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "import tensorflow as tf\ny = tf.nn.dropout(x, keep_prob=0)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=34,
            message=(
                "`tf.nn.dropout` with keep_prob=0 keeps no activation, so the model learns "
                "nothing; use a keep_prob strictly between 0 and 1 (0.5-0.9 is typical)"
            ),
        ),
        Invalid(
            "import tensorflow as tf\ny = tf.nn.dropout(x, rate=1.0)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=31,
            message=(
                "`tf.nn.dropout` with rate=1.0 drops every activation, so the model learns "
                "nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "import tensorflow.compat.v1 as tf\ny = tf.nn.dropout(x, 0.0)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=26,
            message=(
                "`tf.nn.dropout` with keep_prob=0.0 keeps no activation, so the model learns "
                "nothing; use a keep_prob strictly between 0 and 1 (0.5-0.9 is typical)"
            ),
        ),
        Invalid(
            "from torch.nn import *\nlayer = Dropout(1.0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=21,
            message=(
                "`Dropout` with p=1.0 drops every activation, so the model learns nothing; use a "
                "rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
        Invalid(
            "import torch.nn as nn\n\nclass Head(nn.Module):\n"
            "    def __init__(self):\n        super().__init__()\n"
            "        self.drop = nn.Dropout(\n            p=1.0,\n        )\n",
            # A finding points at the call, so a noqa goes on the call's first line.
            line=6,
            column=21,
            end_line=8,
            end_column=10,
            message=(
                "`nn.Dropout` with p=1.0 drops every activation, so the model learns nothing; "
                "use a rate strictly between 0 and 1 (0.1-0.5 is typical)"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        for site, rate in literal_rate_sites(facts):
            if in_unit_interval(rate) and rate.drop_probability == 1:
                if rate.param == "keep_prob":
                    what = "keeps no activation"
                    fix = "a keep_prob strictly between 0 and 1 (0.5-0.9 is typical)"
                else:
                    what = "drops every activation"
                    fix = "a rate strictly between 0 and 1 (0.1-0.5 is typical)"
                yield Violation(
                    site.node,
                    f"`{site.callee_text}` with {describe_rate(rate)} {what}, so the model learns "
                    f"nothing; use {fix}{constant_note(facts, rate)}",
                )
