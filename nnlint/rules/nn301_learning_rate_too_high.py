"""NN301: a literal learning rate far above the usual range for its optimizer."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import LEARNING_RATE
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._dropout import expression_text
from nnlint.rules._training import callee_text, training_facts
from nnlint.rules.base import Invalid, Rule, Valid, Violation

# The usual range and a safe starting point per family, for the message.
_USUAL = {"sgd": ("0.001-0.1", "0.01"), "adaptive": ("1e-4-1e-3", "1e-3")}


class LearningRateTooHigh(Rule):
    """
    ## What it does
    Flags an optimizer constructed with a learning rate nnlint can read (a literal, a module
    constant, or a local assigned once from a literal in the same function) at or above a
    threshold for its family: 2.0 for SGD (`torch.optim.SGD`/`ASGD`, Keras `SGD`, TF1
    `GradientDescentOptimizer`/`MomentumOptimizer`) and 0.1 for adaptive optimizers (`Adam`,
    `AdamW`, `RMSprop`, `Adagrad`, `NAdam`/`Nadam`, `RAdam`, `Adamax`, `SparseAdam`, `Lion`,
    and TF1's `AdamOptimizer`, `RMSPropOptimizer`, `AdagradOptimizer`). PyTorch takes it as
    `lr` (second positional), Keras as `learning_rate` (first positional; the old `lr=` too).

    SGD at exactly 1.0 is left alone by default: on shallow and convex models (logistic
    regression, word2vec's sparse embedding updates, a two-layer toy net) it is a common and
    working choice. Adadelta and LBFGS, whose usual learning rate is 1.0, are not checked.
    Learning rates that come from the command line, a config or a schedule are not literals
    and are not flagged, and neither are optimizers built inside `test*` functions (tests use
    large steps on purpose), optimizers over tensors listed by hand (`Adam([image], lr=0.1)`:
    feature visualisation and style transfer optimise pixels, where large steps are normal)
    and optimizers whose rate a `LambdaLR`/`MultiplicativeLR` multiplies by a schedule (the
    literal is then a base scale, as in the Transformer's `lr=1` with the Noam schedule).

    ## Why is this bad?
    The learning rate scales every update. Far above the usual range, one update can move the
    weights further than the loss surface is smooth: the loss jumps, gradients explode into
    inf/NaN, and in ReLU networks large updates push biases so far negative that units stop
    firing for every input and never recover (dead ReLUs). Adaptive optimizers normalise the
    step per parameter, so their step is about `lr` for every weight: 0.1 is already huge.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ```

    ## Options
    - `sgd-threshold` (default 2.0): the smallest SGD learning rate flagged (1.0 flags
      `SGD(lr=1.0)` too).
    - `adaptive-threshold` (default 0.1): the smallest learning rate flagged for adaptive
      optimizers.

    ```toml
    [tool.nnlint.learning-rate-too-high]
    adaptive-threshold = 0.05
    ```
    """

    code = "NN301"
    name = "learning-rate-too-high"
    MESSAGE = (
        "Learning rate far above the usual range for its optimizer: exploding gradients and "
        "dead ReLU units; lower it"
    )
    severity = Severity.WARNING
    failure_mode = LEARNING_RATE
    options = {"sgd-threshold": 2.0, "adaptive-threshold": 0.1}
    # The optimizer classes as called (`Adam(` also matches `NAdam(`, `RAdam(`, `SparseAdam(`;
    # `SGD(` matches `ASGD(`; `Optimizer(` TF1's `AdamOptimizer(`...): "optim" alone is in
    # every scheduler and optimizer implementation.
    triggers = (
        b"SGD(",
        b"Adam(",
        b"AdamW(",
        b"Nadam(",
        b"Adamax(",
        b"RMSprop(",
        b"Adagrad(",
        b"Optimizer(",
    )

    VALID = [
        "import torch\nopt = torch.optim.Adam(model.parameters(), lr=1e-3)\n",
        "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)\n",
        # Adadelta and LBFGS use 1.0 by design.
        "import torch\nopt = torch.optim.Adadelta(model.parameters(), lr=1.0)\n",
        "import torch\nopt = torch.optim.LBFGS(model.parameters(), lr=1)\n",
        # Not literals: CLI, config, schedules, a parameter, a sweep.
        "import torch\nopt = torch.optim.Adam(model.parameters(), lr=args.lr)\n",
        "import torch\n\ndef make(model, lr=0.5):\n"
        "    return torch.optim.Adam(model.parameters(), lr=lr)\n",
        "import torch\n\nfor lr in (0.1, 1.0):\n"
        "    opt = torch.optim.Adam(model.parameters(), lr=lr)\n",
        "from tensorflow import keras\n"
        "opt = keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(1.0, 10, 0.9))\n",
        # A local assigned twice is not a literal.
        "import torch\n\ndef make(model, fast):\n    lr = 1e-3\n    if fast:\n        lr = 0.5\n"
        "    return torch.optim.Adam(model.parameters(), lr=lr)\n",
        # Pixels, not weights: feature visualisation and style transfer.
        "import torch\nopt = torch.optim.SGD([image], lr=12)\n",
        # A schedule multiplies the base rate (the Noam schedule of the Transformer).
        "import torch\nfrom torch.optim.lr_scheduler import LambdaLR\n\ndef make(model, rate):\n"
        "    optimizer = torch.optim.Adam(model.parameters(), lr=1, betas=(0.9, 0.98))\n"
        "    return optimizer, LambdaLR(optimizer=optimizer, lr_lambda=rate)\n",
        # Tests take large steps on purpose.
        "import torch\n\ndef test_step_moves_weights():\n"
        "    opt = torch.optim.SGD(model.parameters(), lr=10.0)\n",
        # TF1's classic softmax-regression tutorial: SGD at 0.5 is fine, and so is word2vec's 1.0.
        "import tensorflow as tf\ntrain = tf.train.GradientDescentOptimizer(0.5).minimize(loss)\n",
        "import tensorflow as tf\nLEARNING_RATE = 1.0\n"
        "opt = tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)\n",
        Valid(
            "import torch\nopt = torch.optim.Adam(model.parameters(), lr=0.2)\n",
            options={"adaptive-threshold": 0.3},
        ),
    ]
    INVALID = [
        Invalid(
            "import torch\nopt = torch.optim.Adam(model.parameters(), lr=0.5)\n",
            line=2,
            column=47,
            end_line=2,
            end_column=50,
            message=(
                "`torch.optim.Adam` with learning rate 0.5 is at or above 0.1, far above the "
                "usual 1e-4-1e-3 for Adam: updates this large explode gradients and kill ReLU "
                "units; lower it (start around 1e-3)"
            ),
        ),
        # Positional lr.
        Invalid(
            "from torch import optim\nopt = optim.SGD(net.parameters(), 10)\n",
            line=2,
            column=35,
            end_line=2,
            end_column=37,
            message=(
                "`optim.SGD` with learning rate 10 is at or above 2, far above the usual "
                "0.001-0.1 for SGD: updates this large explode gradients and kill ReLU units; "
                "lower it (start around 0.01)"
            ),
        ),
        # Through a module constant.
        Invalid(
            "import torch.optim as optim\nLR = 1.0\nopt = optim.RMSprop(net.parameters(), lr=LR)\n",
            line=3,
            column=42,
            end_line=3,
            end_column=44,
            message=(
                "`optim.RMSprop` with learning rate LR (= 1) is at or above 0.1, far above "
                "the usual 1e-4-1e-3 for RMSprop: updates this large explode gradients and "
                "kill ReLU units; lower it (start around 1e-3)"
            ),
        ),
        # Through a local assigned once from a literal.
        Invalid(
            "import torch\n\ndef train(model):\n    learning_rate = 0.1\n"
            "    opt = torch.optim.AdamW(model.parameters(), learning_rate)\n",
            line=5,
            column=49,
            end_line=5,
            end_column=62,
            message=(
                "`torch.optim.AdamW` with learning rate learning_rate (= 0.1) is at or above "
                "0.1, far above the usual 1e-4-1e-3 for AdamW: updates this large explode "
                "gradients and kill ReLU units; lower it (start around 1e-3)"
            ),
        ),
        # Keras: learning_rate first, and the old lr= keyword.
        Invalid(
            "from tensorflow import keras\nmodel.compile(optimizer=keras.optimizers.Adam(0.1))\n",
            line=2,
            column=47,
            end_line=2,
            end_column=50,
            message=(
                "`keras.optimizers.Adam` with learning rate 0.1 is at or above 0.1, far above "
                "the usual 1e-4-1e-3 for Adam: updates this large explode gradients and kill "
                "ReLU units; lower it (start around 1e-3)"
            ),
        ),
        Invalid(
            "from keras.optimizers import SGD\nopt = SGD(lr=2.0)\n",
            line=2,
            column=14,
            end_line=2,
            end_column=17,
            message=(
                "`SGD` with learning rate 2.0 is at or above 2, far above the usual 0.001-0.1 "
                "for SGD: updates this large explode gradients and kill ReLU units; lower it "
                "(start around 0.01)"
            ),
        ),
        Invalid(
            "import tensorflow as tf\nopt = tf.train.AdamOptimizer(learning_rate=0.5)\n",
            line=2,
            column=44,
            end_line=2,
            end_column=47,
            message=(
                "`tf.train.AdamOptimizer` with learning rate 0.5 is at or above 0.1, far "
                "above the usual 1e-4-1e-3 for AdamOptimizer: updates this large explode "
                "gradients and kill ReLU units; lower it (start around 1e-3)"
            ),
        ),
        Invalid(
            "import torch\nopt = torch.optim.Adam(model.parameters(), lr=0.05)\n",
            line=2,
            column=47,
            end_line=2,
            end_column=51,
            message=(
                "`torch.optim.Adam` with learning rate 0.05 is at or above 0.05, far above "
                "the usual 1e-4-1e-3 for Adam: updates this large explode gradients and kill "
                "ReLU units; lower it (start around 1e-3)"
            ),
            options={"adaptive-threshold": 0.05},
        ),
        Invalid(
            "import torch\nopt = torch.optim.SGD(model.parameters(), lr=1.0)\n",
            line=2,
            column=46,
            end_line=2,
            end_column=49,
            message=(
                "`torch.optim.SGD` with learning rate 1.0 is at or above 1, far above the "
                "usual 0.001-0.1 for SGD: updates this large explode gradients and kill ReLU "
                "units; lower it (start around 0.01)"
            ),
            options={"sgd-threshold": 1.0},
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        thresholds = {
            "sgd": float(self.settings["sgd-threshold"]),
            "adaptive": float(self.settings["adaptive-threshold"]),
        }
        for site in training_facts(facts).optimizers:
            lr = site.lr
            if lr is None or site.call.expects_error or site.call.scope.in_test_function:
                continue
            if site.tensors or site.scaled_by_schedule:
                continue
            family = site.spec.family
            threshold = thresholds[family]
            if lr.value < threshold:
                continue
            written = expression_text(lr.node)
            shown = f"{written} (= {lr.value:g})" if lr.via is not None else written
            usual, start = _USUAL[family]
            name = site.spec.qualname.rsplit(".", 1)[1]
            yield Violation(
                lr.node,
                f"`{callee_text(site.call)}` with learning rate {shown} is at or above "
                f"{threshold:g}, far above the usual {usual} for {name}: updates this large "
                f"explode gradients and kill ReLU units; lower it (start around {start})",
            )
