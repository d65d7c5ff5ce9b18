"""The rule framework: a ``Rule`` reads ``FileFacts`` and yields ``Violation``s; ``RuleMeta`` is
what the CLI, the docs and the formats see of it."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import libcst as cst

from nnlint.catalog import DOCS_BASE, FailureMode
from nnlint.facts import FileFacts
from nnlint.findings import Applicability, Severity


@dataclass(frozen=True)
class Fix:
    """An edit: replace ``original`` (a node of the parsed module) with ``replacement``.

    An ``UNSAFE`` fix may undo something the author chose on purpose; ``--fix`` applies it only
    with ``--unsafe-fixes``.
    """

    title: str
    original: cst.CSTNode
    replacement: cst.CSTNode
    applicability: Applicability = Applicability.SAFE


@dataclass(frozen=True)
class Violation:
    """What a rule reports: the node it points at, the concrete message, and maybe a fix."""

    node: cst.CSTNode
    message: str
    fix: Fix | None = None


@dataclass(frozen=True)
class Valid:
    """A code sample the rule must stay quiet on (with the enabled settings' defaults)."""

    code: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Invalid:
    """A code sample the rule must flag: the (single) finding's range (``line``, ``column``,
    ``end_line``, ``end_column``, 1-based, the end just past the node) and exact ``message``,
    and for fixable rules the whole fixed file (``expected_fix``) and whether the fix is
    ``unsafe`` (applied only with ``--unsafe-fixes``)."""

    code: str
    line: int | None = None
    expected_fix: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    message: str | None = None
    unsafe_fix: bool = False


class Rule:
    """Base class of every rule. Subclasses set the class attributes and implement ``check``.

    The class docstring is the rule's documentation (ruff's shape: ``## What it does``,
    ``## Why is this bad?``, ``## Example``, ``## Use instead``, and ``## Fix safety`` /
    ``## Options`` where relevant).
    """

    code: ClassVar[str]
    name: ClassVar[str]
    MESSAGE: ClassVar[str]  # one line; concrete messages may add the rate, the callee...
    severity: ClassVar[Severity]
    # None only for the meta-diagnostics (NN001/NN002), which are about nnlint, not training.
    failure_mode: ClassVar[FailureMode | None]
    fixable: ClassVar[bool] = False
    fix_title: ClassVar[str | None] = None
    # What to do about a finding, one line (the `full` format's note); the failure mode's first
    # remedy when a rule does not say.
    REMEDY: ClassVar[str] = ""
    default_enabled: ClassVar[bool] = True
    options: ClassVar[Mapping[str, Any]] = {}
    # Byte patterns one of which must occur in a file for this rule to possibly fire.
    triggers: ClassVar[tuple[bytes, ...]] = ()
    VALID: ClassVar[list[Valid | str]] = []
    INVALID: ClassVar[list[Invalid | str]] = []

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.settings: dict[str, Any] = {**self.options, **(options or {})}

    def check(self, facts: FileFacts) -> Iterator[Violation]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class RuleMeta:
    """The public description of one rule (what ``nnlint rule CODE`` and the formats show)."""

    code: str
    name: str
    message: str
    severity: Severity
    failure_mode: FailureMode | None
    fixable: bool
    default_enabled: bool
    doc: str
    options: Mapping[str, Any]
    url: str
    fix_title: str | None = None
    remedy: str = ""
    triggers: tuple[bytes, ...] = ()
    # The implementation; None for the meta-diagnostics the engine emits itself (NN001/NN002).
    rule_class: type[Rule] | None = None

    @classmethod
    def from_rule(cls, rule: type[Rule]) -> RuleMeta:
        return cls(
            code=rule.code,
            name=rule.name,
            message=rule.MESSAGE,
            severity=rule.severity,
            failure_mode=rule.failure_mode,
            fixable=rule.fixable,
            default_enabled=rule.default_enabled,
            doc=inspect.cleandoc(rule.__doc__ or ""),
            options=dict(rule.options),
            url=rule_url(rule.code, rule.name),
            fix_title=rule.fix_title,
            remedy=rule.REMEDY or (rule.failure_mode.remedy if rule.failure_mode else ""),
            triggers=tuple(rule.triggers),
            rule_class=rule,
        )


def rule_url(code: str, name: str) -> str:
    """Where a rule's documentation lives (an anchor of the generated ``docs/rules.md``)."""
    return f"{DOCS_BASE}/rules.md#{code.lower()}-{name}"
