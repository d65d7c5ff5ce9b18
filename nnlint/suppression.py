"""``# noqa`` handling: line-level ``# noqa[: codes]`` and file-level ``# nnlint: noqa[: codes]``;
which directives go unused (NN003, ruff's RUF100) and how to drop them; ``--add-noqa``.

Comments are read with ``tokenize`` (so ``# noqa`` inside a string is not a comment), and only for
files that have findings or, with NN003 on, a ``noqa`` comment.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nnlint.findings import Finding

UNUSED_NOQA = "NN003"
# Codes of this family; codes like E501 in a directive belong to other linters and are never
# reported as unknown.
_OWN_CODE = re.compile(r"NN[0-9]+\Z")

# ruff/flake8 syntax: a "noqa" directive anywhere in a comment, optionally followed by a colon
# and codes (separated by commas and/or spaces; case-insensitive). A colon followed by no code
# is a blanket directive, as in flake8. The file-level form written after code on a line acts on
# that line only.
_LINE_NOQA = re.compile(
    r"#\s*(?:nnlint\s*:\s*)?noqa(?::\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?",
    re.IGNORECASE,
)
_FILE_NOQA = re.compile(
    r"^#\s*nnlint\s*:\s*noqa(?:\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?",
    re.IGNORECASE,
)
_ANY_NOQA = re.compile(r"noqa", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


@dataclass
class Directive:
    """One ``noqa`` directive as written: where its text is, and the codes it names."""

    line: int
    start: int  # 0-based column of the directive's `#`
    end: int  # just past its last code
    codes: tuple[str, ...] | None  # as written, upper-cased; None for a blanket directive
    file_level: bool
    used: set[str] = field(default_factory=set)


@dataclass
class NoqaMap:
    """Which findings the comments of one file suppress (and which directives were used)."""

    # line -> codes (None = all); only lines that carry a directive.
    lines: dict[int, frozenset[str] | None] = field(default_factory=dict)
    file_all: bool = False
    file_codes: frozenset[str] = frozenset()
    directives: list[Directive] = field(default_factory=list)

    def suppresses(self, line: int, code: str) -> bool:
        if self.file_all or code in self.file_codes:
            self._mark(code, None)
            return True
        if line not in self.lines:
            return False
        codes = self.lines[line]
        if codes is None or code in codes:
            self._mark(code, line)
            return True
        return False

    def _mark(self, code: str, line: int | None) -> None:
        for directive in self.directives:
            if directive.file_level == (line is None) and (line is None or directive.line == line):
                if directive.codes is None or code in directive.codes:
                    directive.used.add(code)

    def unused_findings(
        self, path: str, enabled: Collection[str], known: Collection[str]
    ) -> list[Finding]:
        """NN003 findings: codes of enabled rules that suppressed nothing, and ``NN`` codes that
        name no rule. Blanket directives and other linters' codes are left alone: they may be
        there for flake8 or ruff. Call after every finding went through ``suppresses``."""
        findings = []
        for directive in self.directives:
            if directive.codes is None:
                continue
            unused = [
                c
                for c in directive.codes
                if c in enabled and c not in directive.used and c != UNUSED_NOQA
            ]
            unknown = [c for c in directive.codes if _OWN_CODE.match(c) and c not in known]
            if not unused and not unknown:
                continue
            parts = []
            if unused:
                parts.append("unused: " + ", ".join(f"`{c}`" for c in unused))
            if unknown:
                parts.append("unknown: " + ", ".join(f"`{c}`" for c in unknown))
            findings.append(
                Finding(
                    path,
                    directive.line,
                    directive.start + 1,
                    UNUSED_NOQA,
                    f"Unused `noqa` directive ({'; '.join(parts)})",
                    directive.line,
                    directive.end + 1,
                    fixable=True,
                    fix_title="Remove unused `noqa` codes",
                )
            )
        return findings


def _codes(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    # Codes of other linters (E501, F401) are kept but can never match an nnlint code.
    return frozenset(code.upper() for code in _CODE.findall(text))


def _written_codes(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(code.upper() for code in _CODE.findall(text))


def _directive(match: re.Match[str], line: int, column: int, *, file_level: bool) -> Directive:
    return Directive(
        line,
        column + match.start(),
        column + match.end(),
        _written_codes(match.group("codes")),
        file_level=file_level,
    )


def parse_comment(comment: str, own_line: bool, noqa: NoqaMap, line: int, column: int = 0) -> None:
    """Record what one comment token (``# ...``) at ``column`` of ``line`` suppresses."""
    if own_line:
        match = _FILE_NOQA.match(comment)
        if match is not None:
            codes = _codes(match.group("codes"))
            if codes is None:
                noqa.file_all = True
            else:
                noqa.file_codes |= codes
            noqa.directives.append(_directive(match, line, column, file_level=True))
            return
    match = _LINE_NOQA.search(comment)
    if match is not None:
        noqa.directives.append(_directive(match, line, column, file_level=False))
        codes = _codes(match.group("codes"))
        previous = noqa.lines.get(line, frozenset())
        if codes is None or previous is None:
            noqa.lines[line] = None
        else:
            noqa.lines[line] = previous | codes


def noqa_map(text: str) -> NoqaMap:
    """Collect the suppressions of a file's decoded text.

    A file that tokenize rejects (it parsed with libcst, so this is rare) keeps what was read
    before the error.
    """
    noqa = NoqaMap()
    if _ANY_NOQA.search(text) is None:
        return noqa
    readline = io.StringIO(text).readline
    last_code_line = 0
    try:
        for token in tokenize.generate_tokens(readline):
            if token.type == tokenize.COMMENT:
                line = token.start[0]
                parse_comment(token.string, last_code_line != line, noqa, line, token.start[1])
            elif token.type not in (
                tokenize.NL,
                tokenize.NEWLINE,
                tokenize.INDENT,
                tokenize.DEDENT,
            ):
                last_code_line = token.end[0]
    except (tokenize.TokenError, SyntaxError):
        pass
    return noqa


# ---------------------------------------------------------------------------------------------
# Fixing NN003 and adding directives (--add-noqa): edits of comment text only


def without_unused_codes(text: str, noqa: NoqaMap, findings: Iterable[Finding]) -> str:
    """``text`` with the codes that ``findings`` (NN003) report dropped from their directives;
    a directive left without codes is removed with the whitespace before it, and a comment line
    that held only it is removed whole."""
    lines = text.splitlines(keepends=True)
    # The codes to drop are the ones the finding names (its message is built right above).
    reported = {
        (f.line, f.column - 1): set(re.findall(r"`([A-Z]+[0-9]+)`", f.message))
        for f in findings
        if f.code == UNUSED_NOQA
    }
    drop_lines: set[int] = set()
    # Right to left on a line, so earlier columns stay valid.
    for directive in sorted(noqa.directives, key=lambda d: (d.line, -d.start)):
        if (directive.line, directive.start) not in reported or directive.codes is None:
            continue
        index = directive.line - 1
        line = lines[index]
        drop = reported[(directive.line, directive.start)]
        keep = [c for c in directive.codes if c not in drop]
        head = line[: directive.start]
        tail = line[directive.end :]
        if keep:
            written = line[directive.start : directive.end]
            colon = re.search(r"noqa\s*:", written, re.IGNORECASE)
            assert colon is not None  # a directive with codes has its colon
            new = written[: colon.end()] + " " + ", ".join(keep)
            lines[index] = head + new + tail
            continue
        if not head.strip() and not tail.strip():
            drop_lines.add(index)
            continue
        stripped_head = head.rstrip()
        if stripped_head.endswith("#") and not tail.strip():
            stripped_head = stripped_head[:-1].rstrip()
        lines[index] = stripped_head + (tail if tail.strip() else _line_end(line))
    return "".join(line for i, line in enumerate(lines) if i not in drop_lines)


def _line_end(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def add_directives(text: str, codes_by_line: Mapping[int, Sequence[str]]) -> tuple[str, int]:
    """``text`` with ``# noqa: CODES`` appended to each line of ``codes_by_line`` (merged into an
    existing directive's codes), and how many lines changed."""
    lines = text.splitlines(keepends=True)
    noqa = noqa_map(text)
    changed = 0
    for line_number, codes in sorted(codes_by_line.items()):
        if not 0 < line_number <= len(lines):
            continue
        line = lines[line_number - 1]
        body, end = line[: len(line) - len(_line_end(line))], _line_end(line)
        existing = [d for d in noqa.directives if d.line == line_number and not d.file_level]
        if existing and existing[0].codes is None:
            continue  # a blanket noqa already covers the line
        if existing:
            directive = existing[0]
            merged = list(directive.codes or ()) + [
                c for c in codes if c not in (directive.codes or ())
            ]
            new_body = (
                body[: directive.start] + "# noqa: " + ", ".join(merged) + body[directive.end :]
            )
        else:
            new_body = body.rstrip() + "  # noqa: " + ", ".join(sorted(set(codes)))
        if new_body != body:
            lines[line_number - 1] = new_body + (end or "")
            changed += 1
    return "".join(lines), changed


def add_noqa_directives(
    findings: Sequence[Finding], notebook_for: Callable[[str], Any] | None = None
) -> int:
    """``--add-noqa``: write ``# noqa`` directives for ``findings`` into their files; returns
    how many lines changed. Findings that point at no line of code (NN001, NN002) are skipped.
    A notebook's directives go into its cells' source; ``notebook_for(path)`` gives the
    ``Notebook`` read whole (its JSON text kept)."""
    from nnlint.runner import write_atomically

    by_file: dict[tuple[str, int | None], dict[int, list[str]]] = {}
    for finding in findings:
        if finding.code in ("NN001", "NN002") or finding.path == "-":
            continue
        lines = by_file.setdefault((finding.path, finding.cell), {})
        codes = lines.setdefault(finding.line, [])
        if finding.code not in codes:
            codes.append(finding.code)
    total = 0
    for path in sorted({path for path, _ in by_file}):
        cells = {cell: lines for (where, cell), lines in by_file.items() if where == path}
        if None not in cells:
            if notebook_for is None:
                continue
            notebook = notebook_for(path)
            sources = {}
            for number, codes_by_line in cells.items():
                assert number is not None
                source, changed = add_directives(notebook.cell_source(number), codes_by_line)
                sources[number] = source
                total += changed
            new_bytes = notebook.with_cells(sources).encode("utf-8")
        else:
            try:
                with open(path, "rb") as fh:
                    text = fh.read().decode("utf-8")
            except (OSError, UnicodeDecodeError):
                continue  # reported by the lint itself; nothing to write
            new_text, changed = add_directives(text, cells[None])
            if not changed:
                continue
            total += changed
            new_bytes = new_text.encode("utf-8")
        write_atomically(path, new_bytes)
    return total
