"""NN501: a softmax/sigmoid output fed to a loss that applies the activation itself."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import LOSS_OUTPUT_MISMATCH
from nnlint.extractors.training import LossApplication, Producer
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._training import call_summary, callee_text, once_per_model, training_facts
from nnlint.rules.base import Invalid, Rule, Violation

_TORCH_PAIRS = {
    # A loss that takes logits, the activation it applies itself, what to pass instead.
    "softmax": "log-softmax",
    "sigmoid": "sigmoid",
}


class ProbabilitiesToLogitsLoss(Rule):
    """
    ## What it does
    Flags a softmax (or sigmoid) output passed to a loss that applies that activation itself:
    `nn.CrossEntropyLoss` / `F.cross_entropy` on `softmax(...)` (written inline, through a
    local, or the output of a model defined in the same file whose last layer is a softmax),
    `nn.BCEWithLogitsLoss` / `F.binary_cross_entropy_with_logits` on a sigmoid output, TF's
    `softmax_cross_entropy_with_logits` (and `sparse_`, `sigmoid_`, `tf.losses.*`) on a softmax
    or sigmoid output, and Keras losses with `from_logits=True` on a softmax/sigmoid output,
    including `model.compile(loss=...(from_logits=True))` for a model whose last layer is a
    softmax.

    Keras `softmax` + `categorical_crossentropy` (`from_logits=False`, the default) is correct
    and not flagged; neither is `log_softmax` + `NLLLoss`.

    ## Why is this bad?
    `CrossEntropyLoss` computes `log_softmax` of its input. Given probabilities, it applies a
    second softmax to numbers in [0, 1]: every class ends up with nearly the same score, the
    loss can never get close to 0, and the gradient that reaches the model is scaled down by
    the softmax's Jacobian. Training stalls or converges to a worse model, with no error
    message. The same holds for a sigmoid before a with-logits binary loss.

    ## Example
    ```python
    import torch.nn.functional as F

    probs = F.softmax(model(x), dim=1)
    loss = F.cross_entropy(probs, y)
    ```

    ## Use instead
    ```python
    import torch.nn.functional as F

    logits = model(x)
    loss = F.cross_entropy(logits, y)
    probs = F.softmax(logits, dim=1)  # for metrics only
    ```
    """

    code = "NN501"
    name = "probabilities-to-logits-loss"
    MESSAGE = "Softmax/sigmoid output fed to a loss that applies it again; pass the logits"
    severity = Severity.ERROR
    failure_mode = LOSS_OUTPUT_MISMATCH
    # The losses that take logits (softmax/sigmoid are in every attention and gating layer).
    triggers = (b"rossEntropy", b"ross_entropy", b"with_logits", b"WithLogits", b"from_logits")

    VALID = [
        "import torch.nn.functional as F\nloss = F.cross_entropy(model(x), y)\n",
        # log_softmax + NLLLoss is the decomposed cross-entropy.
        "import torch.nn as nn\nimport torch.nn.functional as F\n"
        "loss = nn.NLLLoss()(F.log_softmax(model(x), dim=1), y)\n",
        "import torch.nn.functional as F\nloss = F.cross_entropy(F.log_softmax(out, 1), y)\n",
        # Keras softmax + categorical_crossentropy (from_logits=False) is the intended pairing.
        "from tensorflow import keras\n"
        "loss = keras.losses.categorical_crossentropy(y, keras.activations.softmax(z))\n",
        # Softmax only for metrics; the loss gets the logits.
        "import torch\nimport torch.nn as nn\n\ncriterion = nn.CrossEntropyLoss()\n\n"
        "def step(model, x, y):\n    logits = model(x)\n    probs = torch.softmax(logits, -1)\n"
        "    loss = criterion(logits, y)\n    return loss, probs\n",
        # Reassigned on one branch only: nnlint cannot tell which value reaches the loss.
        "import torch\nimport torch.nn.functional as F\n\ndef step(out, y, calibrate):\n"
        "    if calibrate:\n        out = torch.softmax(out, -1)\n"
        "    return F.cross_entropy(out, y)\n",
        # A loss object received as a parameter could be anything.
        "import torch\n\ndef step(criterion, out, y):\n"
        "    return criterion(torch.softmax(out, 1), y)\n",
    ]
    INVALID = [
        Invalid(
            "import torch.nn.functional as F\n\ndef step(model, x, y):\n"
            "    probs = F.softmax(model(x), dim=1)\n    return F.cross_entropy(probs, y)\n",
            line=5,
            column=28,
            end_line=5,
            end_column=33,
            message=(
                "`F.cross_entropy` applies log-softmax itself, but its input is already a "
                "softmax output (`F.softmax(...)`): the activation is applied twice, which "
                "squashes the outputs and shrinks the gradients; pass the logits"
            ),
        ),
        Invalid(
            "import torch\nimport torch.nn as nn\n\ncriterion = nn.CrossEntropyLoss()\n\n"
            "def train(model, loader):\n    for x, y in loader:\n        out = model(x)\n"
            "        out = torch.softmax(out, dim=-1)\n        loss = criterion(out, y)\n",
            line=10,
            column=26,
            end_line=10,
            end_column=29,
            message=(
                "`nn.CrossEntropyLoss` applies log-softmax itself, but its input is already a "
                "softmax output (`torch.softmax(...)`): the activation is applied twice, "
                "which squashes the outputs and shrinks the gradients; pass the logits"
            ),
        ),
        Invalid(
            "import torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.loss = nn.CrossEntropyLoss()\n\n"
            "    def training_step(self, x, y):\n"
            "        return self.loss(self.head(x).softmax(dim=1), y)\n",
            line=9,
            column=26,
            end_line=9,
            end_column=53,
            message=(
                "`nn.CrossEntropyLoss` applies log-softmax itself, but its input is already a "
                "softmax output: the activation is applied twice, which squashes the outputs "
                "and shrinks the gradients; pass the logits"
            ),
        ),
        Invalid(
            "import torch\nimport torch.nn as nn\n"
            "loss = nn.BCEWithLogitsLoss()(torch.sigmoid(out), y)\n",
            line=3,
            column=31,
            end_line=3,
            end_column=49,
            message=(
                "`nn.BCEWithLogitsLoss` applies sigmoid itself, but its input is already a "
                "sigmoid output: the activation is applied twice, which squashes the outputs "
                "and shrinks the gradients; pass the logits"
            ),
        ),
        Invalid(
            "import tensorflow as tf\n"
            "loss = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=tf.nn.softmax(z))\n",
            line=2,
            column=65,
            end_line=2,
            end_column=81,
            message=(
                "`tf.nn.softmax_cross_entropy_with_logits` applies log-softmax itself, but "
                "its input is already a softmax output: the activation is applied twice, "
                "which squashes the outputs and shrinks the gradients; pass the logits"
            ),
        ),
        Invalid(
            "import tensorflow as tf\ny_pred = tf.nn.sigmoid(z)\n"
            "loss = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=y_pred)\n",
            line=3,
            column=65,
            end_line=3,
            end_column=71,
            message=(
                "`tf.nn.softmax_cross_entropy_with_logits` applies log-softmax itself, but "
                "its input is already a sigmoid output (`tf.nn.sigmoid(...)`): the activation "
                "is applied twice, which squashes the outputs and shrinks the gradients; pass "
                "the logits"
            ),
        ),
        Invalid(
            "from tensorflow import keras\n"
            "loss = keras.losses.categorical_crossentropy(\n"
            "    y, keras.activations.softmax(z), from_logits=True\n)\n",
            line=3,
            column=8,
            end_line=3,
            end_column=36,
            message=(
                "`keras.losses.categorical_crossentropy` from_logits=True applies softmax, "
                "but its input is already a softmax output: the activation is applied twice, "
                "which squashes the outputs and shrinks the gradients; pass the logits"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        training = training_facts(facts)
        for application in once_per_model(training.losses):
            producer = application.producer
            if producer is None or producer.activation not in ("softmax", "sigmoid"):
                continue
            spec = application.spec
            takes_logits = spec.expects == "logits" or application.from_logits is True
            if not takes_logits:
                continue
            if spec.framework == "torch" and producer.activation != spec.activation:
                continue  # sigmoid into CrossEntropyLoss is another bug (not this rule's)
            if application.construction.expects_error:
                continue
            yield Violation(application.prediction or application.call, _message(application))
        for compiled in training.compiles:
            output = compiled.output
            if output is None or not compiled.from_logits:
                continue
            if output.activation not in ("softmax", "sigmoid"):
                continue
            yield Violation(
                compiled.loss_node,
                f"`{compiled.loss_name}` with from_logits=True, but the last layer of "
                f"`{output.model}` already applies {output.activation}: it is applied twice, "
                "which squashes the outputs and shrinks the gradients; drop from_logits=True or "
                "make the last layer linear",
            )


def _message(application: LossApplication) -> str:
    producer = application.producer
    assert producer is not None
    loss = callee_text(application.construction)
    spec = application.spec
    applies = (
        f"from_logits=True applies {producer.activation}"
        if application.from_logits
        else f"applies {_TORCH_PAIRS.get(spec.activation, spec.activation)} itself"
    )
    return (
        f"`{loss}` {applies}, but its input {_describe(producer)}: the activation is applied "
        "twice, which squashes the outputs and shrinks the gradients; pass the logits"
    )


def _describe(producer: Producer) -> str:
    if producer.via == "model":
        return f"is the output of `{producer.model}`, whose last layer is a {producer.activation}"
    if producer.via == "local":
        return f"is already a {producer.activation} output (`{call_summary(producer.node)}`)"
    return f"is already a {producer.activation} output"
