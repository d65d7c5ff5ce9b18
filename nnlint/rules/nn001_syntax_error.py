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

    Only files that could contain a finding are parsed (see the prefilter): a file that imports
    no deep-learning framework is skipped without being parsed, so a syntax error in it is not
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
    severity = Severity.ERROR
    # A diagnostic of nnlint itself, not a training failure mode.
    failure_mode = None
    # Files are parsed only when some rule's trigger occurs, hence the dropout layers.
    INVALID = [
        Invalid("import torch.nn as nn\nprint 'x'\nnn.Dropout(0.5)\n", line=2),
        Invalid("import torch.nn as nn\ndef f(:\n    return nn.Dropout(0.5)\n", line=2),
    ]
    VALID = ["import torch.nn as nn\nprint('x')\nnn.Dropout(0.5)\n"]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        # Emitted by the engine when parsing fails; never from facts.
        return iter(())
