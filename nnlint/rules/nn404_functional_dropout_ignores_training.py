"""NN404: functional dropout in ``forward`` that ignores the module's train/eval mode."""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from nnlint.catalog import DROPOUT_MISUSE
from nnlint.facts import DropoutSite, FileFacts
from nnlint.findings import Applicability, Severity
from nnlint.rules._dropout import DROPOUT_TRIGGERS
from nnlint.rules.base import Fix, Invalid, Rule, Violation

_FIX_TITLE = "Pass `training=self.training`"
_MONTE_CARLO = re.compile(r"MC|Mc(?=[A-Z_]|$)|MonteCarlo|Monte_Carlo|Bayes|Always")
_TF_NN_DROPOUT = frozenset({"tensorflow.nn.dropout", "tensorflow.compat.v1.nn.dropout"})


class FunctionalDropoutIgnoresTraining(Rule):
    """
    ## What it does
    Flags `torch.nn.functional.dropout` (and `dropout1d/2d/3d`, `alpha_dropout`,
    `feature_alpha_dropout`) called in `forward` of an `nn.Module` subclass without a
    `training` argument (keyword or third positional), and TensorFlow 1's
    `tf.layers.dropout` (`tf.compat.v1.layers.dropout`) called anywhere without `training`, and
    `tf.nn.dropout` in `call` of a Keras `Layer`/`Model` subclass outside an `if training:`
    branch (except in a layer whose class name says it is Monte-Carlo dropout, such as
    `MCDropout`, `BayesianDropout` or `AlwaysDropout`: it keeps dropping at predict time on
    purpose).

    ## Why is this bad?
    Functional dropout does not know whether the module is in train or eval mode: it follows
    its `training` argument. `F.dropout` and `dropout1d/2d/3d` default to `training=True`, so
    without the argument dropout stays on after `model.eval()`: evaluation and inference are
    noisy and wrong. `F.alpha_dropout` and `F.feature_alpha_dropout` default to
    `training=False`, so without it they never drop anything, not even in training. So does
    TF1's `tf.layers.dropout`. `tf.nn.dropout` has no training switch at all, so in a Keras
    layer's `call` it drops units in `model.predict()` too. `nn.Dropout` modules and Keras
    `Dropout` layers follow the mode by themselves and are not affected.

    An explicit `training=True` (Monte-Carlo dropout) or `training=False` is a deliberate choice
    and is not flagged, and neither is `F.dropout` reached only in training mode (under
    `if self.training:`, in `... if self.training else ...`, or after
    `if not self.training: return ...`). Calls outside `forward`, in nested functions, or in
    classes nnlint cannot see are an `nn.Module` (a base class imported from elsewhere) are not
    flagged either.

    ## Example
    ```python
    import torch.nn as nn
    import torch.nn.functional as F


    class Head(nn.Module):
        def forward(self, x):
            return F.dropout(x, p=0.2)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    import torch.nn.functional as F


    class Head(nn.Module):
        def forward(self, x):
            return F.dropout(x, p=0.2, training=self.training)
    ```

    ## Fix safety
    The fix appends `training=self.training` to the call. It changes the behaviour only in the
    mode the code was wrong in (eval for `dropout`, train for `alpha_dropout`), so it is safe,
    except where the author may have kept dropout on at inference on purpose: when a comment on
    the statement or on a block around it within `forward` speaks of that (`# always applies
    dropout`, "Monte-Carlo", "on purpose", "at inference"...), or the class name says
    Monte-Carlo or Bayesian dropout. There the fix is unsafe, applied only with
    `--unsafe-fixes`. It is offered only when the method's first parameter is named `self` and
    the call has no keyword torch does not know (a misspelt `traning=` is left to you), and
    never for `tf.layers.dropout` (nnlint cannot know the name of your is-training flag).
    """

    code = "NN404"
    name = "functional-dropout-ignores-training"
    MESSAGE = (
        "Functional dropout in `forward` ignores train/eval mode; pass `training=self.training`"
    )
    REMEDY = (
        "pass `training=self.training` (TF1: your is-training flag; in a Keras layer use "
        "`layers.Dropout`, or drop only under `if training:`)"
    )
    severity = Severity.WARNING
    failure_mode = DROPOUT_MISUSE
    fixable = True
    fix_title = _FIX_TITLE
    triggers = DROPOUT_TRIGGERS

    VALID = [
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return F.dropout(x, 0.1, training=self.training)\n",
        # An explicit training=True is Monte-Carlo dropout, on purpose.
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return F.dropout(x, 0.1, training=True)\n",
        # training passed positionally.
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return F.dropout(x, 0.1, self.training)\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return F.dropout(x, **self.kw)\n",
        # Not in forward, not in a Module.
        "import torch.nn.functional as F\n\ndef augment(x):\n    return F.dropout(x, 0.1)\n",
        "import torch.nn.functional as F\n\nclass Aug:\n"
        "    def forward(self, x):\n        return F.dropout(x, 0.1)\n",
        # nn.Dropout follows train()/eval() by itself.
        "import torch.nn as nn\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return nn.Dropout(0.1)(x)\n",
        # torch.dropout has no default for ``train``.
        "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return torch.dropout(x, 0.1, self.training)\n",
        # Reached only in training mode: the hand-written form of training=self.training.
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        if self.training and self.use_dropout:\n"
        "            x = F.dropout(x, self.p)\n        return x\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return F.dropout(x, 0.1) if self.training else x\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        if not self.training:\n            return x\n"
        "        x = F.dropout(x, 0.1)\n        return x\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x, training=False):\n        if not training or self.p == 0:\n"
        "            pass\n        else:\n            x = F.dropout(x, self.p)\n        return x\n",
        "import tensorflow as tf\n\ndef net(x, is_training):\n"
        "    return tf.layers.dropout(x, 0.5, training=is_training)\n",
        "import tensorflow as tf\n\ndef net(x, is_training):\n"
        "    return tf.compat.v1.layers.dropout(x, 0.5, None, None, is_training)\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        if self.training == True:\n"
        "            x = F.dropout(x, 0.1)\n        return x\n",
        # Keras layers that switch tf.nn.dropout on `training` themselves, and plain functions.
        "import tensorflow as tf\n\nclass Head(tf.keras.layers.Layer):\n"
        "    def call(self, x, training=None):\n        if training:\n"
        "            x = tf.nn.dropout(x, rate=0.5)\n        return x\n",
        "import keras\nimport tensorflow as tf\n\nclass Block(keras.Model):\n"
        "    def call(self, x, training=False):\n"
        "        return tf.nn.dropout(x, 0.5) if training else x\n",
        "import tensorflow as tf\n\ndef mc_dropout_predict(x):\n    return tf.nn.dropout(x, 0.5)\n",
        # A layer that exists to drop units keeps dropping at predict time on purpose (MC dropout).
        "import tensorflow as tf\n\nclass MCDropout(tf.keras.layers.Layer):\n"
        "    def call(self, inputs, training=None):\n"
        "        return tf.nn.dropout(inputs, rate=0.1)\n",
        "import tensorflow as tf\n\nclass BayesianHead(tf.keras.Model):\n"
        "    def call(self, x):\n        return tf.nn.dropout(x, rate=0.2)\n",
        # A user's own ``dropout`` function.
        "import torch.nn as nn\nfrom .ops import dropout\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return dropout(x, 0.1)\n",
    ]
    INVALID = [
        Invalid(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
            "    def forward(self, x):\n        return F.dropout(x, p=0.1)\n",
            line=6,
            expected_fix="import torch.nn as nn\nimport torch.nn.functional as F\n\n"
            "class M(nn.Module):\n    def forward(self, x):\n"
            "        return F.dropout(x, p=0.1, training=self.training)\n",
            column=16,
            end_line=6,
            end_column=35,
            message=(
                "`F.dropout` in `forward` without `training=` stays on after `model.eval()` (it "
                "defaults to training=True); pass `training=self.training`"
            ),
        ),
        Invalid(
            "from torch import nn\nfrom torch.nn import functional as F\n\nclass Base(nn.Module):\n"
            "    pass\n\nclass M(Base):\n    def forward(self, x):\n"
            "        return F.dropout2d(x)\n",
            line=9,
            expected_fix="from torch import nn\nfrom torch.nn import functional as F\n\n"
            "class Base(nn.Module):\n    pass\n\nclass M(Base):\n    def forward(self, x):\n"
            "        return F.dropout2d(x, training=self.training)\n",
            column=16,
            end_line=9,
            end_column=30,
            message=(
                "`F.dropout2d` in `forward` without `training=` stays on after `model.eval()` "
                "(it defaults to training=True); pass `training=self.training`"
            ),
        ),
        Invalid(
            "import torch\n\nclass M(torch.nn.Module):\n    def forward(self, x):\n"
            "        y = torch.nn.functional.alpha_dropout(\n            x,\n            0.2,\n"
            "        )\n        return y\n",
            line=5,
            expected_fix="import torch\n\nclass M(torch.nn.Module):\n    def forward(self, x):\n"
            "        y = torch.nn.functional.alpha_dropout(\n            x,\n            0.2,\n"
            "            training=self.training,\n        )\n        return y\n",
            column=13,
            end_line=8,
            end_column=10,
            message=(
                "`torch.nn.functional.alpha_dropout` in `forward` without `training=` never "
                "drops anything, not even in training (it defaults to training=False); pass "
                "`training=self.training`"
            ),
        ),
        # Dropout only in eval mode: the guard makes it worse, not right.
        Invalid(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
            "    def forward(self, x):\n        if self.training:\n            return x\n"
            "        return F.dropout(x, 0.1)\n",
            line=8,
            column=16,
            end_line=8,
            end_column=33,
            message=(
                "`F.dropout` in `forward` without `training=` stays on after `model.eval()` (it "
                "defaults to training=True); pass `training=self.training`"
            ),
        ),
        # `self.training or ...` does not prove training mode.
        Invalid(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
            "    def forward(self, x):\n        if self.training or self.mc:\n"
            "            x = F.dropout(x, 0.1)\n        return x\n",
            line=7,
            column=17,
            end_line=7,
            end_column=34,
            message=(
                "`F.dropout` in `forward` without `training=` stays on after `model.eval()` (it "
                "defaults to training=True); pass `training=self.training`"
            ),
        ),
        # alpha_dropout defaults to training=False: a training guard does not switch it on.
        Invalid(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
            "    def forward(self, x):\n        if self.training:\n"
            "            x = F.alpha_dropout(x, 0.1)\n        return x\n",
            line=7,
            column=17,
            end_line=7,
            end_column=40,
            message=(
                "`F.alpha_dropout` in `forward` without `training=` never drops anything, not "
                "even in training (it defaults to training=False); pass `training=self.training`"
            ),
        ),
        # TF1 layers API: training defaults to False, anywhere.
        Invalid(
            "import tensorflow as tf\n\ndef net(x, is_training):\n"
            "    return tf.layers.dropout(x, rate=0.5)\n",
            line=4,
            column=12,
            end_line=4,
            end_column=42,
            message=(
                "`tf.layers.dropout` without `training=` never drops anything (it defaults to "
                "training=False); pass your is-training flag as `training=`"
            ),
        ),
        # A misspelt keyword: flagged, but the fix is left to a person.
        Invalid(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
            "    def forward(self, x):\n        return F.dropout(x, p=0.5, traning=self.traning)\n",
            line=6,
            column=16,
            end_line=6,
            end_column=57,
            message=(
                "`F.dropout` in `forward` without `training=` stays on after `model.eval()` (it "
                "defaults to training=True); pass `training=self.training`"
            ),
        ),
        # Keras layer: tf.nn.dropout does not know about `training`.
        Invalid(
            "import tensorflow as tf\n\nclass Head(tf.keras.layers.Layer):\n"
            "    def call(self, x, training=None):\n        return tf.nn.dropout(x, rate=0.5)\n",
            line=5,
            column=16,
            end_line=5,
            end_column=42,
            message=(
                "`tf.nn.dropout` in a Keras layer's `call` has no training switch, so it drops "
                "units at inference too; use `keras.layers.Dropout` (it follows `training`) or "
                "run it only under `if training:`"
            ),
        ),
        # A Dropout subclass whose `call` lost `training` drops at predict time too.
        Invalid(
            "import tensorflow as tf\nfrom tensorflow.keras.layers import Dropout\n\n"
            "class FixedDropout(Dropout):\n    def call(self, inputs):\n"
            "        return tf.nn.dropout(inputs, rate=self.rate)\n",
            line=6,
            column=16,
            end_line=6,
            end_column=53,
            message=(
                "`tf.nn.dropout` in a Keras layer's `call` has no training switch, so it drops "
                "units at inference too; use `keras.layers.Dropout` (it follows `training`) or "
                "run it only under `if training:`"
            ),
        ),
        # A comment says dropout stays on at inference on purpose (the Tacotron 2 pre-net): the
        # fix is unsafe, applied only with --unsafe-fixes.
        Invalid(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass Prenet(nn.Module):\n"
            "    def forward(self, x):\n        for linear in self.layers:\n"
            "            # always applies dropout, also at inference\n"
            "            x = F.dropout(F.relu(linear(x)), p=0.5)\n        return x\n",
            line=8,
            column=17,
            end_line=8,
            end_column=52,
            message=(
                "`F.dropout` in `forward` without `training=` stays on after `model.eval()` (it "
                "defaults to training=True); pass `training=self.training`"
            ),
            expected_fix="import torch.nn as nn\nimport torch.nn.functional as F\n\n"
            "class Prenet(nn.Module):\n    def forward(self, x):\n"
            "        for linear in self.layers:\n"
            "            # always applies dropout, also at inference\n"
            "            x = F.dropout(F.relu(linear(x)), p=0.5, training=self.training)\n"
            "        return x\n",
            unsafe_fix=True,
        ),
        # A Monte-Carlo dropout module: unsafe too.
        Invalid(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\n"
            "class MCDropoutHead(nn.Module):\n"
            "    def forward(self, x):\n        return F.dropout(x, 0.1)\n",
            line=6,
            column=16,
            end_line=6,
            end_column=33,
            message=(
                "`F.dropout` in `forward` without `training=` stays on after `model.eval()` (it "
                "defaults to training=True); pass `training=self.training`"
            ),
            unsafe_fix=True,
        ),
        # No ``self``: flagged, but no fix is offered.
        Invalid(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
            "    def forward(this, x):\n        return F.dropout(x, 0.1)\n",
            line=6,
            column=16,
            end_line=6,
            end_column=33,
            message=(
                "`F.dropout` in `forward` without `training=` stays on after `model.eval()` (it "
                "defaults to training=True); pass `training=self.training`"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        for site in facts.dropout_sites:
            spec = site.spec
            if spec.qualname in _TF_NN_DROPOUT:
                # No training switch at all: in a Keras layer's `call` it also runs at predict
                # time, unless the code branches on `training` itself.
                cls = site.call.scope.enclosing_class
                # A Monte-Carlo dropout layer (`MCDropout`, `BayesianDropout`) keeps dropping at
                # predict time on purpose; a `FixedDropout(Dropout)` that lost `training` has not.
                monte_carlo = cls is not None and _MONTE_CARLO.search(cls.name) is not None
                if site.in_keras_call and not site.call.training_only and not monte_carlo:
                    yield Violation(
                        site.node,
                        f"`{site.callee_text}` in a Keras layer's `call` has no training switch, "
                        "so it drops units at inference too; use `keras.layers.Dropout` (it "
                        "follows `training`) or run it only under `if training:`",
                    )
                continue
            if spec.training_default is None or site.has_training_arg:
                continue
            if spec.framework == "tensorflow":
                # TF1's tf.layers.dropout: no module mode to follow, so no fix to offer.
                yield Violation(
                    site.node,
                    f"`{site.callee_text}` without `training=` never drops anything (it "
                    "defaults to training=False); pass your is-training flag as `training=`",
                )
                continue
            if not site.in_module_forward:
                continue
            if spec.training_default and site.call.training_only:
                # `if self.training: x = F.dropout(x, p)` is the hand-written equivalent of
                # `training=self.training`.
                continue
            if spec.training_default:
                message = (
                    f"`{site.callee_text}` in `forward` without `training=` stays on after "
                    "`model.eval()` (it defaults to training=True); pass "
                    "`training=self.training`"
                )
            else:
                message = (
                    f"`{site.callee_text}` in `forward` without `training=` never drops "
                    "anything, not even in training (it defaults to training=False); pass "
                    "`training=self.training`"
                )
            yield Violation(site.node, message, _fix(site, facts))


# The keywords torch's functional dropouts accept (`input, p=0.5, training=..., inplace=False`).
_TORCH_KEYWORDS = frozenset({"input", "p", "training", "inplace"})


# Words of a comment that keeps dropout on at inference on purpose (the Tacotron 2 pre-net's
# "always applies dropout", Monte-Carlo dropout for uncertainty estimates).
_DELIBERATE = re.compile(
    r"\balways\b|on purpose|deliberate|intentional|monte[ _-]?carlo|\bmc\b|mc[ _-]?dropout"
    r"|uncertaint|bayes|(at|during|in) (inference|test|eval)|even (at|in|during|when)"
    r"|keep[s]? (dropout )?on|stays? on",
    re.IGNORECASE,
)


class _CommentsAround(cst.CSTVisitor):
    """The comments of the statement holding ``target`` and of the blocks around it."""

    def __init__(self, target: cst.CSTNode) -> None:
        super().__init__()
        self.target = target
        self.stack: list[cst.CSTNode] = []
        self.found: list[cst.CSTNode] | None = None

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.found is not None:
            return False
        if node is self.target:
            self.found = list(self.stack)
            return False
        if isinstance(node, cst.BaseStatement):
            self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if self.stack and self.stack[-1] is original_node:
            self.stack.pop()


def _comment_says_deliberate(function: cst.CSTNode, call: cst.Call) -> bool:
    visitor = _CommentsAround(call)
    function.visit(visitor)
    statements = visitor.found or []
    comments: list[str] = []
    for depth, statement in enumerate(statements):
        if depth == 0:
            continue  # the function itself: its other comments are about other code
        comments += [
            line.comment.value
            for line in getattr(statement, "leading_lines", ())
            if line.comment is not None
        ]
    if statements:
        # The innermost statement: its own comments, inside the call's parentheses included.
        text = _EMPTY.code_for_node(statements[-1])
        comments += re.findall(r"#[^\n]*", text)
    return any(_DELIBERATE.search(comment) for comment in comments)


_EMPTY = cst.Module(body=[])


def _fix(site: DropoutSite, facts: FileFacts) -> Fix | None:
    if site.call.scope.first_param != "self" or not site.node.args:
        return None
    if any(
        arg.keyword is not None and arg.keyword.value not in _TORCH_KEYWORDS
        for arg in site.node.args
    ):
        # A misspelt keyword (`traning=`) already breaks the call; adding `training=` next to
        # it would hide the typo rather than fix it.
        return None
    call = site.node
    args = list(call.args)
    last = args[-1]
    training = cst.Arg(
        keyword=cst.Name("training"),
        value=cst.Attribute(value=cst.Name("self"), attr=cst.Name("training")),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    if isinstance(last.comma, cst.Comma):
        # Trailing comma (often one argument per line): the new argument takes the last slot
        # and its layout, the old last argument gets the separator used between arguments.
        separator = (
            args[-2].comma
            if len(args) > 1 and isinstance(args[-2].comma, cst.Comma)
            else cst.Comma(whitespace_after=call.whitespace_before_args)
        )
        args[-1] = last.with_changes(comma=separator)
        args.append(training.with_changes(comma=last.comma))
    else:
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        args.append(training)
    cls = site.call.scope.enclosing_class
    deliberate = (cls is not None and _MONTE_CARLO.search(cls.name) is not None) or (
        _comment_says_deliberate(site.call.scope.node, call)
    )
    applicability = Applicability.UNSAFE if deliberate else Applicability.SAFE
    return Fix(_FIX_TITLE, call, call.with_changes(args=args), applicability)
