"""Lint one file: prefilter, decode, let Python judge the syntax, parse once, collect facts once,
run rules, suppress, fix.

``lint_source`` never raises for bad input: a file the running Python cannot compile gives one
NN001 finding (and what parses around the error is still linted), code Python accepts but nnlint
cannot read gives NN004, and a rule that raises gives an NN002 finding while the other rules'
findings are kept.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import libcst as cst

from nnlint import __version__
from nnlint.findings import Applicability, FileResult, Finding
from nnlint.fixes import BOM, Edit, apply_edits, fix_edits
from nnlint.positions import Span, node_spans
from nnlint.prefilter import could_have_findings as _bytes_could_have_findings
from nnlint.rules import INTERNAL_ERROR, NOT_LINTED, SYNTAX_ERROR, all_rules
from nnlint.rules.base import Rule, RuleMeta, Violation
from nnlint.suppression import UNUSED_NOQA, noqa_map, without_unused_codes
from nnlint.syntax import (
    Decoded,
    SyntaxProblem,
    Undecodable,
    blank_blocks,
    blank_rejected,
    check,
    compile_problem,
    decode,
    libcst_compatible,
)
from nnlint.walker import collect_facts, with_deep_stack


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
            rule_class = meta.rule_class
            options = settings.options.get(meta.code)

            def check(rule_class: type[Rule] = rule_class, options: Any = options) -> list:
                return list(rule_class(options).check(facts))

            # A rule may recurse over a deep expression too (comparing nodes, say).
            violations = _deep_enough(check)
        except RecursionError:
            # Too deep even on the deep stack (Python 3.12+ caps C recursion, whatever the
            # stack): a limit, not a bug; the other rules' findings stand.
            errors.append(
                _not_linted(
                    path,
                    1,
                    f"rule {meta.code} ({meta.name}) could not check it: it is nested too "
                    "deeply (RecursionError)",
                )
            )
            continue
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


T = TypeVar("T")


class _NotLinted(Exception):
    """libcst or nnlint's own traversal cannot take this code (a Python-valid file)."""


# libcst's parse rejects a few things Python accepts (3,001 implicitly concatenated strings, a
# form feed in indentation); that many statements are blanked out before the file is given up.
MAX_LIBCST_REPAIRS = 8


@dataclass
class _Pass:
    """One lint of a text: findings (sorted), and with ``want_edits`` the fixes' byte edits."""

    findings: list[Finding]
    edits: list[Edit] = field(default_factory=list)
    # Lines blanked because libcst could not read them although Python can.
    skipped: list[int] = field(default_factory=list)


def _deep_enough(work: Callable[[], T]) -> T:
    """``work()`` (libcst's recursive code generation), again on the walker's deep stack if the
    tree is too deep for the normal one."""
    try:
        return work()
    except RecursionError:
        return with_deep_stack(work)


def _libcst_reads(text: str) -> bool:
    try:
        _parse(text)
        return True
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return False


# libcst validates every node it builds (``CSTNode.__post_init__`` calls ``_validate``): about an
# eighth of ``parse_module``'s time on timm. A tree its parser builds from code Python has just
# compiled is valid by construction (libcst's own source marks skipping this on parse as a PERF
# item), so the check is off while nnlint parses, and only then: nodes built at any other time
# (the fixes' transformations, a caller's own code) are validated as usual. Parses in several
# threads share one count, so the check comes back when the last of them ends.
_VALIDATE_NODE: Callable[[Any], None] | None = getattr(cst.CSTNode, "__post_init__", None)
_parses_without_validation = 0
_validation_lock = threading.Lock()


def _skip_validation(node: Any) -> None:
    return None


def _parse(text: str) -> cst.Module:
    global _parses_without_validation
    if _VALIDATE_NODE is None:  # pragma: no cover - every libcst release has the hook
        return cst.parse_module(text)
    with _validation_lock:
        _parses_without_validation += 1
        cst.CSTNode.__post_init__ = _skip_validation  # type: ignore[method-assign]
    try:
        return cst.parse_module(text)
    finally:
        with _validation_lock:
            _parses_without_validation -= 1
            if not _parses_without_validation:
                cst.CSTNode.__post_init__ = _VALIDATE_NODE  # type: ignore[method-assign]


def _lint_text(
    source: bytes,
    decoded: Decoded,
    path: str,
    settings: LintSettings,
    *,
    want_edits: bool,
    unsafe_fixes: bool = False,
) -> _Pass:
    """Lint code Python accepts and libcst may parse; raise ``_NotLinted`` if it cannot be.
    With ``want_edits``, the byte edits of the safe fixes (all fixes with ``unsafe_fixes``)."""
    fix_mode = want_edits
    text = decoded.text
    shifted: dict[int, int] = {}
    skipped: list[int] = []
    for _ in range(MAX_LIBCST_REPAIRS):
        try:
            module = _parse(text)
            break
        except cst.ParserSyntaxError as error:
            if not shifted and "\x0c" in text:
                # A form feed in indentation, which Python ignores: hide it from libcst (the
                # text libcst reads is then not the file's, so nothing is fixed).
                text, shifted = libcst_compatible(text)
                if shifted:
                    want_edits = False
                    continue
            # libcst is stricter than Python here: blank the top-level statements it cannot read
            # on their own, and go on with the rest.
            blanked = None if skipped else blank_blocks(source, decoded, _libcst_reads)
            if blanked is None:
                raise _NotLinted(f"libcst cannot parse it: {error.message}") from None
            skipped.extend(blanked.lines)
            repaired = blanked.source
            source, decoded = repaired, decode(repaired)
            text, shifted = libcst_compatible(decoded.text) if shifted else (decoded.text, {})
            want_edits = False  # never fix a file whose text had to be altered
        except (RecursionError, MemoryError) as error:
            raise _NotLinted(
                f"libcst ran out of stack or memory ({type(error).__name__})"
            ) from None
    else:
        raise _NotLinted("libcst cannot parse it")

    try:
        facts = collect_facts(module)
    except RecursionError:
        raise _NotLinted(
            "it is nested too deeply for nnlint's fact walk (RecursionError)"
        ) from None
    except Exception as error:  # noqa: BLE001 - a collector bug must be reported, not raised
        finding = _meta_finding(
            path,
            INTERNAL_ERROR,
            1,
            1,
            f"internal error while collecting facts: {type(error).__name__}: {error}; "
            "please report this bug",
        )
        return _Pass([finding] if INTERNAL_ERROR in settings.enabled else [])

    try:
        reported, errors = _run_rules(facts, settings, path)
    finally:
        # Rules are done with the facts: let the tree go by reference counting alone.
        facts.release()
    findings: list[Finding] = [f for f in errors if f.code in settings.enabled]
    outcome = _Pass(findings, skipped=skipped)
    if not reported and not findings:
        outcome.findings.extend(_unused_noqa(text, path, settings))
        return outcome

    noqa = noqa_map(text)
    try:
        spans = _deep_enough(lambda: node_spans(module, [r.violation.node for r in reported]))
    except RecursionError:
        raise _NotLinted("it is nested too deeply to locate findings (RecursionError)") from None
    kept: list[tuple[_Reported, Span]] = []
    for item in reported:
        span = spans.get(id(item.violation.node))
        if span is None:  # pragma: no cover - every reported node is an expression of module
            span = Span(1, 1, 1, 1)
        if shifted:
            span = Span(
                span.line,
                span.column + shifted.get(span.line, 0),
                span.end_line,
                span.end_column + shifted.get(span.end_line, 0),
            )
        if not noqa.suppresses(span.line, item.meta.code):
            kept.append((item, span))
    outcome.findings = [f for f in findings if not noqa.suppresses(f.line, f.code)]
    outcome.findings.extend(_unused_noqa(text, path, settings, noqa))

    placed: dict[int, Edit] = {}
    if want_edits:
        fixes = [
            item.violation.fix
            for item, _ in kept
            if item.meta.fixable
            and item.violation.fix is not None
            and (unsafe_fixes or item.violation.fix.applicability is Applicability.SAFE)
        ]
        has_bom = source.startswith(BOM)
        try:
            placed = {
                id(fix_): edit
                for fix_, edit in _deep_enough(
                    lambda: list(fix_edits(module, text, decoded.encoding, has_bom, fixes))
                )
            }
        except RecursionError:
            placed = {}
        outcome.edits = list(placed.values())

    for item, span in kept:
        fix_ = item.violation.fix
        fixable = item.meta.fixable and fix_ is not None
        if fix_mode and fix_ is not None:
            # Still fixable: a fix that was placed, or an unsafe one left for --unsafe-fixes.
            held_back = fix_.applicability is not Applicability.SAFE and not unsafe_fixes
            fixable = fixable and (id(fix_) in placed or held_back)
        outcome.findings.append(
            Finding(
                path=path,
                line=span.line,
                column=span.column,
                code=item.meta.code,
                message=item.violation.message,
                end_line=span.end_line,
                end_column=span.end_column,
                fixable=fixable and not skipped,
                fix_title=fix_.title if fixable and fix_ is not None and not skipped else None,
                fix_applicability=(
                    fix_.applicability if fixable and fix_ is not None else Applicability.SAFE
                ),
            )
        )
    outcome.findings.sort(key=Finding.sort_key)
    return outcome


def _not_linted(path: str, line: int, reason: str) -> Finding:
    return _meta_finding(path, NOT_LINTED, line, 1, f"not linted: {reason}")


def _lint_around(
    source: bytes,
    decoded: Decoded,
    path: str,
    settings: LintSettings,
    problem: SyntaxProblem,
) -> tuple[list[Finding], tuple[int, ...]]:
    """Lint what is left of a file once the statements Python (or libcst) rejects are blanked
    out; its findings keep their positions and are not fixable (a broken file is never fixed).
    Also returns the first line of each blanked statement."""
    blanked = blank_rejected(source, decoded, path, problem)
    if blanked is None:
        return [], ()
    try:
        outcome = _lint_text(
            blanked.source, decode(blanked.source), path, settings, want_edits=False
        )
    except (_NotLinted, Undecodable):
        return [], blanked.lines
    findings = [
        dataclasses.replace(f, fixable=False, fix_title=None) if f.fixable else f
        for f in outcome.findings
    ]
    return findings, blanked.lines


def _lint_once(
    source: bytes,
    path: str,
    settings: LintSettings,
    *,
    want_edits: bool,
    unsafe_fixes: bool = False,
) -> tuple[_Pass, bool]:
    """Lint ``source``; the flag says whether its syntax is clean (only then can it be fixed)."""
    findings: list[Finding] = []
    try:
        decoded = decode(source)
    except Undecodable as error:
        if SYNTAX_ERROR in settings.enabled:
            p = error.problem
            findings.append(_meta_finding(path, SYNTAX_ERROR, p.line, p.column, p.message))
        return _Pass(findings), False
    if not could_have_findings(source, settings):
        # No rule can fire, so the file is not parsed; but a file Python cannot compile is
        # still reported, as ruff does.
        if SYNTAX_ERROR in settings.enabled:
            problem = compile_problem(decoded.text, path)
            if problem is not None:
                findings.append(
                    _meta_finding(path, SYNTAX_ERROR, problem.line, problem.column, problem.message)
                )
        if UNUSED_NOQA in settings.enabled and b"noqa" in source.lower() and not findings:
            # No rule ran, so every code of an enabled rule in a directive is unused.
            findings.extend(_unused_noqa(decoded.text, path, settings))
        return _Pass(findings), True

    python_problem, too_deep = check(decoded.text, path)
    if python_problem is not None or too_deep is not None:
        if python_problem is not None and SYNTAX_ERROR in settings.enabled:
            p = python_problem
            findings.append(_meta_finding(path, SYNTAX_ERROR, p.line, p.column, p.message))
        problem = python_problem or too_deep
        assert problem is not None
        around, blanked_lines = _lint_around(source, decoded, path, settings, problem)
        findings.extend(around)
        if too_deep is not None and NOT_LINTED in settings.enabled:
            line = blanked_lines[0] if blanked_lines else 1
            where = ", ".join(map(str, blanked_lines)) or "?"
            findings.append(
                _not_linted(
                    path,
                    line,
                    f"the statement(s) at line(s) {where} are {too_deep.message}; "
                    "the rest of the file was linted"
                    if blanked_lines
                    else f"the file is {too_deep.message}",
                )
            )
        findings.sort(key=Finding.sort_key)
        return _Pass(findings), False
    try:
        outcome = _lint_text(
            source, decoded, path, settings, want_edits=want_edits, unsafe_fixes=unsafe_fixes
        )
    except _NotLinted as reason:
        if NOT_LINTED in settings.enabled:
            findings.append(_not_linted(path, 1, str(reason)))
        return _Pass(findings), False
    if outcome.skipped and NOT_LINTED in settings.enabled:
        lines = ", ".join(str(line) for line in outcome.skipped)
        outcome.findings.append(
            _not_linted(
                path,
                outcome.skipped[0],
                f"libcst (nnlint's parser) cannot read the statement at line(s) {lines}, "
                "which Python accepts; the rest of the file was linted",
            )
        )
        outcome.findings.sort(key=Finding.sort_key)
    return outcome, not outcome.skipped


# A fix can uncover another (a fixed call inside a fixed call); as ruff, fixing repeats until
# nothing changes, at most this many times.
MAX_FIX_PASSES = 16


def lint_source(
    source: bytes,
    path: str,
    settings: LintSettings,
    *,
    fix: bool = False,
    unsafe_fixes: bool = False,
) -> FileResult:
    """Lint one file's bytes. Never raises for bad input (see the module docstring).

    With ``fix=True``, the safe fixes of enabled fixable rules (the unsafe ones too with
    ``unsafe_fixes``) are applied as byte edits, repeatedly until none is left: ``fixed_source``
    is the whole new file (Python compiles it) and ``findings`` are those that remain.

    The cyclic GC is off for the whole file: a syntax tree is hundreds of thousands of acyclic
    objects freed by reference counting, and a collection while it is alive scans all of them
    (pausing only the parse deferred that cost to the first allocation after it: about a third
    of the parse time on timm). Collection resumes once the tree is gone. (A plain try/finally,
    not a context manager: the generator's own allocations at exit would trigger the deferred
    collection right away, about 1 CPU-s more on timm.)
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
    result = _lint_and_fix(source, path, settings, fix=fix, unsafe_fixes=unsafe_fixes)
    if fix and any(f.code == UNUSED_NOQA for f in result.findings):
        # Unused noqa codes are comment text: dropped after the code fixes, then linted again.
        current = result.fixed_source if result.fixed_source is not None else source
        try:
            decoded = decode(current)
        except Undecodable:  # pragma: no cover - it was linted, so it decodes
            return result
        noqa = noqa_map(decoded.text)
        new_source = without_unused_codes(decoded.text, noqa, result.findings).encode(
            decoded.encoding
        )
        if new_source != current:
            refreshed = _lint_and_fix(new_source, path, settings, fix=False, unsafe_fixes=False)
            refreshed.fixed_source = new_source
            refreshed.fixed_count = result.fixed_count + sum(
                1 for f in result.findings if f.code == UNUSED_NOQA
            )
            refreshed.unfixed_findings = result.unfixed_findings or list(result.findings)
            return refreshed
    return result


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


def _lint_and_fix(
    source: bytes, path: str, settings: LintSettings, *, fix: bool, unsafe_fixes: bool
) -> FileResult:
    outcome, clean = _lint_once(source, path, settings, want_edits=fix, unsafe_fixes=unsafe_fixes)
    result = FileResult(path=path, findings=outcome.findings)
    if not fix or not clean or not outcome.edits:
        return result
    current = source
    fixed_count = 0
    for _ in range(MAX_FIX_PASSES):
        if not outcome.edits:
            break
        candidate, applied = apply_edits(current, outcome.edits)
        next_outcome, next_clean = _lint_once(
            candidate, path, settings, want_edits=True, unsafe_fixes=unsafe_fixes
        )
        if not next_clean or any(f.code == SYNTAX_ERROR for f in next_outcome.findings):
            break  # a fix that breaks the file is never written
        current, fixed_count, outcome = candidate, fixed_count + applied, next_outcome
    if not fixed_count:
        return result
    return FileResult(
        path=path,
        findings=outcome.findings,
        fixed_source=current,
        fixed_count=fixed_count,
        unfixed_findings=list(result.findings),
    )


# Reaches every rule family's extractor and the parser's native module (see ``preload``).
_PRELOAD_SOURCE = (
    b"import torch\nfrom torch import nn\n"
    b"net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Dropout(0.5), nn.Conv2d(1, 1, 1))\n"
    b"opt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
    b"loss = nn.BCELoss()(torch.sigmoid(net(x)), y)  # noqa: NN502\n"
    b"loss.backward()\nopt.step()\n"
)


def preload() -> None:
    """Import and warm everything that linting a file uses (every rule, every extractor,
    libcst's native parser, the walker's per-node-type caches), so that worker processes forked
    afterwards share it instead of each loading it again."""
    settings = LintSettings(enabled=frozenset(m.code for m in all_rules()))
    lint_source(_PRELOAD_SOURCE, "<preload>", settings)


__all__ = [
    "LintSettings",
    "could_have_findings",
    "lint_source",
    "preload",
    "settings_fingerprint",
]
