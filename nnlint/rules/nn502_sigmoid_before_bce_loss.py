"""NN502: a sigmoid output fed to ``nn.BCELoss`` / ``F.binary_cross_entropy``."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from nnlint.catalog import NON_FINITE
from nnlint.extractors.training import LossApplication
from nnlint.facts import FileFacts
from nnlint.findings import Applicability, Severity
from nnlint.rules._training import call_summary, callee_text, once_per_model, training_facts
from nnlint.rules.base import Fix, Invalid, Rule, Violation

_FIX_TITLE = "Use the with-logits loss on the sigmoid's input"
# The with-logits twin of each probability loss (same positional parameters up to `reduction`).
_LOGITS_TWIN = {
    "binary_cross_entropy": "binary_cross_entropy_with_logits",
    "BCELoss": "BCEWithLogitsLoss",
}


class SigmoidBeforeBCELoss(Rule):
    """
    ## What it does
    Flags a sigmoid output passed to `nn.BCELoss` or `F.binary_cross_entropy`: `torch.sigmoid`,
    `F.sigmoid`, `x.sigmoid()` or `nn.Sigmoid()(x)` written inline or through a local, and the
    output of a model defined in the same file whose last layer is `nn.Sigmoid()`.

    A GAN discriminator that ends in `nn.Sigmoid()` and is trained with `BCELoss` is the
    textbook form (the DCGAN tutorial writes it so); it is flagged too, with a message that
    names the trade-off rather than calling the code wrong.

    ## Why is this bad?
    `BCELoss` takes the log of the sigmoid's output. Once a logit passes about ±17 in float32
    the sigmoid rounds to exactly 0 or 1, the log is -inf, and PyTorch clamps it to -100: the
    loss stops reflecting how wrong the prediction is and the gradient through the saturated
    sigmoid is 0, so the unit stops learning (in half precision this happens near ±8, and the
    loss can become NaN). `BCEWithLogitsLoss` computes the same loss from the logits with the
    log-sum-exp trick: exact for any logit, with a gradient of `sigmoid(z) - y` that never
    vanishes for a wrong prediction. Discriminators are where saturation bites first, since a
    confident discriminator pushes its logits far out.

    ## Example
    ```python
    import torch
    import torch.nn.functional as F

    loss = F.binary_cross_entropy(torch.sigmoid(logits), target)
    ```

    ## Use instead
    ```python
    import torch.nn.functional as F

    loss = F.binary_cross_entropy_with_logits(logits, target)
    ```

    ## Fix safety
    The fix is unsafe: it changes the numbers the loss computes for saturated inputs (which is
    the point) and could change behaviour the author chose on purpose (a custom `weight`, code
    that relies on BCELoss's -100 clamp). It is offered only where the pairing is local and
    unambiguous: the sigmoid written inline as the loss's first argument, and the loss written
    as `F.binary_cross_entropy(...)` or `nn.BCELoss(...)(...)` through a module alias (so the
    with-logits name needs no new import). It is applied only with `--unsafe-fixes`.
    """

    code = "NN502"
    name = "sigmoid-before-bce-loss"
    MESSAGE = (
        "Sigmoid output fed to BCELoss: saturates to log(0) and NaN; use BCEWithLogitsLoss on "
        "the logits"
    )
    severity = Severity.WARNING
    failure_mode = NON_FINITE
    fixable = True
    fix_title = _FIX_TITLE
    triggers = (b"BCELoss", b"binary_cross_entropy")

    VALID = [
        "import torch.nn.functional as F\n"
        "loss = F.binary_cross_entropy_with_logits(logits, target)\n",
        # Probabilities from somewhere else (a model nnlint cannot see, a calibration).
        "import torch.nn as nn\nloss = nn.BCELoss()(model(x), y)\n",
        "import torch.nn.functional as F\n\ndef step(probs, y):\n"
        "    return F.binary_cross_entropy(probs, y)\n",
        # A sigmoid used for metrics; the loss takes the logits.
        "import torch\nimport torch.nn as nn\n\ndef step(logits, y):\n"
        "    probs = torch.sigmoid(logits)\n"
        "    return nn.BCEWithLogitsLoss()(logits, y), probs\n",
    ]
    INVALID = [
        Invalid(
            "import torch\nimport torch.nn.functional as F\n"
            "loss = F.binary_cross_entropy(torch.sigmoid(logits), target)\n",
            line=3,
            column=31,
            end_line=3,
            end_column=52,
            message=(
                "`F.binary_cross_entropy` on a sigmoid output (`torch.sigmoid(...)`): "
                "saturated logits give log(0), a clamped loss and a vanishing gradient (NaN "
                "in half precision); drop the sigmoid and use `BCEWithLogitsLoss` / "
                "`binary_cross_entropy_with_logits`"
            ),
            expected_fix="import torch\nimport torch.nn.functional as F\n"
            "loss = F.binary_cross_entropy_with_logits(logits, target)\n",
            unsafe_fix=True,
        ),
        Invalid(
            "import torch\nimport torch.nn as nn\n\ncriterion = nn.BCELoss()\n\n"
            "def step(model, x, y):\n    out = model(x).sigmoid()\n"
            "    return criterion(out.view(-1), y)\n",
            line=8,
            column=22,
            end_line=8,
            end_column=34,
            message=(
                "`nn.BCELoss` on a sigmoid output (`model(x).sigmoid(...)`): saturated logits "
                "give log(0), a clamped loss and a vanishing gradient (NaN in half "
                "precision); drop the sigmoid and use `BCEWithLogitsLoss` / "
                "`binary_cross_entropy_with_logits`"
            ),
        ),
        Invalid(
            "import torch.nn as nn\nloss = nn.BCELoss(reduction='sum')(nn.Sigmoid()(z), y)\n",
            line=2,
            column=36,
            end_line=2,
            end_column=51,
            message=(
                "`nn.BCELoss` on a sigmoid output (`nn.Sigmoid()(...)`): saturated logits "
                "give log(0), a clamped loss and a vanishing gradient (NaN in half "
                "precision); drop the sigmoid and use `BCEWithLogitsLoss` / "
                "`binary_cross_entropy_with_logits`"
            ),
            expected_fix="import torch.nn as nn\n"
            "loss = nn.BCEWithLogitsLoss(reduction='sum')(z, y)\n",
            unsafe_fix=True,
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        for application in once_per_model(training_facts(facts).losses):
            producer = application.producer
            spec = application.spec
            if spec.framework != "torch" or spec.expects != "probabilities":
                continue
            if producer is None or producer.activation != "sigmoid":
                continue
            if application.construction.expects_error:
                continue
            loss = callee_text(application.construction)
            if producer.via == "model":
                message = (
                    f"`{producer.model}` ends in a sigmoid and is trained with `{loss}`: the "
                    "textbook form, but a confident model saturates the sigmoid, BCELoss then "
                    "clamps log(0) to -100 and the gradient vanishes (NaN in half precision); "
                    "`BCEWithLogitsLoss` on the logits computes the same loss stably"
                )
            else:
                message = (
                    f"`{loss}` on a sigmoid output (`{call_summary(producer.node)}`): "
                    "saturated logits give log(0), a clamped loss and a vanishing gradient (NaN "
                    "in half precision); drop the sigmoid and use `BCEWithLogitsLoss` / "
                    "`binary_cross_entropy_with_logits`"
                )
            yield Violation(application.prediction or application.call, message, _fix(application))


def _fix(application: LossApplication) -> Fix | None:
    """``F.binary_cross_entropy(torch.sigmoid(z), y)`` -> ``F.binary_cross_entropy_with_logits
    (z, y)``; ``nn.BCELoss()(torch.sigmoid(z), y)`` -> ``nn.BCEWithLogitsLoss()(z, y)``."""
    producer = application.producer
    call = application.call
    if producer is None or producer.via != "inline" or producer.inner is None:
        return None
    if not call.args or call.args[0].value is not application.prediction:
        return None
    if application.prediction is not producer.node:
        return None  # a reshape in between (`torch.sigmoid(z).view(-1)`)
    func = call.func
    if application.spec.kind == "module":
        if not isinstance(func, cst.Call):
            return None
        renamed = _renamed(func.func)
        if renamed is None:
            return None
        new_func: cst.BaseExpression = func.with_changes(func=renamed)
    else:
        renamed = _renamed(func)
        if renamed is None:
            return None
        new_func = renamed
    args = [call.args[0].with_changes(value=producer.inner), *call.args[1:]]
    return Fix(
        _FIX_TITLE,
        call,
        call.with_changes(func=new_func, args=args),
        applicability=Applicability.UNSAFE,
    )


def _renamed(func: cst.BaseExpression) -> cst.BaseExpression | None:
    """``F.binary_cross_entropy`` -> ``F.binary_cross_entropy_with_logits`` (dotted only: a bare
    imported name would need a new import)."""
    if not isinstance(func, cst.Attribute):
        return None
    twin = _LOGITS_TWIN.get(func.attr.value)
    return func.with_changes(attr=cst.Name(twin)) if twin is not None else None
