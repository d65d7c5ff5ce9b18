"""NN402: a dropout rate of 0 (or ``keep_prob`` of 1) makes the layer do nothing."""

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


class DropoutRateZero(Rule):
    """
    ## What it does
    Flags a dropout layer or call whose rate is the literal 0 (`0`, `0.0`, `0.`, `.0`, `False`,
    or a module constant assigned once to it), and TensorFlow 1's `tf.nn.dropout` with
    `keep_prob=1.0`. Same APIs as NN401.

    Not flagged, because the boundary rate is deliberate or harmless there: a branch that runs
    only in evaluation mode (`else:` of `if is_training:`, the false branch of
    `tf.cond(is_training, ...)`), a dropout assigned over a layer of another model
    (`model.blocks[0].drop = nn.Dropout(0.0)` switches it off on purpose), calls with a literal
    `training=False` (they never drop), `test*` functions (tests pin what rate 0 or 1 does), and
    code under `with pytest.raises(...)` / `self.assertRaises...(...)`. `tf.nn.dropout`'s
    positional argument is read as TF1's `keep_prob` in files that use TF1-only APIs
    (`tf.placeholder`, `tf.Session`, `tf.get_variable`, ...) and for a literal 1 anywhere (TF2
    rejects `rate=1`, so code that runs with it is TF1 code), as TF2's `rate` otherwise.

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
    REMEDY = "delete the layer, or give it a rate between 0 and 1 if it should regularize"
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
        # A literal training=False never drops, whatever the rate (generated code does this).
        "import torch.nn.functional as F\ny = F.dropout(x, 0.0, False)\n",
        "import torch.nn.functional as F\ny = F.dropout(x, p=0.0, training=False)\n",
        # Tests pin what rate 0 does on purpose.
        "import torch\nimport torch.nn as nn\n\ndef test_zero_rate_is_identity():\n"
        "    x = torch.ones(4)\n    assert torch.equal(nn.Dropout(0.0)(x), x)\n",
        # Positional 0 in TF1 code is keep_prob 0 (NN401's business), not rate 0.
        "import tensorflow as tf\nx = tf.placeholder(tf.float32)\ny = tf.nn.dropout(x, 0.0)\n",
        # The evaluation branch switches dropout off on purpose (TF1 graph code).
        "import tensorflow as tf\nsess = tf.Session()\n\ndef net(h, train_mode):\n"
        "    if train_mode == True:\n        return tf.nn.dropout(h, 0.7)\n"
        "    else:\n        return tf.nn.dropout(h, 1.0)\n",
        "import tensorflow as tf\n\ndef model_fn(h, mode):\n"
        "    if mode != tf.estimator.ModeKeys.TRAIN:\n        return tf.nn.dropout(h, rate=0.0)\n"
        "    return tf.nn.dropout(h, rate=0.3)\n",
        # tf.cond's false branch is the evaluation path.
        "import tensorflow as tf\nsess = tf.Session()\n\ndef drop(x, keep_prob, is_train):\n"
        "    return tf.cond(\n        is_train,\n        lambda: tf.nn.dropout(x, keep_prob),\n"
        "        lambda: tf.nn.dropout(x, 1.0),\n    )\n",
        "from keras import backend as K\nfrom keras import layers\n\n"
        "def head(x, rate):\n"
        "    return K.in_train_phase(layers.Dropout(rate)(x), layers.Dropout(0.0)(x))\n",
        # Replacing a layer inside another model switches its dropout off on purpose.
        "import timm\nimport torch.nn as nn\n\nmodel = timm.create_model('vit_small_patch16_224')\n"
        "for block in model.blocks:\n    block.attn.proj_drop = nn.Dropout(p=0.0)\n",
        "import torch.nn as nn\n\nclass Tuned(nn.Module):\n    def __init__(self, backbone):\n"
        "        super().__init__()\n        self.backbone = backbone\n"
        "        self.backbone.dropout = nn.Dropout(0.0)\n",
    ]
    INVALID = [
        Invalid(
            "import torch.nn as nn\nlayer = nn.Dropout(0.0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=24,
            message=(
                "`nn.Dropout` with p=0.0 drops nothing, so the layer is a no-op; delete it or "
                "use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nlayer = nn.Dropout(p=0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=24,
            message=(
                "`nn.Dropout` with p=0 drops nothing, so the layer is a no-op; delete it or use "
                "a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nlayer = nn.AlphaDropout(.0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=28,
            message=(
                "`nn.AlphaDropout` with p=.0 drops nothing, so the layer is a no-op; delete it "
                "or use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nlayer = nn.FeatureAlphaDropout(0.)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=35,
            message=(
                "`nn.FeatureAlphaDropout` with p=0. drops nothing, so the layer is a no-op; "
                "delete it or use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nlayer = nn.Dropout3d(-0.0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=27,
            message=(
                "`nn.Dropout3d` with p=-0.0 drops nothing, so the layer is a no-op; delete it or "
                "use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import torch.nn.functional as F\ny = F.dropout(x, 0.0, training=self.training)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=46,
            message=(
                "`F.dropout` with p=0.0 drops nothing, so the layer is a no-op; delete it or use "
                "a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import keras\nlayer = keras.layers.Dropout(0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=32,
            message=(
                "`keras.layers.Dropout` with rate=0 drops nothing, so the layer is a no-op; "
                "delete it or use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "from keras.layers import GaussianDropout\nlayer = GaussianDropout(rate=0.0)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=34,
            message=(
                "`GaussianDropout` with rate=0.0 drops nothing, so the layer is a no-op; delete "
                "it or use a rate between 0 and 1"
            ),
        ),
        Invalid(
            "import tensorflow as tf\ny = tf.nn.dropout(x, keep_prob=1.0)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=36,
            message=(
                "`tf.nn.dropout` with keep_prob=1.0 keeps every activation, so the layer is a "
                "no-op; delete it or use a keep_prob below 1"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nDROP: float = 0.0\nlayer = nn.Dropout(DROP)\n",
            line=3,
            column=9,
            end_line=3,
            end_column=25,
            message=(
                "`nn.Dropout` with p=DROP (= 0.0) drops nothing, so the layer is a no-op; delete "
                "it or use a rate between 0 and 1; `DROP` is set on line 2, and every use of it "
                "shares this rate"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nlayer = nn.Dropout(False)\n",
            line=2,
            column=9,
            end_line=2,
            end_column=26,
            message=(
                "`nn.Dropout` with p=False (= 0) drops nothing, so the layer is a no-op; delete "
                "it or use a rate between 0 and 1"
            ),
        ),
        # TF1 code (tf.placeholder): the positional argument is keep_prob; 1.0 keeps everything.
        Invalid(
            "import tensorflow as tf\nx = tf.placeholder(tf.float32)\ny = tf.nn.dropout(x, 1.0)\n",
            line=3,
            column=5,
            end_line=3,
            end_column=26,
            message=(
                "`tf.nn.dropout` with keep_prob=1.0 keeps every activation, so the layer is a "
                "no-op; delete it or use a keep_prob below 1"
            ),
        ),
        # No TF1 sign, but TF2 rejects rate=1: code that runs with it is TF1 keeping everything.
        Invalid(
            "import tensorflow as tf\ny = tf.nn.dropout(h, 1.0)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=26,
            message=(
                "`tf.nn.dropout` with keep_prob=1.0 keeps every activation, so the layer is a "
                "no-op; delete it or use a keep_prob below 1"
            ),
        ),
        # TF2 positional rate 0.
        Invalid(
            "import tensorflow as tf\ny = tf.nn.dropout(h, 0.0)\n",
            line=2,
            column=5,
            end_line=2,
            end_column=26,
            message=(
                "`tf.nn.dropout` with rate=0.0 drops nothing, so the layer is a no-op; delete it "
                "or use a rate between 0 and 1"
            ),
        ),
        # The code's own layer (`self.drop`) is still reported.
        Invalid(
            "import torch.nn as nn\n\nclass Head(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.drop = nn.Dropout(0.0)\n",
            line=6,
            column=21,
            end_line=6,
            end_column=36,
            message=(
                "`nn.Dropout` with p=0.0 drops nothing, so the layer is a no-op; delete it or "
                "use a rate between 0 and 1"
            ),
        ),
        # tf.cond's true branch is the training path: rate 0 there is a real no-op.
        Invalid(
            "import tensorflow as tf\n\ndef drop(x, is_train):\n"
            "    return tf.cond(is_train, lambda: tf.nn.dropout(x, rate=0.0), lambda: x)\n",
            line=4,
            column=38,
            end_line=4,
            end_column=64,
            message=(
                "`tf.nn.dropout` with rate=0.0 drops nothing, so the layer is a no-op; delete it "
                "or use a rate between 0 and 1"
            ),
        ),
        # `mode != "eval"` may be prediction: it proves nothing about the mode.
        Invalid(
            "import tensorflow as tf\n\ndef model_fn(h, mode):\n"
            "    if mode == 'eval':\n        return h\n    return tf.nn.dropout(h, rate=0.0)\n",
            line=6,
            column=12,
            end_line=6,
            end_column=38,
            message=(
                "`tf.nn.dropout` with rate=0.0 drops nothing, so the layer is a no-op; delete it "
                "or use a rate between 0 and 1"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        for site, rate in literal_rate_sites(facts):
            if site.call.eval_only or site.call.replaces_attribute:
                # `else: h = tf.nn.dropout(h, 1.0)` after a training branch, or
                # `model.encoder.drop = nn.Dropout(0.0)`: dropout switched off on purpose.
                continue
            if in_unit_interval(rate) and rate.drop_probability == 0:
                if rate.param == "keep_prob":
                    what, instead = "keeps every activation", "a keep_prob below 1"
                else:
                    what, instead = "drops nothing", "a rate between 0 and 1"
                yield Violation(
                    site.node,
                    f"`{site.callee_text}` with {describe_rate(rate)} {what}, so the layer is a "
                    f"no-op; delete it or use {instead}{constant_note(facts, rate)}",
                )
