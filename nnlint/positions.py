"""Line/column positions for the few nodes that are reported, without PositionProvider.

libcst's PositionProvider records every node of the file (about 1.7x a parse on timm); this
runs the same code generation but records only the requested nodes and stops after the last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import libcst as cst
from libcst._nodes.internal import CodegenState

_NEWLINE = re.compile(r"\r\n?|\n")


@dataclass(frozen=True)
class Span:
    """1-based line and column of a node's first character, and just past its last one."""

    line: int
    column: int
    end_line: int
    end_column: int


class _AllFound(Exception):
    pass


@dataclass(frozen=False)
class _TargetedPositionState(CodegenState):
    targets: set[int] = field(default_factory=set)
    found: dict[int, Span] = field(default_factory=dict)
    line: int = 1
    column: int = 0  # 0-based while generating

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        # Nothing is kept: only the position moves.
        if "\n" in value or "\r" in value:
            segments = _NEWLINE.split(value)
            self.line += len(segments) - 1
            self.column = len(segments[-1])
        else:
            self.column += len(value)

    def pop_trailing_newline(self) -> None:
        return None

    @contextmanager
    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> Iterator[None]:
        key = id(node)
        if key not in self.targets:
            yield
            return
        start = (self.line, self.column + 1)
        yield
        self.found[key] = Span(start[0], start[1], self.line, self.column + 1)
        if len(self.found) == len(self.targets):
            raise _AllFound


def node_spans(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, Span]:
    """Spans of ``nodes`` (expression nodes of ``module``), keyed by ``id(node)``.

    Only expression nodes record a syntactic position; other node types are not supported.
    """
    state = _TargetedPositionState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        targets={id(n) for n in nodes},
    )
    if not state.targets:
        return {}
    try:
        module._codegen(state)
    except _AllFound:
        pass
    return state.found
