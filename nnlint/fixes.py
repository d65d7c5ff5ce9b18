"""Applying the safe fixes of a file: libcst node replacements, proved to re-parse."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from nnlint.rules.base import Fix


class _Replace(cst.CSTTransformer):
    def __init__(self, replacements: dict[int, cst.CSTNode]) -> None:
        super().__init__()
        self._replacements = replacements

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[override]
        replacement = self._replacements.get(id(original_node))
        return updated_node if replacement is None else replacement


def apply_fixes(module: cst.Module, fixes: Sequence[Fix]) -> tuple[bytes, int] | None:
    """The new file bytes with ``fixes`` applied, and how many applied; None if none applies
    or the result does not parse (then nothing is applied).

    Only the replaced nodes change: libcst keeps every other byte (encoding, newlines, comments).
    Two fixes of the same node: the first wins.
    """
    replacements: dict[int, cst.CSTNode] = {}
    for fix in fixes:
        replacements.setdefault(id(fix.original), fix.replacement)
    if not replacements:
        return None
    fixed = module.visit(_Replace(replacements))
    assert isinstance(fixed, cst.Module)
    new_source = fixed.bytes
    try:
        cst.parse_module(new_source)
    except Exception:
        # A fix that breaks the file is never written.
        return None
    return new_source, len(replacements)
