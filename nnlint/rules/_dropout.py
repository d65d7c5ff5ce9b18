"""Helpers shared by the dropout-rate rules (NN401-NN403): which sites they read and how a rate is
named in a message."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from nnlint.facts import DropoutSite, FileFacts, RateArgument
from nnlint.positions import node_spans

# Every dropout API named in ``facts.DROPOUT_SPECS`` contains one of these bytes.
DROPOUT_TRIGGERS: tuple[bytes, ...] = (b"ropout",)

_EMPTY_MODULE = cst.Module(body=[])


def expression_text(node: cst.CSTNode) -> str:
    """The source text of a (small) expression node."""
    return _EMPTY_MODULE.code_for_node(node)


def literal_rate_sites(
    facts: FileFacts, *, skip_deliberate: bool = True
) -> Iterator[tuple[DropoutSite, RateArgument]]:
    """Dropout sites whose rate is a known number, outside code that is meant to raise (a test
    that a bad rate is rejected, under ``pytest.raises`` or ``assertRaises``).

    With ``skip_deliberate``, also without the sites where a rate of exactly 0 or 1 is on
    purpose or harmless: calls with a literal ``training=False`` (they never drop, whatever the
    rate) and test functions (they pin what rate 0 or 1 does)."""
    for site in facts.dropout_sites:
        if site.call.expects_error:
            continue
        if skip_deliberate and (site.training_off or site.in_test_function):
            continue
        if site.rate is not None and site.rate.value is not None:
            yield site, site.rate


def describe_rate(rate: RateArgument) -> str:
    """``p=1.0``, ``rate=DROP (= 1.0)``: how the message names the rate as written."""
    text = expression_text(rate.node)
    if rate.constant is not None:
        return f"{rate.param}={text} (= {rate.value!r})"
    if isinstance(rate.value, bool):
        # ``True`` is the integer 1 to torch and Keras.
        return f"{rate.param}={text} (= {int(rate.value)})"
    return f"{rate.param}={text}"


def constant_note(facts: FileFacts, rate: RateArgument) -> str:
    """``` (`DROP` is set on line 3: every use of it is affected)```: where the module constant
    that carries a rate is assigned, so that one edit there fixes every finding it causes."""
    if rate.constant is None:
        return ""
    line = _constant_line(facts.module, rate.constant)
    where = f" on line {line}" if line is not None else ""
    return f"; `{rate.constant}` is set{where}, and every use of it shares this rate"


# The last module asked about and the lines found in it: several findings through one constant
# resolve positions once.
_CONSTANT_LINES: dict[str, object] = {"module": None, "lines": {}}


def _constant_line(module: cst.Module, name: str) -> int | None:
    if _CONSTANT_LINES["module"] is not module:
        _CONSTANT_LINES.update(module=module, lines={})
    lines = _CONSTANT_LINES["lines"]
    assert isinstance(lines, dict)
    if name not in lines:
        lines[name] = _find_constant_line(module, name)
    return lines[name]


def _find_constant_line(module: cst.Module, name: str) -> int | None:
    # Module constants are assigned at the top level; only reported files get here.
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            value = None
            if isinstance(small, cst.Assign) and any(
                isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets
            ):
                value = small.value
            elif (
                isinstance(small, cst.AnnAssign)
                and isinstance(small.target, cst.Name)
                and small.target.value == name
            ):
                value = small.value
            if value is not None:
                span = node_spans(module, [value]).get(id(value))
                return span.line if span is not None else None
    return None


def in_unit_interval(rate: RateArgument) -> bool:
    return rate.value is not None and 0 <= rate.value <= 1
