"""Lint one file: prefilter, decode, parse once, collect facts once, run rules, suppress, fix.

``lint_source`` never raises for bad input: undecodable or unparsable files give one NN001
finding, and a rule that raises gives an NN002 finding while the other rules' findings are kept.
"""

from __future__ import annotations

import ast
import gc
import hashlib
import io
import json
import re
import tokenize
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from nnlint import __version__
from nnlint.findings import Applicability, FileResult, Finding
from nnlint.fixes import apply_fixes
from nnlint.positions import Span, node_spans
from nnlint.prefilter import could_have_findings as _bytes_could_have_findings
from nnlint.rules import INTERNAL_ERROR, SYNTAX_ERROR, all_rules
from nnlint.rules.base import Fix, Rule, RuleMeta, Violation
from nnlint.suppression import UNUSED_NOQA, noqa_map, without_unused_codes
from nnlint.walker import collect_facts


@dataclass(frozen=True)
class LintSettings:
    """What to run: rule codes (already resolved from select/ignore) and per-rule options."""

    enabled: frozenset[str]
    # rule code -> validated option values (merged over the rule's defaults)
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def default(cls) -> LintSettings:
        """Every rule that is on by default, with default options."""
        return cls(enabled=frozenset(m.code for m in all_rules() if m.default_enabled))


def settings_fingerprint(settings: LintSettings) -> str:
    """A stable string naming everything in ``settings`` (and the nnlint version) that can change
    a file's result: part of the CLI's content-hash cache key."""
    payload = {
        "version": __version__,
        "enabled": sorted(settings.enabled),
        "options": {code: dict(opts) for code, opts in sorted(settings.options.items())},
    }
    text = json.dumps(payload, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _enabled_rules(settings: LintSettings) -> list[RuleMeta]:
    return [m for m in all_rules() if m.code in settings.enabled and m.rule_class is not None]


def _triggers(settings: LintSettings) -> list[bytes]:
    return [t for m in _enabled_rules(settings) for t in m.triggers]


def could_have_findings(source: bytes, settings: LintSettings) -> bool:
    """The cheap byte prefilter: False means no enabled rule can fire, and the file is not parsed
    (so an NN001 for it is not reported either)."""
    return _bytes_could_have_findings(source, _triggers(settings))


# ---------------------------------------------------------------------------------------------
# Decoding and parsing


class _Unparsable(Exception):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


def _line_col_of_offset(source: bytes, offset: int) -> tuple[int, int]:
    """1-based line and (byte-based, for undecodable text) column of a byte offset."""
    line_start = max(source.rfind(b"\n", 0, offset), source.rfind(b"\r", 0, offset)) + 1
    line = source.count(b"\n", 0, offset) + 1
    if b"\n" not in source[:offset]:
        line = source.count(b"\r", 0, offset) + 1
    return line, offset - line_start + 1


def _decode(source: bytes) -> str:
    """Decode like Python does (BOM, coding cookie, UTF-8 default), or raise ``_Unparsable``."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError as error:
        line = getattr(error, "lineno", None) or 1
        raise _Unparsable(line, 1, f"cannot decode the file: {error.msg}") from None
    nul = source.find(b"\0")
    if nul >= 0:
        line, column = _line_col_of_offset(source, nul)
        raise _Unparsable(line, column, "the file contains a NUL byte (is it a binary file?)")
    try:
        return source.decode(encoding)
    except UnicodeDecodeError as error:
        line, column = _line_col_of_offset(source, error.start)
        raise _Unparsable(
            line,
            column,
            f"cannot decode the file: byte 0x{source[error.start]:02x} is not valid {encoding} "
            "(declare the encoding with a `# -*- coding: ... -*-` line, or re-save it as UTF-8)",
        ) from None


_PY2_HINT = re.compile(r"^\s*(print|exec)\s+[^\s(=]")


def _syntax_error(text: str, error: cst.ParserSyntaxError) -> _Unparsable:
    """Describe a parse failure the way Python does (its messages and positions are the ones
    users know); fall back to libcst's own when Python accepts the file."""
    try:
        ast.parse(text)
    except SyntaxError as py_error:
        line = py_error.lineno or 1
        column = py_error.offset or 1
        message = f"SyntaxError: {py_error.msg}"
    except (ValueError, RecursionError, MemoryError):
        line, column, message = 1, 1, f"syntax error: {error.message}"
    else:
        line, column = error.raw_line, error.raw_column + 1
        message = f"syntax error (libcst cannot parse this syntax): {error.message}"
    lines = text.splitlines()
    if 0 < line <= len(lines) and _PY2_HINT.match(lines[line - 1]):
        message += " (Python 2 code? nnlint, like Python 3, cannot parse it)"
    return _Unparsable(line, column, message)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while libcst builds a tree: the tree is hundreds of thousands of
    young objects that the collector would scan again and again for nothing (about 10% of the
    parse on timm). Collection resumes, unchanged, right after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse(source: bytes) -> tuple[cst.Module, str]:
    text = _decode(source)
    try:
        with _gc_paused():
            module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise _syntax_error(text, error) from None
    except RecursionError:
        raise _Unparsable(1, 1, "the file is nested too deeply to parse") from None
    return module, text


def _cheap_syntax_check(source: bytes, path: str) -> list[Finding]:
    """NN001 for a file the prefilter skipped: no rule can fire on it, but a file Python cannot
    parse must still be reported (as ruff does). Python's own parser costs about a tenth of
    libcst's; libcst gets the last word only when Python refuses the file, so syntax newer than
    the running Python is not called an error."""
    try:
        text = _decode(source)
        try:
            with _gc_paused():
                compile(text, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
            return []
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            _parse(source)
            return []
    except _Unparsable as error:
        return [_meta_finding(path, SYNTAX_ERROR, error.line, error.column, error.message)]


# ---------------------------------------------------------------------------------------------
# Linting


def _meta_finding(path: str, code: str, line: int, column: int, message: str) -> Finding:
    return Finding(
        path=path,
        line=line,
        column=column,
        code=code,
        message=message,
        end_line=line,
        end_column=column,
    )


@dataclass
class _Reported:
    meta: RuleMeta
    violation: Violation


def _run_rules(
    facts: Any, settings: LintSettings, path: str
) -> tuple[list[_Reported], list[Finding]]:
    reported: list[_Reported] = []
    errors: list[Finding] = []
    for meta in _enabled_rules(settings):
        assert meta.rule_class is not None
        try:
            rule: Rule = meta.rule_class(settings.options.get(meta.code))
            violations = list(rule.check(facts))
        except Exception as error:  # noqa: BLE001 - any bug in a rule must not lose the file
            errors.append(
                _meta_finding(
                    path,
                    INTERNAL_ERROR,
                    1,
                    1,
                    f"internal error in rule {meta.code} ({meta.name}): "
                    f"{type(error).__name__}: {error}; please report this bug",
                )
            )
            continue
        reported.extend(_Reported(meta, v) for v in violations)
    return reported, errors


def lint_source(
    source: bytes,
    path: str,
    settings: LintSettings,
    *,
    fix: bool = False,
    unsafe_fixes: bool = False,
) -> FileResult:
    """Lint one file's bytes. Never raises for bad input (see the module docstring).

    With ``fix=True``, the safe fixes of enabled fixable rules are applied (the unsafe ones too
    with ``unsafe_fixes``): ``fixed_source`` is the whole new file (proved to parse) and
    ``findings`` are those that remain.

    The cyclic GC is off for the whole file: a syntax tree is hundreds of thousands of acyclic
    objects freed by reference counting, and a collection while it is alive scans all of them
    (pausing only the parse deferred that cost to the first allocation after it: about a third
    of the parse time on timm). Collection resumes once the tree is gone.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _lint_and_drop_unused_noqa(
            source, path, settings, fix=fix, unsafe_fixes=unsafe_fixes
        )
    finally:
        if was_enabled:
            gc.enable()


def _lint_and_drop_unused_noqa(
    source: bytes, path: str, settings: LintSettings, *, fix: bool, unsafe_fixes: bool
) -> FileResult:
    result = _lint_once(source, path, settings, fix=fix, unsafe_fixes=unsafe_fixes)
    if fix and any(f.code == UNUSED_NOQA for f in result.findings):
        # Unused noqa codes are comment text: dropped after the code fixes, then linted again.
        current = result.fixed_source if result.fixed_source is not None else source
        text = _decode(current)
        noqa = noqa_map(text)
        new_source = without_unused_codes(text, noqa, result.findings).encode(_encoding_of(current))
        if new_source != current:
            refreshed = _lint_once(new_source, path, settings)
            refreshed.fixed_source = new_source
            refreshed.fixed_count = result.fixed_count + sum(
                1 for f in result.findings if f.code == UNUSED_NOQA
            )
            return refreshed
    return result


def _encoding_of(source: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    return "utf-8-sig" if encoding == "utf-8-sig" else encoding


def _unused_noqa(text: str, path: str, settings: LintSettings, noqa: Any = None) -> list[Finding]:
    """NN003 findings for ``text`` whose findings already went through ``noqa`` (if given)."""
    if UNUSED_NOQA not in settings.enabled:
        return []
    if noqa is None:
        noqa = noqa_map(text)
    unused = noqa.unused_findings(path, settings.enabled, _known_codes())
    # A directive that also names NN003 keeps codes nnlint cannot see the use of.
    return [f for f in unused if not noqa.suppresses(f.line, f.code)]


def _known_codes() -> frozenset[str]:
    return frozenset(m.code for m in all_rules())


def _lint_once(
    source: bytes,
    path: str,
    settings: LintSettings,
    *,
    fix: bool = False,
    unsafe_fixes: bool = False,
) -> FileResult:
    result = FileResult(path=path)
    if not could_have_findings(source, settings):
        if SYNTAX_ERROR in settings.enabled:
            result.findings.extend(_cheap_syntax_check(source, path))
        if UNUSED_NOQA in settings.enabled and b"noqa" in source.lower() and not result.findings:
            # No rule ran, so every code of an enabled rule in a directive is unused.
            result.findings.extend(_unused_noqa(_decode(source), path, settings))
        return result
    try:
        module, text = _parse(source)
    except _Unparsable as error:
        if SYNTAX_ERROR in settings.enabled:
            result.findings.append(
                _meta_finding(path, SYNTAX_ERROR, error.line, error.column, error.message)
            )
        return result

    try:
        facts = collect_facts(module)
    except Exception as error:  # noqa: BLE001 - a collector bug must be reported, not raised
        if INTERNAL_ERROR in settings.enabled:
            result.findings.append(
                _meta_finding(
                    path,
                    INTERNAL_ERROR,
                    1,
                    1,
                    f"internal error while collecting facts: {type(error).__name__}: {error}; "
                    "please report this bug",
                )
            )
        return result

    reported, errors = _run_rules(facts, settings, path)
    if INTERNAL_ERROR in settings.enabled:
        result.findings.extend(errors)
    if not reported and not result.findings:
        result.findings.extend(_unused_noqa(text, path, settings))
        return result

    noqa = noqa_map(text)
    spans = node_spans(module, (r.violation.node for r in reported))
    kept: list[tuple[_Reported, Span]] = []
    for item in reported:
        span = spans.get(id(item.violation.node))
        if span is None:  # pragma: no cover - every reported node is an expression of module
            span = Span(1, 1, 1, 1)
        if not noqa.suppresses(span.line, item.meta.code):
            kept.append((item, span))
    result.findings = [f for f in result.findings if not noqa.suppresses(f.line, f.code)]
    result.findings.extend(_unused_noqa(text, path, settings, noqa))

    if fix:
        fixes: list[Fix] = [
            item.violation.fix
            for item, _ in kept
            if item.meta.fixable
            and item.violation.fix is not None
            and (unsafe_fixes or item.violation.fix.applicability is Applicability.SAFE)
        ]
        applied = apply_fixes(module, fixes) if fixes else None
        if applied is not None:
            new_source, count = applied
            refreshed = _lint_once(new_source, path, settings, fix=False)
            refreshed.fixed_source = new_source
            refreshed.fixed_count = count
            return refreshed

    for item, span in kept:
        fixable = item.meta.fixable and item.violation.fix is not None
        result.findings.append(
            Finding(
                path=path,
                line=span.line,
                column=span.column,
                code=item.meta.code,
                message=item.violation.message,
                end_line=span.end_line,
                end_column=span.end_column,
                fixable=fixable,
                fix_title=item.violation.fix.title if fixable and item.violation.fix else None,
                fix_applicability=(
                    item.violation.fix.applicability
                    if fixable and item.violation.fix
                    else Applicability.SAFE
                ),
            )
        )
    result.findings.sort(key=Finding.sort_key)
    return result


__all__ = [
    "LintSettings",
    "could_have_findings",
    "lint_source",
    "settings_fingerprint",
]
