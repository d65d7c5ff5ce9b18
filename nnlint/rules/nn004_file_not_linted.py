"""NN004: the engine's own note that a file (or part of it) Python accepts was not linted."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules.base import Invalid, Rule, Violation


class FileNotLintedRule(Rule):
    """
    ## What it does
    Reports code that Python accepts but that nnlint did not lint, and why: the file is larger
    than the size limit (`max-file-size`, 2 MiB by default), an expression chain or nesting is
    deeper than nnlint's parser can take safely (more than 1,000 levels: `a + a + ...` with
    thousands of terms, generated code), libcst (nnlint's parser) cannot read syntax that
    Python accepts, or linting the file crashed its worker process. The rest of the run is not
    affected; the deep statements alone are skipped when the rest of the file can be linted.

    ## Why is this bad?
    Training bugs in the skipped code go unnoticed. It is not an error in your code (Python
    runs it), so it is not reported as a syntax error.

    ## Example
    A generated file holding `x = a + a + a + ...` with 5,000 terms.

    ## Use instead
    Split generated expressions (`sum(terms)`), keep model code out of huge generated files,
    raise `max-file-size` under `[tool.nnlint]` for a big hand-written file, or exclude the file.
    """

    code = "NN004"
    name = "file-not-linted"
    MESSAGE = "Code Python accepts was not linted"
    severity = Severity.WARNING
    failure_mode = None  # a diagnostic of nnlint itself
    # Files are parsed only when some rule's trigger occurs, hence the dropout layers; the
    # dropout on line 3 is still linted around the deep statement (see test_engine).
    INVALID = [
        Invalid(
            "import torch.nn as nn\nx = " + " + ".join(["a"] * 1100) + "\nnn.Dropout(0.5)\n",
            line=2,
            column=1,
            end_line=2,
            end_column=1,
            message=(
                "not linted: the statement(s) at line(s) 2 are nested more than 1000 levels deep "
                "(an expression chain this long would take minutes or crash libcst's native "
                "parser); the rest of the file was linted"
            ),
        ),
    ]
    VALID = ["import torch.nn as nn\nx = " + " + ".join(["a"] * 200) + "\nnn.Dropout(0.5)\n"]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        # Emitted by the engine and the runner; never from facts.
        return iter(())
