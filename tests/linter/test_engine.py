"""The engine: prefilter, unparsable files (NN001), rule crashes (NN002), positions, settings."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from nnlint.engine import LintSettings, could_have_findings, lint_source, settings_fingerprint
from nnlint.facts import FileFacts
from nnlint.rules import all_rules
from nnlint.rules.base import Violation

DEFAULT = LintSettings.default()


def lint(source: str | bytes, settings: LintSettings = DEFAULT, **kwargs):
    data = source.encode() if isinstance(source, str) else source
    return lint_source(data, "pkg/model.py", settings, **kwargs)


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


# -- prefilter ---------------------------------------------------------------------------------


def test_file_without_framework_import_is_not_parsed(monkeypatch) -> None:
    import libcst

    def boom(*args, **kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(libcst, "parse_module", boom)
    source = b"from mylib import nn\nlayer = nn.Dropout(1.0)\n"
    assert not could_have_findings(source, DEFAULT)
    assert lint(source).findings == []


def test_skipped_valid_file_is_checked_by_python_not_libcst(monkeypatch) -> None:
    import libcst

    def boom(*args, **kwargs):
        raise AssertionError("parsed with libcst")

    monkeypatch.setattr(libcst, "parse_module", boom)
    assert lint(b"import os\nvalue = 1\n").findings == []


def test_file_without_any_trigger_still_gets_a_syntax_check() -> None:
    source = b"import torch\nx = (\n"
    assert not could_have_findings(source, DEFAULT)
    (finding,) = lint(source).findings
    assert (finding.code, finding.line) == ("NN001", 2)
    # Python's own message: "'(' was never closed" (3.10+), "unexpected EOF" (3.9).
    assert finding.message.startswith("SyntaxError: ")


def test_skipped_python2_file_is_reported_with_a_hint() -> None:
    (finding,) = lint(b"print 'no trigger here'\n").findings
    assert finding.code == "NN001" and "Python 2" in finding.message


def test_syntax_newer_than_the_running_python_is_what_that_python_says() -> None:
    # The running Python is the judge (it is what would run the file): PEP 695 syntax is an
    # error before 3.12 and fine from 3.12 on, whatever libcst would accept.
    source = b"type Vector = list[float]\ndef first[T](xs: list[T]) -> T:\n    return xs[0]\n"
    expected = [] if sys.version_info >= (3, 12) else [("NN001", 1)]
    assert [(f.code, f.line) for f in lint(source).findings] == expected


def test_skipped_undecodable_file_is_reported() -> None:
    (finding,) = lint(b"import os\nx = '\xff\xfe'\n").findings
    assert (finding.code, finding.line) == ("NN001", 2)
    assert "cannot decode" in finding.message


def test_prefilter_depends_on_enabled_rules() -> None:
    source = b"import torch.nn as nn\nnn.Dropout(0.5)\n"
    assert could_have_findings(source, DEFAULT)
    assert not could_have_findings(source, LintSettings(enabled=frozenset({"NN001", "NN002"})))


@pytest.mark.parametrize(
    "line",
    [
        b"import torch",
        b"import torch.nn as nn",
        b"from torch import nn",
        b"import numpy as np, torch",
        b"from tensorflow import keras",
        b"import keras",
        b"  from keras.layers import Dropout",
        b"import tf_keras as keras",
    ],
)
def test_prefilter_recognises_framework_imports(line: bytes) -> None:
    assert could_have_findings(line + b"\nDropout\n", DEFAULT)


@pytest.mark.parametrize(
    "line", [b"import torchvision", b"from .torch import x", b"# import torch"]
)
def test_prefilter_ignores_lookalike_imports(line: bytes) -> None:
    assert not could_have_findings(line + b"\nDropout\n", DEFAULT)


# -- NN001 -------------------------------------------------------------------------------------


def test_syntax_error_gives_one_nn001_with_python_message_and_position() -> None:
    result = lint("import torch.nn as nn\ndef f(:\n    return nn.Dropout(1.0)\n")
    assert codes(result) == ["NN001"]
    finding = result.findings[0]
    assert (finding.line, finding.column) == (2, 7)
    assert "SyntaxError" in finding.message
    assert finding.path == "pkg/model.py"


def test_python2_print_statement_is_nn001_with_hint() -> None:
    result = lint("import torch.nn as nn\nprint 'training'\nnn.Dropout(0.5)\n")
    assert codes(result) == ["NN001"]
    assert result.findings[0].line == 2
    assert "Python 2" in result.findings[0].message


def test_nul_byte_is_nn001_at_its_position() -> None:
    result = lint(b"import torch.nn as nn\nx = 1\x00\nnn.Dropout(0.5)\n")
    assert codes(result) == ["NN001"]
    assert (result.findings[0].line, result.findings[0].column) == (2, 6)
    assert "NUL" in result.findings[0].message


def test_invalid_utf8_is_nn001_naming_the_byte() -> None:
    result = lint(b"import torch.nn as nn\nname = '\xff'\nnn.Dropout(0.5)\n")
    assert codes(result) == ["NN001"]
    assert (result.findings[0].line, result.findings[0].column) == (2, 9)
    assert "0xff" in result.findings[0].message


def test_unknown_coding_cookie_is_nn001() -> None:
    result = lint(b"# -*- coding: klingon -*-\nimport torch.nn as nn\nnn.Dropout(0.5)\n")
    assert codes(result) == ["NN001"]
    assert "klingon" in result.findings[0].message


def test_bytes_invalid_in_declared_encoding_are_nn001() -> None:
    source = b"# coding: ascii\nimport torch.nn as nn\nname = '\xe9'\nnn.Dropout(0.5)\n"
    result = lint(source)
    assert codes(result) == ["NN001"]
    assert "ascii" in result.findings[0].message


def test_latin1_file_with_its_cookie_is_linted_normally() -> None:
    source = (
        b"# -*- coding: latin-1 -*-\nimport torch.nn as nn\nname = '\xe9'\nd = nn.Dropout(1.0)\n"
    )
    result = lint(source)
    assert codes(result) == ["NN401"]
    assert result.findings[0].line == 4


def test_nn001_is_not_reported_when_disabled() -> None:
    settings = LintSettings(enabled=frozenset({"NN401"}))
    assert lint("import torch.nn as nn\ndef f(:\n nn.Dropout(1.0)\n", settings).findings == []


# -- NN002 -------------------------------------------------------------------------------------


def _broken_check(self, facts: FileFacts) -> Iterator[Violation]:
    raise ValueError("boom")
    yield  # pragma: no cover


def test_rule_that_raises_gives_nn002_and_other_rules_still_report(monkeypatch) -> None:
    from nnlint.rules.nn402_dropout_rate_zero import DropoutRateZero

    monkeypatch.setattr(DropoutRateZero, "check", _broken_check)
    result = lint("import torch.nn as nn\na = nn.Dropout(1.0)\nb = nn.Dropout(0.0)\n")
    assert codes(result) == ["NN002", "NN401"]
    message = result.findings[0].message
    assert "NN402" in message and "dropout-rate-zero" in message and "ValueError: boom" in message


def test_collector_that_raises_gives_nn002(monkeypatch) -> None:
    import nnlint.engine

    def broken(module):
        raise RuntimeError("collector bug")

    monkeypatch.setattr(nnlint.engine, "collect_facts", broken)
    result = lint("import torch.nn as nn\na = nn.Dropout(1.0)\n")
    assert codes(result) == ["NN002"]
    assert "collector bug" in result.findings[0].message


def test_nn002_can_be_suppressed_file_wide(monkeypatch) -> None:
    from nnlint.rules.nn401_dropout_rate_one import DropoutRateOne

    monkeypatch.setattr(DropoutRateOne, "check", _broken_check)
    result = lint("# nnlint: noqa: NN002\nimport torch.nn as nn\na = nn.Dropout(0.0)\n")
    assert codes(result) == ["NN402"]


# -- findings ----------------------------------------------------------------------------------


def test_findings_have_one_based_positions_spanning_the_call() -> None:
    result = lint("import torch.nn as nn\nlayers = [nn.Linear(2, 2), nn.Dropout(p=1.0)]\n")
    (finding,) = result.findings
    assert (finding.line, finding.column) == (2, 28)
    assert (finding.end_line, finding.end_column) == (2, 45)


def test_positions_count_characters_not_bytes() -> None:
    result = lint("import torch.nn as nn\nname = 'é'; d = nn.Dropout(1.0)\n")
    assert result.findings[0].column == 17


def test_positions_in_crlf_files() -> None:
    result = lint(b"import torch.nn as nn\r\n\r\nd = nn.Dropout(1.0)\r\n")
    assert (result.findings[0].line, result.findings[0].column) == (3, 5)


def test_findings_are_sorted_by_line_column_code() -> None:
    source = (
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return F.dropout(x, 1.5) + F.dropout(x, 0.0)\n"
        "\nfirst = nn.Dropout(1.0)\n"
    )
    result = lint(source)
    keys = [(f.line, f.column, f.code) for f in result.findings]
    assert keys == sorted(keys)
    assert codes(result) == ["NN403", "NN404", "NN402", "NN404", "NN401"]


def test_path_is_reported_verbatim() -> None:
    result = lint_source(b"import torch.nn as nn\nnn.Dropout(1.0)\n", "./a/../b.py", DEFAULT)
    assert result.findings[0].path == "./a/../b.py"
    assert result.path == "./a/../b.py"


def test_disabled_rules_do_not_report() -> None:
    settings = LintSettings(enabled=frozenset({"NN402"}))
    assert codes(lint("import torch.nn as nn\nnn.Dropout(1.0)\nnn.Dropout(0)\n", settings)) == [
        "NN402"
    ]


def test_empty_and_whitespace_only_files_have_no_findings() -> None:
    assert lint(b"").findings == []
    assert lint(b"import torch  # Dropout\n").findings == []


def test_fixable_finding_carries_fix_title() -> None:
    source = (
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n"
        "    def forward(self, x):\n        return F.dropout(x)\n"
    )
    (finding,) = lint(source).findings
    assert finding.fixable and finding.fix_title == "Pass `training=self.training`"


# -- settings ----------------------------------------------------------------------------------


def test_settings_fingerprint_is_stable_and_order_independent() -> None:
    a = LintSettings(enabled=frozenset({"NN401", "NN402"}), options={"NN401": {"x": 1, "y": 2}})
    b = LintSettings(enabled=frozenset({"NN402", "NN401"}), options={"NN401": {"y": 2, "x": 1}})
    assert settings_fingerprint(a) == settings_fingerprint(b)


def test_settings_fingerprint_changes_with_rules_and_options() -> None:
    base = LintSettings(enabled=frozenset({"NN401"}))
    assert settings_fingerprint(base) != settings_fingerprint(
        LintSettings(enabled=frozenset({"NN401", "NN402"}))
    )
    assert settings_fingerprint(base) != settings_fingerprint(
        LintSettings(enabled=frozenset({"NN401"}), options={"NN401": {"x": 1}})
    )


def test_default_settings_enable_every_default_rule() -> None:
    assert DEFAULT.enabled == {m.code for m in all_rules() if m.default_enabled}


def test_nodes_are_validated_again_once_a_parse_is_over() -> None:
    """libcst's per-node validation is off only while nnlint parses (its parser builds valid
    trees from code Python compiled); any node built afterwards is checked as usual."""
    import libcst

    from nnlint import engine

    lint("import torch\nfrom torch import nn\nnet = nn.Sequential(nn.Dropout(1.0))\n")
    assert engine._parses_without_validation == 0
    with pytest.raises(libcst.CSTValidationError):
        libcst.Name("not an identifier")


def test_validation_comes_back_after_a_parse_that_fails() -> None:
    import libcst

    from nnlint import engine

    with pytest.raises(libcst.ParserSyntaxError):
        engine._parse("def f(:\n")
    assert engine._parses_without_validation == 0
    with pytest.raises(libcst.CSTValidationError):
        libcst.Name("1x")


def test_parses_in_several_threads_leave_validation_on() -> None:
    from concurrent.futures import ThreadPoolExecutor

    import libcst

    from nnlint import engine

    source = "import torch\n" + "x = torch.nn.Linear(1, 1)\n" * 300
    with ThreadPoolExecutor(max_workers=4) as pool:
        modules = list(pool.map(engine._parse, [source] * 16))
    assert all(m.code == source for m in modules)
    assert engine._parses_without_validation == 0
    with pytest.raises(libcst.CSTValidationError):
        libcst.Name("")


def test_trees_parsed_without_validation_equal_validated_ones() -> None:
    import libcst

    from nnlint import engine

    source = (
        "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.f = nn.Sequential(nn.Linear(4, 4), nn.Tanh())  # noqa: NN101\n\n"
        "    def forward(self, x, *, y=lambda z: z[1:2, ...]):\n"
        "        return f'{x!r:>{y}}' if x else [a async for a in x]\n"
    )
    assert engine._parse(source).deep_equals(libcst.parse_module(source))
