"""Fixes as byte-range edits on the file as read.

A rule's ``Fix`` names a node of the parsed module and its replacement node. The node is located
in the original text (by regenerating the module's code up to it) and checked against the text
actually there; the replacement is generated in the same indentation context and encoded with the
file's encoding. Only that byte range changes: form feeds, a final ``\\r``, the encoding and every
comment outside it stay byte for byte, whatever libcst would regenerate for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst._nodes.internal import CodegenState

from nnlint.rules.base import Fix

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, order=True)
class Edit:
    """Replace bytes ``start:end`` of the file with ``content``."""

    start: int
    end: int
    content: bytes


class _AllFound(Exception):
    pass


@dataclass(frozen=False)
class _RangeState(CodegenState):
    """Generates nothing: counts characters and records where the target nodes start and end,
    with the indentation in force there (to regenerate a replacement in the same context)."""

    targets: set[int] = field(default_factory=set)
    offset: int = 0
    starts: dict[int, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    found: dict[int, tuple[int, int, tuple[str, ...]]] = field(default_factory=dict)

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.offset += len(token)

    def add_token(self, value: str) -> None:
        self.offset += len(value)

    def pop_trailing_newline(self) -> None:
        return None  # only at the very end of the module, after every target

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.targets:
            self.starts[key] = (self.offset, tuple(self.indent_tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        start = self.starts.get(key)
        if start is not None and key not in self.found:
            self.found[key] = (start[0], self.offset, start[1])
            if len(self.found) == len(self.targets):
                raise _AllFound


def _code_in_context(module: cst.Module, node: cst.CSTNode, indent: tuple[str, ...]) -> str:
    state = CodegenState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        indent_tokens=list(indent),
    )
    node._codegen(state)
    return "".join(state.tokens)


def _comments(node: cst.CSTNode) -> list[str]:
    found: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Comment):
            found.append(current.value)
        stack.extend(current.children)
    return sorted(found)


def _anchor(text: str, code: str, expected: int) -> int | None:
    """Where ``code`` occurs in ``text`` nearest to ``expected`` (libcst's regenerated text can
    drift from the file's: it drops form feeds and a final carriage return)."""
    best: int | None = None
    position = text.find(code)
    while position >= 0:
        if best is None or abs(position - expected) < abs(best - expected):
            best = position
        position = text.find(code, position + 1)
    return best


def fix_edits(
    module: cst.Module, text: str, encoding: str, has_bom: bool, fixes: Sequence[Fix]
) -> Iterator[tuple[Fix, Edit]]:
    """The byte edit of each fix that can be placed safely in the file (``text`` is exactly what
    ``module`` was parsed from). A fix is left out when its node cannot be found in the text as
    written, its replacement cannot be encoded, or it would add, drop or duplicate a comment."""
    if not fixes:
        return
    state = _RangeState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        targets={id(f.original) for f in fixes},
    )
    try:
        module._codegen(state)
    except _AllFound:
        pass
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    prefix = len(BOM) if has_bom else 0
    for fix in fixes:
        located = state.found.get(id(fix.original))
        if located is None:
            continue
        start, end, indent = located
        original = _code_in_context(module, fix.original, indent)
        if text[start:end] != original:
            anchored = _anchor(text, original, start)
            if anchored is None:
                continue
            start, end = anchored, anchored + len(original)
        if _comments(fix.original) != _comments(fix.replacement):
            continue
        try:
            content = _code_in_context(module, fix.replacement, indent).encode(codec)
            byte_start = prefix + len(text[:start].encode(codec))
        except UnicodeEncodeError:
            continue
        byte_end = byte_start + len(text[start:end].encode(codec))
        yield fix, Edit(byte_start, byte_end, content)


def apply_edits(source: bytes, edits: Sequence[Edit]) -> tuple[bytes, int]:
    """``source`` with ``edits`` applied, and how many applied. Of overlapping edits (a fixed
    call inside another fixed call) the outer one applies; the next fix pass does the inner."""
    chosen: list[Edit] = []
    for edit in sorted(edits, key=lambda e: (e.start, -e.end)):
        if chosen and edit.start < chosen[-1].end:
            continue
        chosen.append(edit)
    parts: list[bytes] = []
    position = 0
    for edit in chosen:
        parts.append(source[position : edit.start])
        parts.append(edit.content)
        position = edit.end
    parts.append(source[position:])
    return b"".join(parts), len(chosen)
