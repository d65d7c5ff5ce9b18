"""``# noqa`` handling: line-level ``# noqa[: codes]`` and file-level ``# nnlint: noqa[: codes]``.

Comments are read with ``tokenize`` (so ``# noqa`` inside a string is not a comment), and only for
files that have findings.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

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
class NoqaMap:
    """Which findings the comments of one file suppress."""

    # line -> codes (None = all); only lines that carry a directive.
    lines: dict[int, frozenset[str] | None] = field(default_factory=dict)
    file_all: bool = False
    file_codes: frozenset[str] = frozenset()

    def suppresses(self, line: int, code: str) -> bool:
        if self.file_all or code in self.file_codes:
            return True
        if line not in self.lines:
            return False
        codes = self.lines[line]
        return codes is None or code in codes


def _codes(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    # Codes of other linters (E501, F401) are kept but can never match an nnlint code.
    return frozenset(code.upper() for code in _CODE.findall(text))


def parse_comment(comment: str, own_line: bool, noqa: NoqaMap, line: int) -> None:
    """Record what one comment token (``# ...``) suppresses."""
    if own_line:
        match = _FILE_NOQA.match(comment)
        if match is not None:
            codes = _codes(match.group("codes"))
            if codes is None:
                noqa.file_all = True
            else:
                noqa.file_codes |= codes
            return
    match = _LINE_NOQA.search(comment)
    if match is not None:
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
                parse_comment(token.string, last_code_line != line, noqa, line)
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
