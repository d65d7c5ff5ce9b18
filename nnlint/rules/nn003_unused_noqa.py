"""NN003: a ``# noqa`` code that suppresses nothing, or an ``NN`` code that names no rule."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules.base import Invalid, Rule, Violation


class UnusedNoqa(Rule):
    """
    ## What it does
    Reports the codes of a `# noqa: ...` or `# nnlint: noqa: ...` directive that suppress no
    finding of an enabled rule, and `NN` codes that name no nnlint rule (ruff's RUF100 for
    nnlint's codes).

    Left alone on purpose: blanket `# noqa` (no codes) and other linters' codes (`E501`,
    `F401`), which may be there for flake8 or ruff, and the codes of rules that are not enabled
    in this run (`--select NN401` does not make every `# noqa: NN404` unused).

    ## Why is this bad?
    A stale suppression hides the next real finding on its line: the code was fixed, the
    `# noqa` stayed, and a new dropout bug on that line will be silenced. A misspelt code
    (`NN4O1`) suppresses nothing at all.

    ## Example
    ```python
    import torch.nn as nn

    head = nn.Dropout(0.1)  # noqa: NN401
    ```

    ## Use instead
    ```python
    import torch.nn as nn

    head = nn.Dropout(0.1)
    ```

    ## Fix safety
    The fix removes the unused and unknown codes from the directive, and the directive (or its
    whole comment line) when no code is left. It is safe: it edits comments only.
    """

    code = "NN003"
    name = "unused-noqa"
    MESSAGE = "Unused `noqa` directive"
    REMEDY = "remove the codes that suppress nothing (`nnlint check --fix` does it)"
    severity = Severity.WARNING
    # A diagnostic of nnlint's own comments, not a training failure mode.
    failure_mode = None
    fixable = True
    fix_title = "Remove unused `noqa` codes"

    VALID = [
        "import torch.nn as nn\nhead = nn.Dropout(1.0)  # noqa: NN401\n",
        # Blanket directives and other linters' codes may be for flake8 or ruff.
        "import torch.nn as nn\nhead = nn.Dropout(0.1)  # noqa\n",
        "import torch.nn as nn\nhead = nn.Dropout(0.1)  # noqa: E501\n",
        # A file-level directive that suppresses a finding.
        "# nnlint: noqa: NN401\nimport torch.nn as nn\nhead = nn.Dropout(1.0)\n",
    ]
    INVALID = [
        Invalid(
            "import torch.nn as nn\nhead = nn.Dropout(0.1)  # noqa: NN401\n",
            line=2,
            expected_fix="import torch.nn as nn\nhead = nn.Dropout(0.1)\n",
            column=25,
            end_line=2,
            end_column=38,
            message="Unused `noqa` directive (unused: `NN401`)",
        ),
        Invalid(
            "import torch.nn as nn\nhead = nn.Dropout(1.0)  # noqa: NN401, NN999, E501\n",
            line=2,
            expected_fix="import torch.nn as nn\nhead = nn.Dropout(1.0)  # noqa: NN401, E501\n",
            column=25,
            end_line=2,
            end_column=51,
            message="Unused `noqa` directive (unknown: `NN999`)",
        ),
        # No rule fired in the file at all: the directive is still checked.
        Invalid(
            "x = 1\n# nnlint: noqa: NN401\ny = 2\n",
            line=2,
            expected_fix="x = 1\ny = 2\n",
            column=1,
            end_line=2,
            end_column=22,
            message="Unused `noqa` directive (unused: `NN401`)",
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        # Emitted by the engine after suppression: only then is it known what each code did.
        return iter(())
