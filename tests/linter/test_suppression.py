"""``# noqa`` (line) and ``# nnlint: noqa`` (file) suppression, ruff/flake8 style."""

from __future__ import annotations

import pytest

from nnlint.engine import LintSettings, lint_source
from nnlint.suppression import noqa_map

HEADER = "import torch.nn as nn\n"


# NN003 (unused noqa codes) has tests of its own below.
WITHOUT_NN003 = LintSettings(enabled=LintSettings.default().enabled - {"NN003"})


def codes(body: str) -> list[str]:
    result = lint_source((HEADER + body).encode(), "m.py", WITHOUT_NN003)
    return [f.code for f in result.findings]


@pytest.mark.parametrize(
    "comment",
    [
        "# noqa",
        "# NOQA",
        "#noqa",
        "# noqa: NN401",
        "# noqa:NN401",
        "# noqa: nn401",
        "# noqa: E501, NN401",
        "# noqa: E501 NN401",
        "# noqa: NN402,NN401",
        "# type: ignore  # noqa: NN401",
        "# noqa:",  # flake8: no code after the colon is a blanket noqa
    ],
)
def test_line_noqa_forms_suppress_the_finding(comment: str) -> None:
    assert codes(f"d = nn.Dropout(1.0)  {comment}\n") == []


@pytest.mark.parametrize("comment", ["# noqa: NN402", "# noqa: E501", "# noqa: F401, W291"])
def test_line_noqa_for_other_codes_does_not_suppress(comment: str) -> None:
    assert codes(f"d = nn.Dropout(1.0)  {comment}\n") == ["NN401"]


def test_noqa_applies_only_to_its_own_line() -> None:
    assert codes("a = nn.Dropout(1.0)  # noqa\nb = nn.Dropout(1.0)\n") == ["NN401"]


def test_noqa_on_first_line_of_multiline_call_suppresses() -> None:
    assert codes("d = nn.Dropout(  # noqa: NN401\n    p=1.0,\n)\n") == []


def test_noqa_on_a_later_line_of_multiline_call_does_not_suppress() -> None:
    # As in ruff: the finding points at the call's first line; the noqa must be there.
    assert codes("d = nn.Dropout(\n    p=1.0,  # noqa: NN401\n)\n") == ["NN401"]


def test_noqa_inside_a_string_is_not_a_comment() -> None:
    assert codes('d = nn.Dropout(1.0); s = "# noqa"\n') == ["NN401"]


def test_noqa_on_one_code_keeps_other_codes_on_same_line() -> None:
    assert codes("a = nn.Dropout(1.0); b = nn.Dropout(0.0)  # noqa: NN401\n") == ["NN402"]


@pytest.mark.parametrize("comment", ["# nnlint: noqa", "# NNLINT: NOQA", "#nnlint:noqa"])
def test_file_level_noqa_suppresses_everything(comment: str) -> None:
    assert codes(f"{comment}\na = nn.Dropout(1.0)\nb = nn.Dropout(0)\n") == []


def test_file_level_noqa_with_codes_suppresses_only_those() -> None:
    body = "a = nn.Dropout(1.0)\nb = nn.Dropout(0)\n# nnlint: noqa: NN401\n"
    assert codes(body) == ["NN402"]


def test_file_level_noqa_after_code_acts_on_its_line_only() -> None:
    # Silencing a whole file from the end of a code line would surprise; ruff also wants the
    # file-level form on its own line.
    assert codes("a = nn.Dropout(1.0)  # nnlint: noqa\nb = nn.Dropout(0)\n") == ["NN402"]


def test_file_level_noqa_with_foreign_codes_suppresses_nothing() -> None:
    assert codes("# nnlint: noqa: E501\na = nn.Dropout(1.0)\n") == ["NN401"]


def test_noqa_map_collects_lines_and_file_codes() -> None:
    text = "x = 1  # noqa: nn401, E501\ny = 2  # noqa\n# nnlint: noqa: NN402 NN403\n"
    noqa = noqa_map(text)
    assert noqa.lines == {1: frozenset({"NN401", "E501"}), 2: None}
    assert noqa.file_codes == {"NN402", "NN403"}
    assert not noqa.file_all
    assert noqa.suppresses(1, "NN401") and not noqa.suppresses(1, "NN404")
    assert noqa.suppresses(2, "NN404") and noqa.suppresses(9, "NN402")


def test_noqa_map_of_file_without_noqa_is_empty() -> None:
    noqa = noqa_map("x = 1  # a comment\n")
    assert noqa.lines == {} and not noqa.file_all and not noqa.file_codes


# ---- NN003: unused and unknown noqa codes --------------------------------------------------


def nn003(body: str, settings: LintSettings | None = None) -> list[str]:
    result = lint_source((HEADER + body).encode(), "m.py", settings or LintSettings.default())
    return [f"{f.line}:{f.column} {f.code} {f.message}" for f in result.findings]


def test_unused_and_unknown_codes_are_reported_at_the_directive() -> None:
    assert nn003("a = nn.Dropout(1.0)  # noqa: NN401, NN402, NN4011, E501\n") == [
        "2:22 NN003 Unused `noqa` directive (unused: `NN402`; unknown: `NN4011`)"
    ]


def test_file_level_directive_that_suppresses_nothing_is_reported() -> None:
    assert nn003("# nnlint: noqa: NN404\na = nn.Dropout(0.5)\n") == [
        "2:1 NN003 Unused `noqa` directive (unused: `NN404`)"
    ]


def test_codes_of_rules_not_enabled_in_this_run_are_not_judged() -> None:
    only_nn401 = LintSettings(enabled=frozenset({"NN401", "NN003"}))
    assert nn003("a = nn.Dropout(0.5)  # noqa: NN404\n", only_nn401) == []


def test_blanket_and_foreign_directives_are_left_to_their_linters() -> None:
    assert nn003("a = nn.Dropout(0.5)  # noqa\nb = 1  # noqa: E501\n") == []


def test_nn003_can_itself_be_suppressed_on_its_line() -> None:
    assert nn003("a = nn.Dropout(0.5)  # noqa: NN401, NN003\n") == []


def test_nn003_fix_keeps_the_used_and_foreign_codes_and_the_rest_of_the_comment() -> None:
    source = HEADER + "a = nn.Dropout(1.0)  # noqa: NN401,NN402, E501  # see issue 7\n"
    result = lint_source(source.encode(), "m.py", LintSettings.default(), fix=True)
    assert (
        result.fixed_source
        == (HEADER + "a = nn.Dropout(1.0)  # noqa: NN401, E501  # see issue 7\n").encode()
    )
    assert result.fixed_count == 1 and result.findings == []


def test_nn003_fix_edits_the_right_line_after_a_form_feed() -> None:
    # str.splitlines would split at the form feed and edit the line above the directive.
    source = HEADER + "# page\x0c\na = nn.Dropout(1.0)  # noqa: NN401, NN402\n"
    result = lint_source(source.encode(), "m.py", LintSettings.default(), fix=True)
    assert (
        result.fixed_source
        == (HEADER + "# page\x0c\na = nn.Dropout(1.0)  # noqa: NN401\n").encode()
    )


def test_nn003_fix_removes_an_emptied_directive_but_keeps_the_comment_before_it() -> None:
    source = HEADER + "a = nn.Dropout(0.5)  # type: ignore  # noqa: NN401\n"
    result = lint_source(source.encode(), "m.py", LintSettings.default(), fix=True)
    assert result.fixed_source == (HEADER + "a = nn.Dropout(0.5)  # type: ignore\n").encode()


def test_add_directives_appends_or_merges_codes() -> None:
    from nnlint.suppression import add_directives

    text = "a = 1\nb = 2  # noqa: E501\nc = 3  # noqa\n"
    new, changed = add_directives(text, {1: ["NN401"], 2: ["NN402"], 3: ["NN404"]})
    assert new == "a = 1  # noqa: NN401\nb = 2  # noqa: E501, NN402\nc = 3  # noqa\n"
    assert changed == 2


# ---- lines that cannot end in a comment (ruff's rule: the construct's last line carries it) ----


def test_noqa_after_a_backslash_continuation_covers_its_first_line() -> None:
    body = "d = nn.Dropout(1.0) if flag else \\\n    None  # noqa: NN401\n"
    assert codes(body) == []
    assert codes(body.replace("  # noqa: NN401", "")) == ["NN401"]


def test_noqa_after_a_multiline_string_covers_the_lines_it_spans() -> None:
    body = 'd = nn.Dropout(p=1.0, name="""\nfirst\n""")  # noqa: NN401\n'
    assert codes(body) == []


def test_a_string_ending_on_a_continued_line_is_covered_by_the_continuation_end() -> None:
    noqa = noqa_map('x = """a\nb""" + \\\n    y  # noqa\nz = 1\n', always=True)
    assert [noqa.directive_line(n) for n in (1, 2, 3, 4)] == [3, 3, 3, 4]


def test_noqa_lines_are_counted_as_python_counts_them() -> None:
    # A form feed does not end a line; a lone CR does.
    assert codes("x = 1  # \x0c\nd = nn.Dropout(1.0)  # noqa: NN401\n") == []
    assert codes("a = 1\rd = nn.Dropout(1.0)  # noqa: NN401\rb = 2\r") == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # A comment cannot follow a backslash, nor sit inside a string: the directive goes on
        # the last line of the continuation or of the string.
        (
            "d = nn.Dropout(1.0) if flag else \\\n    None\n",
            "d = nn.Dropout(1.0) if flag else \\\n    None  # noqa: NN401\n",
        ),
        (
            'd = nn.Dropout(1.0, name="""\nx"""); e = 1\n',
            'd = nn.Dropout(1.0, name="""\nx"""); e = 1  # noqa: NN401\n',
        ),
        # A form feed in a comment is not a line end, and is kept.
        (
            "x = 1  # page\x0c\nd = nn.Dropout(1.0)\n",
            "x = 1  # page\x0c\nd = nn.Dropout(1.0)  # noqa: NN401\n",
        ),
        (
            "a = 1\rd = nn.Dropout(1.0)\rb = 2\r",
            "a = 1\rd = nn.Dropout(1.0)  # noqa: NN401\rb = 2\r",
        ),
    ],
)
def test_add_directives_writes_where_the_directive_works(body: str, expected: str) -> None:
    from nnlint.suppression import add_directives

    source = HEADER + body
    findings = lint_source(source.encode(), "m.py", WITHOUT_NN003).findings
    new, changed = add_directives(source, {f.line: [f.code] for f in findings})
    assert (new, changed) == (HEADER + expected, 1)
    assert codes(expected) == []
