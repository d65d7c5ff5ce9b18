"""NN001: the engine's own diagnostic for a file it cannot decode or parse."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules.base import Invalid, Rule, Violation


class SyntaxErrorRule(Rule):
    """
    ## What it does
    Reports a file that the running Python refuses to compile, with Python's own message and
    position: a syntax error, Python 2 code (`print "x"`, `except E, e:`, backticks; the
    message then says so), NUL bytes, bytes that are not valid in the file's encoding, an
    unknown or non-text encoding in a `# -*- coding: ... -*-` cookie, or code nested too deeply
    for Python to compile.

    ## Why is this bad?
    Python itself would refuse to import the file, and training bugs in it go unnoticed.

    Python's compiler is the judge, so NN001 appears exactly when `python file.py` would fail
    to compile it: syntax newer than the running Python (PEP 695 `type` statements on 3.11) is
    reported, and what only libcst, nnlint's parser, cannot read is not (that is NN004). The
    statements around the error are still linted: a Python 2 script with `print "x"` and
    `Dropout(1.0)` gets both NN001 and NN401, at their lines; fixes are never applied to a file
    with a syntax error.

    Files that no enabled rule can fire on (no deep-learning import, or none of the rules'
    trigger words) are never parsed by libcst; they get Python's syntax check alone.

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
                "(Python 2 code? In Python 3 `print` is a function: print(...))"
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
