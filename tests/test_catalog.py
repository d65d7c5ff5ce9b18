"""The shared failure-mode catalog: complete entries and an up-to-date docs page."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnlint import catalog

DOCS = Path(__file__).resolve().parents[1] / "docs" / "failure-modes.md"


@pytest.mark.parametrize("mode", list(catalog.FAILURE_MODES.values()), ids=lambda m: m.id)
def test_every_failure_mode_explains_itself(mode: catalog.FailureMode) -> None:
    assert mode.id == mode.id.lower() and " " not in mode.id
    for text in (mode.title, mode.summary, mode.why, mode.remedy):
        assert text.strip(), mode.id
    assert mode.dynamic_signs and mode.static_signs
    assert mode.doc_url.endswith(f"failure-modes.md#{mode.id}")


def test_unknown_failure_mode_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="dead-relu"):
        catalog.get("dead-neurons")


def test_failure_modes_page_is_generated_from_the_catalog() -> None:
    assert DOCS.read_text(encoding="utf-8") == catalog.render_markdown(), (
        "docs/failure-modes.md is stale: run `python -m nnlint.catalog > docs/failure-modes.md`"
    )
