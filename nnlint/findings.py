"""Plain data passed between the engine, the runner and the output formats (no libcst import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


# (str, Enum), not StrEnum: str() and format() of a member stay what the output formats and
# cached results were written with.
class Severity(str, Enum):  # noqa: UP042
    ERROR = "error"
    WARNING = "warning"


class Applicability(str, Enum):  # noqa: UP042
    """Whether ``--fix`` applies a fix by itself (ruff's terms): an unsafe fix can change what
    the author may have chosen on purpose and is applied only with ``--unsafe-fixes``."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Finding:
    """One diagnostic. Lines and columns are 1-based; ``end_*`` point just past the node."""

    path: str
    line: int
    column: int
    code: str
    message: str
    end_line: int
    end_column: int
    fixable: bool = False
    # A short title of the fix (e.g. "Pass `training=self.training`"), when one exists.
    fix_title: str | None = None
    # Meaningful only when ``fixable``.
    fix_applicability: Applicability = Applicability.SAFE
    # In a Jupyter notebook: the 1-based cell number; ``line``/``end_line`` count within it.
    cell: int | None = None

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.path, self.cell or 0, self.line, self.column, self.code)


@dataclass
class FileResult:
    """What linting one file produced.

    ``fixed_source`` is set only when fixing was asked for and at least one fix applied; it is the
    whole new file content and is guaranteed to parse. ``findings`` are the findings that remain
    after fixing (fixed ones are counted in ``fixed_count``).
    """

    path: str
    findings: list[Finding] = field(default_factory=list)
    fixed_source: bytes | None = None
    fixed_count: int = 0
    # With ``fixed_source``: the findings of the file as it was, for when the fix is not written.
    unfixed_findings: list[Finding] = field(default_factory=list)
