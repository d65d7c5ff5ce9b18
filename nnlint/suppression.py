"""``# noqa`` handling: line-level ``# noqa[: codes]`` and file-level ``# nnlint: noqa[: codes]``;
which directives go unused (NN003, ruff's RUF100) and how to drop them; ``--add-noqa``.

Comments are read with ``tokenize`` (so ``# noqa`` inside a string is not a comment), and only for
files that have findings or, with NN003 on, a ``noqa`` comment.
"""

from __future__ import annotations

import re
import tokenize
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nnlint.findings import Finding
from nnlint.syntax import python_tokens, text_lines

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
    # Lines that cannot carry a comment -> the line whose directive covers them (see
    # ``directive_line``); only lines inside multi-line strings or backslash continuations.
    covered_by: dict[int, int] = field(default_factory=dict)

    def directive_line(self, line: int) -> int:
        """Where a directive for a finding on ``line`` goes (ruff's rule): a line inside a
        multi-line string or a backslash-continued line cannot end in a comment, so the last
        line of that string or continuation carries it."""
        return self.covered_by.get(line, line)

    def suppresses(self, line: int, code: str) -> bool:
        if self.file_all or code in self.file_codes:
            self._mark(code, None)
            return True
        line = self.directive_line(line)
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


_LAYOUT_TOKENS = frozenset({tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT})
# Python 3.12+ tokenizes an f-string in pieces; a multi-line one spans START..END.
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


def noqa_map(text: str, *, always: bool = False) -> NoqaMap:
    """Collect the suppressions of a file's decoded text (with ``always``, also the lines that
    directives must go on when the file has none yet: see ``NoqaMap.directive_line``).

    A file that tokenize rejects (it parsed with libcst, so this is rare) keeps what was read
    before the error.
    """
    noqa = NoqaMap()
    if not always and _ANY_NOQA.search(text) is None:
        return noqa
    last_code_line = 0
    previous: tokenize.TokenInfo | None = None
    fstring_starts: list[int] = []
    spans: list[tuple[int, int]] = []
    try:
        for token in python_tokens(text):
            kind = token.type
            if (
                previous is not None
                and token.start[0] > previous.end[0]
                and previous.type not in _LAYOUT_TOKENS
                and previous.type != tokenize.COMMENT
                and kind not in (tokenize.DEDENT, tokenize.ENDMARKER)
            ):
                # No NL/NEWLINE between two tokens on different lines: a backslash joined them.
                spans.append((previous.end[0], token.start[0]))
            if kind == tokenize.STRING and token.start[0] < token.end[0]:
                spans.append((token.start[0], token.end[0]))
            elif kind == _FSTRING_START:
                fstring_starts.append(token.start[0])
            elif kind == _FSTRING_END and fstring_starts:
                start = fstring_starts.pop()
                if start < token.end[0]:
                    spans.append((start, token.end[0]))
            if kind == tokenize.COMMENT:
                line = token.start[0]
                parse_comment(token.string, last_code_line != line, noqa, line, token.start[1])
            elif kind not in _LAYOUT_TOKENS:
                last_code_line = token.end[0]
            previous = token
    except (tokenize.TokenError, SyntaxError):
        pass
    noqa.covered_by = _covering_lines(spans)
    return noqa


def _covering_lines(spans: list[tuple[int, int]]) -> dict[int, int]:
    """Each line of a span but its last -> the last line of the chain of spans it is in (a
    string that ends on a backslash-continued line is covered by the continuation's end)."""
    covered: dict[int, int] = {}
    for first, last in sorted(spans):
        for line in range(first, last):
            covered[line] = max(covered.get(line, last), last)
    for line in sorted(covered, reverse=True):
        end = covered[line]
        covered[line] = covered.get(end, end)
    return covered


# ---------------------------------------------------------------------------------------------
# Fixing NN003 and adding directives (--add-noqa): edits of comment text only


def without_unused_codes(text: str, noqa: NoqaMap, findings: Iterable[Finding]) -> str:
    """``text`` with the codes that ``findings`` (NN003) report dropped from their directives;
    a directive left without codes is removed with the whitespace before it, and a comment line
    that held only it is removed whole."""
    lines = text_lines(text)
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
    lines = text_lines(text)
    noqa = noqa_map(text, always=True)
    targets: dict[int, list[str]] = {}
    for line_number, codes in codes_by_line.items():
        merged = targets.setdefault(noqa.directive_line(line_number), [])
        merged.extend(c for c in codes if c not in merged)
    changed = 0
    for line_number, codes in sorted(targets.items()):
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
            new_body = body.rstrip(" \t") + "  # noqa: " + ", ".join(sorted(set(codes)))
        if new_body != body:
            lines[line_number - 1] = new_body + (end or "")
            changed += 1
    return "".join(lines), changed


@dataclass
class AddedNoqa:
    """What ``--add-noqa`` did: lines changed, and the files it left alone with the reason."""

    lines: int = 0
    not_written: list[tuple[str, str]] = field(default_factory=list)


def add_noqa_directives(
    findings: Sequence[Finding], notebook_for: Callable[[str], Any] | None = None
) -> AddedNoqa:
    """``--add-noqa``: write ``# noqa`` directives for ``findings`` into their files. Findings
    that point at no line of code (NN001, NN002) are skipped. A notebook's directives go into
    its cells' source; ``notebook_for(path)`` gives the ``Notebook`` read whole (its JSON text
    kept). A file is decoded and written back in its own encoding; one whose new text would not
    compile, that changed since it was linted, or that is read-only is left as it was and listed
    in ``not_written``."""
    from nnlint.files import read_regular_file, write_in_place
    from nnlint.syntax import Undecodable, compile_problem, decode

    by_file: dict[tuple[str, int | None], dict[int, list[str]]] = {}
    for finding in findings:
        if finding.code in ("NN001", "NN002") or finding.path == "-":
            continue
        lines = by_file.setdefault((finding.path, finding.cell), {})
        codes = lines.setdefault(finding.line, [])
        if finding.code not in codes:
            codes.append(finding.code)
    outcome = AddedNoqa()
    for path in sorted({path for path, _ in by_file}):
        cells = {cell: lines for (where, cell), lines in by_file.items() if where == path}
        changed = 0
        try:
            raw = read_regular_file(path)
        except OSError as error:
            outcome.not_written.append((path, f"cannot read it: {error.strerror or error}"))
            continue
        if None not in cells:
            if notebook_for is None:
                continue
            notebook = notebook_for(path)
            sources = {}
            for number, codes_by_line in cells.items():
                assert number is not None
                source, added = add_directives(notebook.cell_source(number), codes_by_line)
                sources[number] = source
                changed += added
            new_bytes = notebook.with_cells(sources).encode("utf-8")
        else:
            try:
                decoded = decode(raw)
            except Undecodable:
                continue  # reported by the lint itself (NN001); nothing to write
            new_text, changed = add_directives(decoded.text, cells[None])
            if (
                changed
                and compile_problem(new_text, path) is not None
                and compile_problem(decoded.text, path) is None
            ):
                # Never leave a file that compiled in a state where it does not.
                outcome.not_written.append(
                    (path, "a directive would break it (please report this as a bug)")
                )
                continue
            new_bytes = new_text.encode(decoded.encoding)
        if not changed or new_bytes == raw:
            continue
        # In place, only over the content just read (see nnlint.files).
        reason = write_in_place(path, raw, new_bytes)
        if reason is not None:
            outcome.not_written.append((path, reason))
            continue
        outcome.lines += changed
    return outcome
