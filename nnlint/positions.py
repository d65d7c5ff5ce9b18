"""Line/column positions for the few nodes that are reported.

Positions come from libcst's public ``PositionProvider``, resolved only for files that have a
finding to report (most files have none, and resolving positions for a whole file costs about
1.7x its parse on timm), so every node kind a rule may report gets libcst's own start and end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider


@dataclass(frozen=True)
class Span:
    """1-based line and column of a node's first character, and just past its last one."""

    line: int
    column: int
    end_line: int
    end_column: int


def node_spans(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, Span]:
    """Spans of ``nodes`` (any nodes of ``module``: expressions, statements, blocks), keyed by
    ``id(node)``. Nodes not in ``module`` are left out."""
    wanted = {id(node): node for node in nodes}
    if not wanted:
        return {}
    # `unsafe_skip_copy`: the reported nodes are nodes of `module` itself, so the wrapper must
    # see the very same objects (the module is never changed afterwards).
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    spans: dict[int, Span] = {}
    for key, node in wanted.items():
        code_range = positions.get(node)
        if code_range is None:
            continue
        spans[key] = Span(
            code_range.start.line,
            code_range.start.column + 1,
            code_range.end.line,
            code_range.end.column + 1,
        )
    return spans
