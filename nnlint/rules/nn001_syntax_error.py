"""NN001: the engine's own diagnostic for a file it cannot decode or parse."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules.base import Invalid, Rule, Violation


class SyntaxErrorRule(Rule):
    """
    ## What it does
    Reports a file that nnlint cannot decode or parse: a syntax error, Python 2 code
    (`print "x"`), NUL bytes, bytes that are not valid in the file's encoding, or an unknown
    encoding in a `# -*- coding: ... -*-` cookie.

    ## Why is this bad?
    nnlint cannot check a file it cannot parse, so training bugs in it go unnoticed. Python
    itself would refuse to import the file.

    Files that no enabled rule can fire on (no deep-learning import, or none of the rules'
    trigger words) are not parsed with libcst; they get a syntax check by Python's own parser,
    about ten times cheaper, so a broken file is reported wherever it is. Syntax that the running
    Python does not know yet but libcst does (PEP 695 `type` statements on Python 3.11) is not
    reported.

    ## Example
    ```python
    import torch
    print "training"
    ```

    ## Use instead
    ```python
    import torch

    print("training")
    ```
    """

    code = "NN001"
    name = "syntax-error"
    MESSAGE = "File cannot be parsed"
    REMEDY = "fix the syntax (or exclude the file): nothing else in it was checked"
    severity = Severity.ERROR
    # A diagnostic of nnlint itself, not a training failure mode.
    failure_mode = None
    # Files are parsed only when some rule's trigger occurs, hence the dropout layers.
    INVALID = [
        Invalid(
            "import torch.nn as nn\nprint 'x'\nnn.Dropout(0.5)\n",
            line=2,
            column=1,
            end_line=2,
            end_column=1,
            message=(
                "SyntaxError: Missing parentheses in call to 'print'. Did you mean print(...)? "
                "(Python 2 code? nnlint, like Python 3, cannot parse it)"
            ),
        ),
        Invalid(
            "import torch.nn as nn\ndef f(:\n    return nn.Dropout(0.5)\n",
            line=2,
            column=7,
            end_line=2,
            end_column=7,
            message="SyntaxError: invalid syntax",
        ),
    ]
    VALID = ["import torch.nn as nn\nprint('x')\nnn.Dropout(0.5)\n"]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        # Emitted by the engine when parsing fails; never from facts.
        return iter(())
