"""The sample model code in ``fixtures/lint``: each bad file's findings (and fix) match the golden
files beside it, and good files have no finding.

Regenerate the goldens after an intended change with ``NNLINT_UPDATE_GOLDENS=1 pytest <this>``,
review the diff and run again: a run that rewrites a golden fails, so the goldens can never pass
by rewriting themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnlint.engine import LintSettings, lint_source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lint"
UPDATE = os.environ.get("NNLINT_UPDATE_GOLDENS") == "1"
DEFAULT = LintSettings.default()

BAD = sorted((FIXTURES / "bad").glob("*.py"))
GOOD = sorted((FIXTURES / "good").glob("*.py"))


def render(source: bytes, name: str) -> str:
    result = lint_source(source, name, DEFAULT)
    return "".join(f"{f.line}:{f.column} {f.code} {f.message}\n" for f in result.findings)


def check_golden(golden: Path, actual: str | bytes) -> None:
    data = actual.encode() if isinstance(actual, str) else actual
    if UPDATE and (not golden.exists() or golden.read_bytes() != data):
        golden.write_bytes(data)
        pytest.fail(f"{golden.name} rewritten: review `git diff` and run again without updating")
    assert golden.exists(), f"missing golden {golden.name}; run with NNLINT_UPDATE_GOLDENS=1"
    assert data == golden.read_bytes(), f"{golden.name} differs (NNLINT_UPDATE_GOLDENS=1 updates)"


def test_fixture_folders_are_not_empty() -> None:
    assert BAD and GOOD


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_fixture_findings_match_golden(path: Path) -> None:
    actual = render(path.read_bytes(), path.name)
    assert actual, f"{path.name} is a bad fixture without findings"
    check_golden(path.with_suffix(".expected"), actual)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_fixture_fix_matches_golden(path: Path) -> None:
    result = lint_source(path.read_bytes(), path.name, DEFAULT, fix=True)
    golden = path.with_suffix(".fixed")
    if result.fixed_source is None:
        assert not golden.exists(), f"{golden.name} exists but nothing was fixed"
        return
    check_golden(golden, result.fixed_source)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_fixture_has_no_findings(path: Path) -> None:
    assert render(path.read_bytes(), path.name) == ""
