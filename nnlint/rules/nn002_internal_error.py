"""NN002: the engine's own diagnostic for a bug in nnlint (a rule or the collector raised)."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules.base import Rule, Violation


class InternalErrorRule(Rule):
    """
    ## What it does
    Reports that a rule (or the fact collector) raised an exception on this file. The message
    names the rule and the exception. The other rules' findings for the file are kept.

    ## Why is this bad?
    It is a bug in nnlint, not in your code: the failing rule could not check the file.
    Please report it with the file (or a small excerpt that reproduces it).

    ## Example
    Any file that triggers a bug in a rule.

    ## Use instead
    Report the bug; meanwhile `--ignore` the failing rule or add `# nnlint: noqa: NN002`.
    """

    code = "NN002"
    name = "internal-error"
    MESSAGE = "Internal error in a rule"
    REMEDY = "report the bug with the file if you can share it; the other rules' findings are kept"
    severity = Severity.ERROR
    failure_mode = None  # a diagnostic of nnlint itself

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        # Emitted by the engine when a rule raises; never from facts.
        return iter(())
