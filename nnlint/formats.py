"""Render findings as concise/full text, ruff-shaped JSON, GitHub annotations or SARIF 2.1.0.

Every renderer takes the findings already sorted and a ``RuleLookup`` giving each code's rule
metadata (name, severity, url, docs, failure mode), and returns the text to print.
"""

from __future__ import annotations

import difflib
import json
import os
import pathlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import nnlint
from nnlint.catalog import FailureMode
from nnlint.findings import Applicability, Finding, Severity

OUTPUT_FORMATS = ("concise", "full", "json", "github", "sarif")
INFORMATION_URI = "https://github.com/nnlint/nnlint"


class RuleView(Protocol):
    """The rule metadata the formats need (``nnlint.rules.RuleMeta`` satisfies it)."""

    code: str
    name: str
    message: str
    severity: Severity
    failure_mode: FailureMode | None
    fixable: bool
    doc: str
    url: str
    remedy: str


@dataclass(frozen=True)
class UnknownRule:
    """Stand-in for a code missing from the registry (keeps output whole rather than crashing)."""

    code: str
    name: str = "unknown-rule"
    message: str = ""
    severity: Severity = Severity.ERROR
    failure_mode: FailureMode | None = None
    fixable: bool = False
    doc: str = ""
    url: str = INFORMATION_URI
    remedy: str = ""


RuleLookup = Callable[[str], RuleView]
# Returns a file's text lines (for the `full` format), or None when the file cannot be read.
SourceLookup = Callable[[str], "Sequence[str] | None"]


def fix_applies(finding: Finding, *, unsafe_fixes: bool = False) -> bool:
    """Whether ``--fix`` (with ``--unsafe-fixes`` or not) would apply the finding's fix."""
    return finding.fixable and (unsafe_fixes or finding.fix_applicability is Applicability.SAFE)


def _fix_marker(finding: Finding, unsafe_fixes: bool) -> str:
    return "[*] " if fix_applies(finding, unsafe_fixes=unsafe_fixes) else ""


def location(finding: Finding) -> str:
    """``path:row:col``, or ``path:cell N:row:col`` in a notebook (ruff's form)."""
    cell = f"cell {finding.cell}:" if finding.cell is not None else ""
    return f"{finding.path}:{cell}{finding.line}:{finding.column}"


def _headline(finding: Finding, unsafe_fixes: bool) -> str:
    marker = _fix_marker(finding, unsafe_fixes)
    return f"{location(finding)}: {finding.code} {marker}{finding.message}\n"


def render_concise(
    findings: Sequence[Finding], rules: RuleLookup, *, unsafe_fixes: bool = False
) -> str:
    """``path:row:col: CODE [*] message``, one line per finding (ruff's concise format)."""
    return "".join(_headline(f, unsafe_fixes) for f in findings)


def read_source_lines(path: str) -> list[str] | None:
    """The text lines of ``path`` for source excerpts (undecodable bytes replaced), or None."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    return raw.decode("utf-8", errors="replace").splitlines()


def render_full(
    findings: Sequence[Finding],
    rules: RuleLookup,
    source_lines: SourceLookup = read_source_lines,
    *,
    cell_sources: Mapping[tuple[str, int], Sequence[str]] | None = None,
    unsafe_fixes: bool = False,
) -> str:
    """The concise line, then the source line with a caret under the span, the fix title and
    the rule's remedy. A notebook finding shows the line of its cell (``cell_sources``)."""
    out: list[str] = []
    cache: dict[str, Sequence[str] | None] = {}
    for f in findings:
        out.append(_headline(f, unsafe_fixes))
        if f.cell is not None:
            lines = (cell_sources or {}).get((f.path, f.cell))
        else:
            if f.path not in cache:
                cache[f.path] = source_lines(f.path)
            lines = cache[f.path]
        if lines is not None and 1 <= f.line <= len(lines):
            text = lines[f.line - 1].expandtabs(1)
            gutter = len(str(f.line))
            start = max(f.column - 1, 0)
            # A span that ends on a later line is underlined to the end of the first line.
            end = f.end_column - 1 if f.end_line == f.line else len(text.rstrip())
            width = max(end - start, 1)
            pad = " " * gutter
            out.append(f"{pad} |\n")
            out.append(f"{f.line} | {text}\n")
            out.append(f"{pad} | {' ' * start}{'^' * width} {f.code}\n")
            out.append(f"{pad} |\n")
            if f.fix_title:
                unsafe = f.fix_applicability is Applicability.UNSAFE
                suffix = " (unsafe fix: applied only with `--unsafe-fixes`)" if unsafe else ""
                out.append(f"{pad} = help: {f.fix_title}{suffix}\n")
            rule = rules(f.code)
            if rule.remedy:
                title = f"{rule.failure_mode.title}: " if rule.failure_mode is not None else ""
                out.append(f"{pad} = note: {title}{rule.remedy}\n")
        out.append("\n")
    return "".join(out)


@dataclass(frozen=True)
class Edit:
    """Replace the text from (row, column) to (end_row, end_column) with ``content`` (1-based)."""

    row: int
    column: int
    end_row: int
    end_column: int
    content: str

    def to_json(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "location": {"row": self.row, "column": self.column},
            "end_location": {"row": self.end_row, "column": self.end_column},
        }


def _advance(row: int, column: int, text: str) -> tuple[int, int]:
    newlines = text.count("\n")
    if newlines:
        return row + newlines, len(text) - text.rfind("\n")
    return row, column + len(text)


def edits_between(original: str, fixed: str) -> list[Edit]:
    """The minimal edits that turn ``original`` into ``fixed``: changed line blocks, trimmed to
    the characters that differ (so an inserted keyword is one insertion at its column)."""
    before = original.splitlines(keepends=True)
    after = fixed.splitlines(keepends=True)
    edits = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old, new = "".join(before[i1:i2]), "".join(after[j1:j2])
        prefix = len(os.path.commonprefix([old, new]))
        suffix = len(os.path.commonprefix([old[prefix:][::-1], new[prefix:][::-1]]))
        row, column = _advance(i1 + 1, 1, old[:prefix])
        end_row, end_column = _advance(row, column, old[prefix : len(old) - suffix])
        edits.append(Edit(row, column, end_row, end_column, new[prefix : len(new) - suffix]))
    return edits


def assign_edits(findings: Sequence[Finding], edits: Sequence[Edit]) -> dict[Finding, list[Edit]]:
    """Give each edit to the fixable finding whose span holds it (else the nearest before it)."""
    fixable = sorted((f for f in findings if f.fixable), key=Finding.sort_key)
    assigned: dict[Finding, list[Edit]] = {f: [] for f in fixable}
    for edit in edits:
        position = (edit.row, edit.column)
        owner = None
        for f in fixable:
            if (f.line, f.column) <= position <= (f.end_line, f.end_column):
                owner = f
                break
            if (f.line, f.column) <= position:
                owner = f
        owner = owner or (fixable[0] if fixable else None)
        if owner is not None:
            assigned[owner].append(edit)
    return assigned


def finding_to_json(
    f: Finding, rules: RuleLookup, edits: Sequence[Edit] | None = None
) -> dict[str, Any]:
    """One finding in ruff's JSON shape (plus ``severity`` and ``failure_mode``)."""
    rule = rules(f.code)
    fix = None
    if f.fixable:
        fix = {
            "applicability": f.fix_applicability.value,
            "message": f.fix_title,
            "edits": [edit.to_json() for edit in edits or ()],
        }
    return {
        "cell": f.cell,
        "code": f.code,
        "end_location": {"column": f.end_column, "row": f.end_line},
        "filename": os.path.abspath(f.path) if f.path != "-" else f.path,
        "fix": fix,
        "location": {"column": f.column, "row": f.line},
        "message": f.message,
        "name": rule.name,
        "noqa_row": f.line,
        "severity": rule.severity.value,
        "failure_mode": rule.failure_mode.id if rule.failure_mode is not None else None,
        "url": rule.url,
    }


def render_json(
    findings: Sequence[Finding],
    rules: RuleLookup,
    edits: Mapping[Finding, Sequence[Edit]] | None = None,
) -> str:
    edits = edits or {}
    records = [finding_to_json(f, rules, edits.get(f)) for f in findings]
    return json.dumps(records, indent=2) + "\n"


def _gh_data(text: str) -> str:
    # GitHub workflow-command escaping for the message part.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding], rules: RuleLookup) -> str:
    """GitHub Actions workflow commands: one ``::error``/``::warning`` annotation per finding."""
    out = []
    for f in findings:
        rule = rules(f.code)
        level = "error" if rule.severity is Severity.ERROR else "warning"
        props = ",".join(
            [
                f"file={_gh_property(f.path)}",
                f"line={f.line}",
                f"col={f.column}",
                f"endLine={f.end_line}",
                f"endColumn={f.end_column}",
                f"title={_gh_property(f'{f.code} ({rule.name})')}",
            ]
        )
        where = f"cell {f.cell}, line {f.line}: " if f.cell is not None else ""
        out.append(f"::{level} {props}::{_gh_data(f'{where}{f.code} {f.message}')}\n")
    return "".join(out)


def _first_paragraph(doc: str) -> str:
    """The first prose paragraph of a ruff-shaped rule doc (skipping `## What it does`)."""
    paragraph: list[str] = []
    for line in doc.strip().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            if paragraph:
                break
            continue
        if not stripped:
            if paragraph:
                break
            continue
        paragraph.append(stripped)
    return " ".join(paragraph)


def _sarif_uri(path: str) -> dict[str, str]:
    if path == "-":
        return {"uri": "stdin"}
    abs_path = os.path.abspath(path)
    cwd = os.getcwd()
    rel = os.path.relpath(abs_path, cwd)
    if rel.startswith(os.pardir):
        return {"uri": pathlib.Path(abs_path).as_uri()}
    return {"uri": pathlib.PurePath(rel).as_posix(), "uriBaseId": "%SRCROOT%"}


def sarif_rule(rule: RuleView) -> dict[str, Any]:
    tags = ["nnlint"]
    full = _first_paragraph(rule.doc) or rule.message
    if rule.failure_mode is not None:
        tags += [rule.failure_mode.id, rule.failure_mode.title]
        full = f"{full} ({rule.failure_mode.title}: {rule.failure_mode.summary})"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.message or rule.name},
        "fullDescription": {"text": full},
        "help": {"text": rule.doc or rule.message, "markdown": rule.doc or rule.message},
        "helpUri": rule.url,
        "defaultConfiguration": {"level": rule.severity.value},
        "properties": {"tags": tags, "fixable": rule.fixable},
    }


def render_sarif(
    findings: Sequence[Finding],
    rules: RuleLookup,
    all_rules: Sequence[RuleView] = (),
) -> str:
    """A SARIF 2.1.0 log that GitHub code scanning accepts (rules listed in the driver)."""
    listed = sorted({r.code: r for r in [*all_rules, *(rules(f.code) for f in findings)]}.items())
    index = {code: i for i, (code, _) in enumerate(listed)}
    results = []
    for f in findings:
        rule = rules(f.code)
        # SARIF addresses lines of the file; in a notebook they count within the cell named in
        # the message and the properties (no SARIF consumer knows notebook cells).
        where = f"cell {f.cell}, line {f.line}: " if f.cell is not None else ""
        cell = {"properties": {"cell": f.cell}} if f.cell is not None else {}
        results.append(
            {
                **cell,
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": rule.severity.value,
                "message": {"text": where + f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": _sarif_uri(f.path),
                            "region": {
                                "startLine": f.line,
                                "startColumn": f.column,
                                "endLine": f.end_line,
                                "endColumn": f.end_column,
                            },
                        }
                    }
                ],
            }
        )
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nnlint",
                        "version": nnlint.__version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [sarif_rule(rule) for _, rule in listed],
                    }
                },
                "originalUriBaseIds": {
                    "%SRCROOT%": {"uri": pathlib.Path(os.getcwd()).as_uri() + "/"}
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def render_statistics(findings: Sequence[Finding], rules: RuleLookup) -> str:
    """Count per code, most frequent first (ruff's ``--statistics``): ``count  CODE  [*] name``."""
    counts = Counter(f.code for f in findings)
    fixable = {f.code for f in findings if f.fixable}
    if not counts:
        return ""
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    count_width = max(len(str(n)) for _, n in rows)
    code_width = max(len(code) for code, _ in rows)
    return "".join(
        f"{n:>{count_width}}\t{code:<{code_width}}\t{'[*]' if code in fixable else '[ ]'} "
        f"{rules(code).name}\n"
        for code, n in rows
    )


def render_statistics_json(findings: Sequence[Finding], rules: RuleLookup) -> str:
    counts = Counter(f.code for f in findings)
    fixable = Counter(f.code for f in findings if f.fixable)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return (
        json.dumps(
            [
                {
                    "code": code,
                    "name": rules(code).name,
                    "count": n,
                    "fixable": fixable[code] > 0,
                    "fixable_count": fixable[code],
                }
                for code, n in rows
            ],
            indent=2,
        )
        + "\n"
    )


def render(
    output_format: str,
    findings: Sequence[Finding],
    rules: RuleLookup,
    *,
    all_rules: Sequence[RuleView] = (),
    sources: Mapping[str, Sequence[str]] | None = None,
    cell_sources: Mapping[tuple[str, int], Sequence[str]] | None = None,
    edits: Mapping[Finding, Sequence[Edit]] | None = None,
    unsafe_fixes: bool = False,
) -> str:
    """Dispatch on ``output_format`` (one of ``OUTPUT_FORMATS``)."""
    if output_format == "concise":
        return render_concise(findings, rules, unsafe_fixes=unsafe_fixes)
    if output_format == "full":

        def lookup(path: str) -> Sequence[str] | None:
            if sources is not None and path in sources:
                return sources[path]
            return read_source_lines(path)

        return render_full(
            findings, rules, lookup, cell_sources=cell_sources, unsafe_fixes=unsafe_fixes
        )
    if output_format == "json":
        return render_json(findings, rules, edits)
    if output_format == "github":
        return render_github(findings, rules)
    if output_format == "sarif":
        return render_sarif(findings, rules, all_rules)
    raise ValueError(f"unknown output format {output_format!r}; choose from {OUTPUT_FORMATS}")
