"""NN503: an output layer that cannot learn what its loss asks for."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import LOSS_OUTPUT_MISMATCH
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._training import callee_text, once_per_model, training_facts
from nnlint.rules.base import Invalid, Rule, Violation

_SINGLE_UNIT = (
    "a softmax over a single unit always outputs 1.0, so the model cannot learn anything and "
    "passes no gradient; use a sigmoid for one output, or one unit per class"
)


class OutputCannotLearnLoss(Rule):
    """
    ## What it does
    Flags an output layer that cannot express what its loss asks for:

    - a softmax over a single unit: Keras `Dense(1, activation="softmax")` anywhere, and in a
      `nn.Sequential` an `nn.Linear(..., 1)` directly followed by `nn.Softmax(dim=-1)` (in
      `forward`, attention scores `Linear(d, 1)` squeezed and softmaxed over the sequence are
      fine and not flagged);
    - a ReLU output trained with a cross-entropy loss (`nn.CrossEntropyLoss`, `BCELoss`,
      `BCEWithLogitsLoss`, `F.cross_entropy`... on the output of a model of the same file whose
      last layer is a ReLU; Keras `compile` of such a model with a cross-entropy loss);
    - a Keras multi-class softmax output (more than one unit) compiled with
      `binary_crossentropy`.

    ## Why is this bad?
    A softmax normalises over its units: over one unit it is the constant 1.0, whatever the
    input, and its gradient is 0. A ReLU output cannot be negative, so as logits it can never
    push a class's probability below the others' baseline, and units that go negative stop
    learning (dead ReLUs at the output). Binary cross-entropy on a softmax treats each class as
    an independent yes/no while the softmax ties them together; Keras then also reports a
    misleading "accuracy" (binary accuracy over all units).

    ## Example
    ```python
    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(1, activation="softmax"),
    ])
    ```

    ## Use instead
    ```python
    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])
    ```
    """

    code = "NN503"
    name = "output-cannot-learn-loss"
    MESSAGE = (
        "Output layer cannot learn what the loss asks for (softmax over one unit, ReLU logits)"
    )
    severity = Severity.ERROR
    failure_mode = LOSS_OUTPUT_MISMATCH
    # An output layer (`Dense`, `Linear`) or a cross-entropy loss.
    triggers = (b"Dense", b"Linear", b"rossEntropy", b"ross_entropy", b"rossentropy")

    VALID = [
        "from tensorflow import keras\nout = keras.layers.Dense(1, activation='sigmoid')\n",
        # Attention pooling: one score per position, reshaped, softmax over positions.
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass Pool(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.v = nn.Linear(8, 1)\n\n"
        "    def forward(self, x):\n"
        "        return F.softmax(self.v(x).squeeze(-1), dim=-1)\n",
        # Additive attention: one score per position, softmax over the sequence.
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass Attention(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.v = nn.Linear(8, 1)\n\n"
        "    def forward(self, energy):\n"
        "        return F.softmax(self.v(energy).squeeze(2), dim=1)\n",
        "from tensorflow import keras\nout = keras.layers.Dense(10, activation='softmax')\n",
        "from tensorflow import keras\nmodel = keras.Sequential([\n"
        "    keras.layers.Dense(8, activation='relu'),\n"
        "    keras.layers.Dense(3, activation='softmax'),\n])\n"
        "model.compile(loss='categorical_crossentropy', optimizer='adam')\n",
        # ReLU hidden layers, linear output.
        "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))\n"
        "loss = nn.CrossEntropyLoss()(net(x), y)\n",
        # ReLU output for regression.
        "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1),"
        " nn.ReLU())\nloss = nn.MSELoss()(net(x), y)\n",
    ]
    INVALID = [
        Invalid(
            "from tensorflow.keras import layers\nout = layers.Dense(1, activation='softmax')\n",
            line=2,
            column=7,
            end_line=2,
            end_column=44,
            message=(
                "`layers.Dense(1, activation='softmax')`: a softmax over a single unit always "
                "outputs 1.0, so the model cannot learn anything and passes no gradient; use "
                "a sigmoid for one output, or one unit per class"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nnet = nn.Sequential(\n"
            "    nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.Softmax(dim=-1)\n)\n",
            line=3,
            column=50,
            end_line=3,
            end_column=68,
            message=(
                "`nn.Linear(..., 1)` followed by `nn.Softmax(dim=-1)`: a softmax over a "
                "single unit always outputs 1.0, so the model cannot learn anything and "
                "passes no gradient; use a sigmoid for one output, or one unit per class"
            ),
        ),
        Invalid(
            "import torch.nn as nn\n"
            "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.ReLU())\n"
            "criterion = nn.CrossEntropyLoss()\nloss = criterion(net(x), y)\n",
            line=4,
            column=18,
            end_line=4,
            end_column=24,
            message=(
                "`nn.CrossEntropyLoss` is trained on the output of `net`, whose last layer is "
                "a ReLU: logits can never be negative and output units that go negative stop "
                "learning; remove the final ReLU"
            ),
        ),
        Invalid(
            "from tensorflow import keras\nmodel = keras.Sequential([\n"
            "    keras.layers.Dense(8, activation='relu'),\n"
            "    keras.layers.Dense(3, activation='softmax'),\n])\n"
            "model.compile(loss='binary_crossentropy', optimizer='adam')\n",
            line=6,
            column=20,
            end_line=6,
            end_column=41,
            message=(
                "`binary_crossentropy` on the multi-class softmax output of `model`: it "
                "scores each class as an independent yes/no while the softmax ties them (and "
                "Keras reports a misleading accuracy); use categorical_crossentropy, or "
                "sigmoid outputs for multi-label targets"
            ),
        ),
        Invalid(
            "from tensorflow import keras\nmodel = keras.Sequential()\n"
            "model.add(keras.layers.Dense(8))\n"
            "model.add(keras.layers.Dense(3, activation='relu'))\n"
            "model.compile('adam', keras.losses.CategoricalCrossentropy(from_logits=True))\n",
            line=5,
            column=23,
            end_line=5,
            end_column=77,
            message=(
                "`categorical_crossentropy` on `model`, whose last layer is a ReLU: the loss "
                "needs probabilities or logits of any sign; use a softmax/sigmoid output (or "
                "a linear one with from_logits=True)"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        training = training_facts(facts)
        for site in training.single_unit_softmax:
            if site.qualname == "torch.nn.Sequential":
                text = "`nn.Linear(..., 1)` followed by `nn.Softmax(dim=-1)`"
            else:
                text = f"`{callee_text(site)}(1, activation='softmax')`"
            yield Violation(site.node, f"{text}: {_SINGLE_UNIT}")
        for application in once_per_model(training.losses):
            producer = application.producer
            if producer is None or producer.via != "model" or producer.activation != "relu":
                continue
            if application.construction.expects_error:
                continue
            yield Violation(
                application.prediction or application.call,
                f"`{callee_text(application.construction)}` is trained on the output of "
                f"`{producer.model}`, whose last layer is a ReLU: logits can never be negative "
                "and output units that go negative stop learning; remove the final ReLU",
            )
        for compiled in training.compiles:
            output = compiled.output
            if output is None:
                continue
            if output.activation == "relu":
                yield Violation(
                    compiled.loss_node,
                    f"`{compiled.loss_name}` on `{output.model}`, whose last layer is a ReLU: "
                    "the loss needs probabilities or logits of any sign; use a softmax/sigmoid "
                    "output (or a linear one with from_logits=True)",
                )
            elif (
                output.activation == "softmax"
                and compiled.loss_name == "binary_crossentropy"
                and (compiled.output_units is None or compiled.output_units > 1)
            ):
                yield Violation(
                    compiled.loss_node,
                    f"`binary_crossentropy` on the multi-class softmax output of `{output.model}`: "
                    "it scores each class as an independent yes/no while the softmax ties them "
                    "(and Keras reports a misleading accuracy); use categorical_crossentropy, or "
                    "sigmoid outputs for multi-label targets",
                )
