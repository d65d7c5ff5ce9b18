"""The committed ``docs/rules.md`` is what ``docs/gen_rules.py`` generates from the rules."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_rules", DOCS / "gen_rules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_rules_doc_is_up_to_date() -> None:
    expected = _generator().render()
    actual = (DOCS / "rules.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/rules.md is stale: run `python docs/gen_rules.py`"


def test_rules_doc_has_a_section_and_anchor_per_rule() -> None:
    from nnlint.rules import all_rules

    text = _generator().render()
    for meta in all_rules():
        assert f"## {meta.code} {meta.name}\n" in text
        assert f"(#{meta.code.lower()}-{meta.name})" in text
