"""Every rule's inline VALID/INVALID samples, collected automatically into parametrized tests."""

from __future__ import annotations

import re

import pytest

from nnlint.catalog import FAILURE_MODES
from nnlint.engine import LintSettings, lint_source
from nnlint.findings import Applicability
from nnlint.rules import META_CODES, all_rules, get_rule
from nnlint.rules.base import Invalid, Valid

_DOC_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


def _cases(kind: str) -> list:
    params = []
    for meta in all_rules():
        assert meta.rule_class is not None or meta.code in META_CODES
        cls = meta.rule_class or _meta_class(meta.code)
        for index, case in enumerate(getattr(cls, kind)):
            case = case if isinstance(case, (Valid, Invalid)) else _wrap(kind, case)
            params.append(pytest.param(meta.code, case, id=f"{meta.code}-{kind.lower()}-{index}"))
    return params


def _wrap(kind: str, code: str) -> Valid | Invalid:
    return Valid(code) if kind == "VALID" else Invalid(code)


def _meta_class(code: str) -> type:
    from nnlint.rules.nn001_syntax_error import SyntaxErrorRule
    from nnlint.rules.nn002_internal_error import InternalErrorRule
    from nnlint.rules.nn003_unused_noqa import UnusedNoqa

    return {"NN001": SyntaxErrorRule, "NN002": InternalErrorRule, "NN003": UnusedNoqa}[code]


def _settings(code: str, options: dict) -> LintSettings:
    if code in META_CODES:
        # Meta-diagnostics need some rule whose trigger makes the engine parse the file.
        return LintSettings.default()
    # The rule alone, so that a sample pins exactly its own findings.
    return LintSettings(enabled=frozenset({code}), options={code: options} if options else {})


@pytest.mark.parametrize(("code", "case"), _cases("VALID"))
def test_rule_is_quiet_on_valid_sample(code: str, case: Valid) -> None:
    result = lint_source(case.code.encode(), "sample.py", _settings(code, dict(case.options)))
    assert result.findings == [], case.code


@pytest.mark.parametrize(("code", "case"), _cases("INVALID"))
def test_rule_flags_invalid_sample(code: str, case: Invalid) -> None:
    result = lint_source(case.code.encode(), "sample.py", _settings(code, dict(case.options)))
    assert [f.code for f in result.findings] == [code], case.code
    finding = result.findings[0]
    pinned = (case.line, case.column, case.end_line, case.end_column)
    assert None not in pinned and case.message is not None, "a case pins range and message"
    assert (finding.line, finding.column, finding.end_line, finding.end_column) == pinned
    assert finding.message == case.message
    unsafe = finding.fix_applicability is Applicability.UNSAFE
    assert unsafe == case.unsafe_fix, "the fix's safety is pinned too"
    if case.expected_fix is not None:
        fixed = lint_source(
            case.code.encode(),
            "sample.py",
            _settings(code, dict(case.options)),
            fix=True,
            unsafe_fixes=case.unsafe_fix,
        )
        assert fixed.fixed_source is not None
        assert fixed.fixed_source.decode() == case.expected_fix
        assert fixed.fixed_count == 1
        assert fixed.findings == []
        if case.unsafe_fix:
            safe_only = lint_source(
                case.code.encode(), "sample.py", _settings(code, dict(case.options)), fix=True
            )
            assert safe_only.fixed_source is None, "an unsafe fix needs --unsafe-fixes"


@pytest.mark.parametrize("meta", all_rules(), ids=lambda m: m.code)
def test_every_rule_has_complete_metadata(meta) -> None:
    assert re.fullmatch(r"NN\d{3}", meta.code)
    assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", meta.name)
    assert "\n" not in meta.message and meta.message
    for section in _DOC_SECTIONS:
        assert section in meta.doc, f"{meta.code} doc lacks {section!r}"
    if meta.fixable:
        assert "## Fix safety" in meta.doc
        assert meta.fix_title
    assert meta.url.endswith(f"#{meta.code.lower()}-{meta.name}")
    if meta.code not in META_CODES:
        assert meta.failure_mode.id in FAILURE_MODES
        assert meta.triggers, "a rule without triggers would never be reached by the prefilter"


@pytest.mark.parametrize("meta", all_rules(), ids=lambda m: m.code)
def test_every_rule_that_can_fire_has_valid_and_invalid_samples(meta) -> None:
    if meta.code == "NN002":
        pytest.skip("NN002 reports nnlint bugs; test_engine injects a failing rule instead")
    cls = meta.rule_class or _meta_class(meta.code)
    assert cls.VALID and cls.INVALID


@pytest.mark.parametrize("meta", all_rules(), ids=lambda m: m.code)
def test_fixable_rules_have_a_sample_with_its_expected_fix(meta) -> None:
    cls = meta.rule_class or _meta_class(meta.code)
    if not meta.fixable:
        # Nothing to fix: nothing may claim a fix either.
        assert meta.fix_title is None and "## Fix safety" not in meta.doc
        assert not any(isinstance(c, Invalid) and c.expected_fix for c in cls.INVALID)
        return
    assert any(isinstance(case, Invalid) and case.expected_fix for case in cls.INVALID)


def test_all_rules_is_sorted_by_code_and_includes_meta_diagnostics() -> None:
    codes = [m.code for m in all_rules()]
    assert codes == sorted(codes)
    assert {"NN001", "NN002", "NN003", "NN401", "NN402", "NN403", "NN404"} <= set(codes)


def test_get_rule_finds_by_code_in_any_case_and_by_name() -> None:
    assert get_rule("nn401").code == "NN401"
    assert get_rule("dropout-rate-one").code == "NN401"
    assert get_rule("functional-dropout-ignores-training").code == "NN404"


def test_get_rule_unknown_raises_key_error_with_suggestion() -> None:
    with pytest.raises(KeyError, match="dropout-rate-one"):
        get_rule("dropout-rate-on")
    with pytest.raises(KeyError, match="NN999"):
        get_rule("NN999")
